"""The monitor's backoff plan (pure logic; the emulator tests cover the transactions)."""
import datetime as dt

from shared.core.status import Status
from shared.ops.monitor import BACKOFF_SECONDS, _retry_plan

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)


def _after(plan):
    return (plan["next_attempt_at"] - NOW).total_seconds()


def test_backoff_is_1_3_10_minutes_then_exhausted():
    doc = {"status": "assembling"}
    delays, exhausted = [], []
    for _ in range(4):
        plan = _retry_plan(doc, Status.ASSEMBLING, NOW, max_retries=3)
        delays.append(_after(plan))
        exhausted.append(plan["monitor"]["exhausted"])
        doc = {**doc, **plan}
    assert delays[:3] == list(BACKOFF_SECONDS) == [60, 180, 600]
    assert exhausted == [False, False, False, True]
    assert len(doc["monitor"]["reasons"]) == 4


def test_attempts_restart_when_the_job_moved_to_another_step():
    doc = {"monitor": {"status": "video_generating", "attempts": 3, "reasons": []}}
    assert _retry_plan(doc, Status.ASSEMBLING, NOW, max_retries=3)["monitor"]["attempts"] == 1
