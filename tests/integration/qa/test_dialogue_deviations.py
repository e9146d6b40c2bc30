"""Veo says something else than the script: the simulator deviates per block, the real assembler captions what
was said and QA names each block with its verdict (emulators + simulator + agents under functions-framework).

One quick_social job of six blocks (the fastest preset; its dialogue mismatches warn): block 0 is spoken as
scripted, blocks 1-5 deviate. The evidence is independent of the code under test: the simulator's ledger says
which deviation each block got, and the deviation's words (faults.deviate) are what its clip says.
"""
from __future__ import annotations

import pytest

from infra.local.simulator.faults import EXTRA_LINES, OTHER_LANGUAGE_LINES, PARAPHRASES
from shared.assembly.subtitles import parse_srt
from shared.core.messages import AssemblyRequest, QaRequest
from shared.core.storage import read_json
from shared.core.topics import ASSEMBLY_REQUESTS, QA_REQUESTS
from shared.video.plan import VideoPlan
from tests.support import drive_video_step, make_job, words_of

pytestmark = [pytest.mark.timeout(900), pytest.mark.usefixtures("pull_mode")]

DEVIATIONS = {1: "speech_paraphrase", 2: "speech_partial", 3: "speech_other_language", 4: "speech_extra",
              5: "speech_dropped"}
EXPECTED = {1: "changed", 2: "partial", 3: "other_language", 4: "extra", 5: "dropped"}


@pytest.fixture(scope="module")
def job(pipeline, simulator, clients, tmp_path_factory):
    """The job made, assembled and checked; its document, script, SRT cues by block and the ledger."""
    video_id = make_job(clients, blocks=6, preset="quick_social")
    simulator.clear_faults()
    simulator.set_faults([{"kind": kind, "match": video_id, "block": block} for block, kind in DEVIATIONS.items()])
    try:
        codes = drive_video_step(pipeline, video_id)
    finally:
        simulator.clear_faults()
    assert all(code < 300 for code in codes), codes
    assert pipeline.deliver(ASSEMBLY_REQUESTS, AssemblyRequest(video_id=video_id)).status_code < 300
    assert pipeline.deliver(QA_REQUESTS, QaRequest(video_id=video_id)).status_code < 300
    doc = pipeline.doc(video_id)
    srt = pipeline.download(doc["srt_url"], tmp_path_factory.mktemp("dialogue") / "subs.srt").read_text()
    windows = VideoPlan.from_doc(doc["plan"]).windows()
    shown: dict[int, list[str]] = {k: [] for k in range(len(windows))}
    for cue in parse_srt(srt):
        block = max(k for k, (start, _) in enumerate(windows) if cue.start + 0.05 >= start)
        shown[block] += words_of(" ".join(cue.lines))
    ledger = [e for e in simulator.ledger() if video_id in (e.get("scene") or "")]
    return {"doc": doc, "script": read_json(clients.storage, doc["script_uri"]), "shown": shown, "ledger": ledger,
            "report": read_json(clients.storage, doc["qa_report_url"])}


def _overlap(shown: list[str], said: str) -> float:
    """Share of the words of `said` that the captions show."""
    wanted = words_of(said)
    return sum(1 for w in wanted if w in shown) / len(wanted)


def test_the_simulator_deviated_the_blocks_it_was_told_to(job):
    deviated = {e["block"] - 1: e.get("speech_deviation") for e in job["ledger"] if e["billed"]}
    assert deviated == {0: None, **DEVIATIONS}


def test_qa_names_each_deviated_block_with_its_verdict_and_the_preset_only_warns(job):
    doc, report = job["doc"], job["report"]
    issues = {i["block"]: i for i in report["dialogue_issues"]}
    assert {block: issue["verdict"] for block, issue in issues.items()} == EXPECTED
    assert issues[3]["language"] == "es"
    assert doc["dialogue_issues"] == report["dialogue_issues"]
    assert doc["qa"]["dialogue_issues"] == report["dialogue_issues"]
    assert doc["status"] == "completed", doc.get("error")  # quick_social: dialogue_mismatch = warn
    assert "dialogue_delivered" in report["warnings"] and "speech_script_wer" in report["warnings"]
    checks = {c["name"]: c for c in report["checks"]}
    assert checks["caption_speech_wer"]["passed"] is True, checks["caption_speech_wer"]


def test_captions_show_what_was_said_never_an_unspoken_line(job):
    script = {b["index"]: b["dialogue"] for b in job["script"]["blocks"]}
    shown = job["shown"]
    assert shown[0] == words_of(script[0]), "a line spoken as scripted is shown in the script's words"
    paraphrases = PARAPHRASES["en"]
    assert max(_overlap(shown[1], line) for line in paraphrases) >= 0.6, shown[1]
    said = (len(script[2].split()) + 1) // 2
    first_half, unsaid = words_of(" ".join(script[2].split()[:said])), words_of(" ".join(script[2].split()[said:]))
    # A cue may run on into the next block's speech (cues are given to the block they start in here).
    assert shown[2][:len(first_half)] == first_half, "the spoken part of a partial line is shown"
    assert not (set(unsaid) - set(first_half)) & set(shown[2]), ("never the unsaid part", shown[2])
    assert _overlap(shown[3], OTHER_LANGUAGE_LINES["es"]) >= 0.5, shown[3]
    assert shown[4][:len(words_of(script[4]))] == words_of(script[4])
    assert len(shown[4]) >= len(words_of(script[4])) + len(words_of(EXTRA_LINES["en"])) - 2, shown[4]
    assert shown[5] == [], "a dropped line is never captioned"
    for block in (1, 3, 5):
        assert not set(words_of(script[block])) - {"is", "this"} <= set(shown[block]), (block, shown[block])
