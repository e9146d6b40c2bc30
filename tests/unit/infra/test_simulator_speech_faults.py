"""The simulator's speech deviations: the rule format, per-block matching, and the words a deviating Veo says."""
from __future__ import annotations

import pytest

from infra.local.simulator.faults import (
    EXTRA_LINES,
    OTHER_LANGUAGE_LINES,
    PARAPHRASES,
    SPEECH_KINDS,
    FaultBook,
    FaultRule,
    deviate,
)
from infra.local.simulator.protocol import ApiError
from infra.local.simulator.veo import VeoRequest, VeoSimulator

LINE = "This is part number two."


def test_each_deviation_says_something_else_than_the_line() -> None:
    assert deviate("speech_dropped", LINE, "en") == ("", "en")
    assert deviate("speech_partial", LINE, "en") == ("This is part", "en")
    assert deviate("speech_paraphrase", LINE, "en", seed=1)[0] in PARAPHRASES["en"]
    assert deviate("speech_other_language", LINE, "en") == (OTHER_LANGUAGE_LINES["es"], "es")
    assert deviate("speech_other_language", "Hola.", "es") == (OTHER_LANGUAGE_LINES["en"], "en")
    assert deviate("speech_extra", LINE, "fr") == (f"{LINE} {EXTRA_LINES['fr']}", "fr")
    assert deviate("speech_extra", "", "en") == (EXTRA_LINES["en"], "en")  # speech where nothing was scripted


def test_speech_rules_target_one_block_and_never_fire_as_failures() -> None:
    book = FaultBook()
    book.add([FaultRule.from_json({"kind": "speech_dropped", "match": "job-1", "block": 2}),
              FaultRule.from_json({"kind": "500", "match": "job-1"})])
    assert book.take("Scene: job-1", speech=True, block=1) is None
    failure = book.take("Scene: job-1", block=2)
    assert failure is not None and failure.kind == "500"  # a speech rule is not a failure
    speech = book.take("Scene: job-1", speech=True, block=2)
    assert speech is not None and speech.kind == "speech_dropped"
    assert book.take("Scene: job-1", speech=True, block=2) is None  # used up


@pytest.mark.parametrize("raw", [{"kind": "speech_mumble"}, {"kind": "speech_partial", "block": "two"},
                                 {"kind": "speech_partial", "method": "generateContent"}])
def test_malformed_speech_rules_are_refused(raw) -> None:
    with pytest.raises(ApiError) as refused:
        FaultRule.from_json(raw)
    assert refused.value.code == 400


def test_every_speech_kind_is_a_known_fault_kind() -> None:
    assert {FaultRule.from_json({"kind": kind}).kind for kind in SPEECH_KINDS} == set(SPEECH_KINDS)


def test_the_seeded_rate_deviates_reproducibly(tmp_path) -> None:
    prompts = [f"Scene: harbour shot {k}\nDialogue: \"{LINE}\"\nBlock: {k + 1} of 9" for k in range(9)]
    always = VeoSimulator(tmp_path / "a", speech_deviation_rate=1.0, speech_deviation_seed="7")
    drawn = [always._speech_deviation(VeoRequest(p, 8, None, None), "veo") for p in prompts]
    assert all(kind in SPEECH_KINDS for kind in drawn) and len(set(drawn)) > 1
    again = VeoSimulator(tmp_path / "b", speech_deviation_rate=1.0, speech_deviation_seed="7")
    assert [again._speech_deviation(VeoRequest(p, 8, None, None), "veo") for p in prompts] == drawn
    never = VeoSimulator(tmp_path / "c")
    assert {never._speech_deviation(VeoRequest(p, 8, None, None), "veo") for p in prompts} == {None}
    for sim in (always, again, never):
        sim.shutdown()
