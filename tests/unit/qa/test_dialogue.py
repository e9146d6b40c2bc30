"""QA's dialogue checks: speech vs script, captions vs speech, a verdict per block, warn or block per preset."""
from __future__ import annotations

import pytest

from shared.assembly.alignment import SCRIPT_MATCH_TOLERANCE
from shared.assembly.transcribe import Detection, Relistened, Word
from shared.pricing.presets import PRESETS
from shared.qa.checks import SubtitleEvidence, dialogue_findings, judged_report
from shared.qa.measure import Measurements
from shared.qa.report import render_markdown
from shared.video.plan import single_chain

BLOCKS = [{"index": 0, "dialogue": "Welcome to the harbour."}, {"index": 1, "dialogue": "The storm is coming."},
          {"index": 2, "dialogue": "We sail at dawn."}]


def _words(text: str, start: float) -> list[Word]:
    return [Word(w, start + 0.4 * k, start + 0.4 * k + 0.35) for k, w in enumerate(text.split())]


def _srt(*cues: tuple[float, float, str]) -> str:
    def stamp(t: float) -> str:
        return f"00:00:{int(t):02d},{int(round(t % 1 * 1000)):03d}"
    return "\n".join(f"{n}\n{stamp(a)} --> {stamp(b)}\n{text}\n" for n, (a, b, text) in enumerate(cues, 1))


def _evidence(heard: list[Word], srt: str, **extra) -> SubtitleEvidence:
    return SubtitleEvidence(srt, " ".join(b["dialogue"] for b in BLOCKS), [(1.0, 3.0)], heard=heard, blocks=BLOCKS,
                            windows=single_chain(3).windows(), language="en", **extra)


def _checks(report: dict) -> dict[str, dict]:
    return {c["name"]: c for c in report["checks"]}


MEASURED = Measurements(format_name="mov,mp4", video_codec="h264", video_profile="High", audio_codec="aac",
                        width=1080, height=1920, avg_fps=24.0, real_fps=24.0, duration=22.0, video_duration=22.0,
                        audio_duration=22.0, video_bitrate_kbps=100.0, size_mb=1.0, faststart=True,
                        integrated_lufs=-14.0, true_peak_dbtp=-2.0, clipped_ratio=0.0, longest_silence=0.5)

SPOKEN = _words("Welcome to the harbour.", 1.0) + _words("The storm is coming.", 9.0) + _words("We sail at dawn.", 16.0)
HONEST_SRT = _srt((1.0, 2.8, "Welcome to the harbour."), (9.0, 10.8, "The storm is coming."),
                  (16.0, 17.8, "We sail at dawn."))


def test_every_line_delivered_and_captioned_passes() -> None:
    findings = dialogue_findings(_evidence(SPOKEN, HONEST_SRT))
    assert findings is not None and findings.issues() == []
    assert findings.speech_script_wer() == 0.0 and findings.worst_caption_error() == (0, 0.0)


def test_a_cue_running_across_a_block_boundary_counts_its_words_where_they_were_heard() -> None:
    """The stored SRT keeps whole cues: one holding the end of block 1's line and block 2's line gives each
    block its own words (assigned by the cue's start, block 1 would show 4 unspoken words and block 2 none)."""
    spoken = (_words("Welcome to the harbour.", 1.0) + _words("The storm is coming.", 12.6)
              + _words("We sail at dawn.", 15.2))
    srt = _srt((1.0, 2.8, "Welcome to the harbour."), (12.6, 16.6, "The storm is coming. We sail at dawn."))
    findings = dialogue_findings(_evidence(spoken, srt))
    assert findings is not None and findings.caption_errors == {0: 0.0, 1: 0.0, 2: 0.0}
    lying = _srt((1.0, 2.8, "Welcome to the harbour."), (12.6, 16.6, "The storm is coming. We sail at noon."))
    assert dialogue_findings(_evidence(spoken, lying)).caption_errors[2] > 0.0


def test_a_changed_line_is_named_and_blocks_a_brand_campaign() -> None:
    heard = SPOKEN[:4] + _words("Buy our new soap today.", 9.0) + SPOKEN[8:]
    srt = _srt((1.0, 2.8, "Welcome to the harbour."), (9.0, 10.8, "Buy our new soap today."),
               (16.0, 17.8, "We sail at dawn."))
    report = judged_report(MEASURED, PRESETS["brand_campaign"], _evidence(heard, srt))
    checks = _checks(report)
    assert report["dialogue_issues"] == [{"block": 1, "verdict": "changed", "scripted": "The storm is coming.",
                                          "heard": "Buy our new soap today."}]
    assert checks["dialogue_delivered"]["passed"] is False and "dialogue_delivered" in report["blocking_failures"]
    assert checks["speech_script_wer"]["measured"] > SCRIPT_MATCH_TOLERANCE["en"]
    assert checks["caption_speech_wer"]["passed"] is True  # the captions say what was heard
    quick = judged_report(MEASURED, PRESETS["quick_social"], _evidence(heard, srt))
    assert "dialogue_delivered" in quick["warnings"] and "dialogue_delivered" not in quick["blocking_failures"]
    assert "| 1 | **changed** | The storm is coming. | Buy our new soap today. |" in render_markdown(report)


def test_captions_showing_an_unspoken_line_fail() -> None:
    heard = SPOKEN[:4] + SPOKEN[8:]  # block 1 said nothing, yet its line is on screen
    report = judged_report(MEASURED, PRESETS["brand_campaign"], _evidence(heard, HONEST_SRT))
    checks = _checks(report)
    assert checks["caption_speech_wer"]["passed"] is False
    assert checks["caption_speech_wer"]["measured"] == {"worst": 1.0, "block": 1}
    assert report["dialogue_issues"][0]["verdict"] == "dropped"


def test_other_language_comes_from_the_assemblers_detection() -> None:
    heard = SPOKEN[:4] + _words("Oil Marissa and Kielo", 9.0) + SPOKEN[8:]
    spanish = {1: Relistened("es", 0.8, _words("Hoy el mar está tranquilo.", 9.0), {"es": 0.8, "en": 0.05})}
    srt = _srt((1.0, 2.8, "Welcome to the harbour."), (9.0, 10.8, "Hoy el mar está tranquilo."),
               (16.0, 17.8, "We sail at dawn."))
    findings = dialogue_findings(_evidence(heard, srt, other_languages=spanish))
    assert findings is not None
    [issue] = findings.issues()
    assert issue["verdict"] == "other_language" and issue["language"] == "es"
    assert findings.caption_errors[1] == pytest.approx(0.0)


def test_without_a_transcript_the_dialogue_checks_fail() -> None:
    evidence = SubtitleEvidence(HONEST_SRT, "x", [(1.0, 3.0)])
    checks = _checks(judged_report(MEASURED, PRESETS["premium_spot"], evidence))
    assert all(checks[name]["passed"] is False for name in ("caption_speech_wer", "speech_script_wer",
                                                             "dialogue_delivered"))


def test_speech_whisper_translated_into_the_script_is_named_from_the_stored_detection() -> None:
    """Block 1 was Spanish; Whisper, told English, wrote the English line: the detection says otherwise."""
    detections = [Detection(8.0, 15.0, "es", 0.99, {"es": 0.99, "en": 0.0}),
                  Detection(0.0, 8.0, "en", 0.95, {"en": 0.95, "es": 0.0})]
    said = {1: Relistened("es", 0.99, _words("Se acerca la tormenta.", 9.0), {"es": 0.99, "en": 0.0})}
    srt = _srt((1.0, 2.8, "Welcome to the harbour."), (9.0, 10.8, "Se acerca la tormenta."),
               (16.0, 17.8, "We sail at dawn."))
    findings = dialogue_findings(_evidence(SPOKEN, srt, other_languages=said, detections=detections))
    assert findings is not None
    assert [(i["block"], i["verdict"], i["language"]) for i in findings.issues()] == [(1, "other_language", "es")]
    assert findings.caption_errors[1] == 0.0
