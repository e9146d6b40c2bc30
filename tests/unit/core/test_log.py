"""JSON log lines: the step_finished line always carries a numeric cost (the cost metric reads it)."""
import json

from shared.core import log


def test_step_finished_carries_a_numeric_cost_even_when_the_step_adds_none(capsys):
    with log.step_timer("qa"):
        pass
    with log.step_timer("video") as timing:
        timing["cost_usd"] = "1.25"
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]
    finished = [line for line in lines if line.get("event") == "step_finished"]
    assert [line["cost_usd"] for line in finished] == [0.0, 1.25]
    assert all(isinstance(line["cost_usd"], float) for line in finished)
