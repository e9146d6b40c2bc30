"""agent-qa's step: check the delivered file against its preset, store the report, complete or hold the job.

A passing report completes the job and writes its receipt. A blocking failure sets `qa_failed` and
makes the job due for the monitor at once, which decides on a bounded remedial step
(shared.ops.monitor); nothing is delivered silently.
"""
from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from shared.assembly.alignment import Verdict
from shared.assembly.transcribe import (
    SPEECH_PAD_SECONDS,
    Detection,
    Relistened,
    Word,
    load_audio,
    speech_spans,
    transcribe,
)
from shared.core import layout, log, status
from shared.core.clients import Clients
from shared.core.errors import ErrorCode, IllegalTransition, PermanentError
from shared.core.job import require_job
from shared.core.messages import QaRequest
from shared.core.runner import COMPLETED
from shared.core.status import Status
from shared.core.storage import download_file, gs_uri, read_json, upload_bytes, upload_json
from shared.media.probe import probe
from shared.pricing.presets import Preset, preset_from_doc
from shared.pricing.receipts import build_receipt
from shared.qa.checks import SubtitleEvidence, check_file, judged_report
from shared.qa.measure import measure_streamed
from shared.qa.report import render_markdown
from shared.video.plan import script_windows

Span = tuple[float, float]


def check_delivery(clients: Clients, message: QaRequest) -> str:
    """Check a job once it is assembled; `completed` only after a passing report is stored."""
    video_id = message.video_id
    job = require_job(clients.db, video_id)
    doc, current = job.to_doc(), job.status
    if current == Status.QA_PASSED:  # an earlier invocation stopped between the two transitions
        return _complete(clients, video_id)
    if current != Status.ASSEMBLED:
        log.info("duplicate message: job not waiting for QA", current=current.value)
        return "duplicate"
    report = _run_checks(clients, doc)
    fields = {"qa": summarise(report), "dialogue_issues": report.get("dialogue_issues") or [],
              **_store_report(clients, video_id, report)}
    try:
        if not report["passed"]:
            reason = "QA failed: " + ", ".join(report["blocking_failures"])
            status.transition(clients.db, video_id, Status.QA_FAILED, {
                **fields, "next_attempt_at": status.utcnow(),  # the monitor's next pass takes it
                "error": {"code": ErrorCode.QA_FAILED, "message": reason, "step": "qa"}})
            return "qa_failed"
        status.transition(clients.db, video_id, Status.QA_PASSED, {**fields, "error": None})
    except IllegalTransition:
        return "duplicate"
    return _complete(clients, video_id)


def summarise(report: dict[str, Any]) -> dict[str, Any]:
    """What the status document shows of a report: verdict, failures and each failed check's numbers."""
    failed = {c["name"]: {"measured": c["measured"], "threshold": c["threshold"], "blocking": c["blocking"]}
              for c in report["checks"] if not c["passed"]}
    return {"passed": report["passed"], "blocking_failures": report["blocking_failures"],
            "warnings": report["warnings"], "failed_checks": failed, "checks_run": len(report["checks"]),
            "preset": report.get("preset"), "dialogue_issues": report.get("dialogue_issues") or []}


def _store_report(clients: Clients, video_id: str, report: dict[str, Any]) -> dict[str, str]:
    """Upload the JSON report and its Markdown rendering; their URLs."""
    bucket = clients.settings.bucket
    json_uri = upload_json(clients.storage, gs_uri(bucket, layout.qa_report_path(video_id, "json")), report)
    md_uri = upload_bytes(clients.storage, gs_uri(bucket, layout.qa_report_path(video_id, "md")),
                          render_markdown(report).encode(), "text/markdown; charset=utf-8")
    return {"qa_report_url": json_uri, "qa_report_md_url": md_uri}


def _run_checks(clients: Clients, doc: dict[str, Any]) -> dict[str, Any]:
    preset = preset_from_doc(doc)
    with tempfile.TemporaryDirectory(prefix="qa-") as tmp:
        work = Path(tmp)
        local = download_file(clients.storage, doc["final_video_url"], work / "final.mp4")
        evidence = subtitle_evidence(clients, doc, work)
        with log.step_timer("qa_checks", video_id=doc["video_id"], preset=preset.name):
            report = check_streamed(local, preset, evidence, doc["picture"]) if doc.get("picture") \
                else check_file(local, preset, evidence)
    return {"video_id": doc["video_id"], "file": doc["final_video_url"], **report}


def check_streamed(path: Path, preset: Preset, evidence: SubtitleEvidence | None,
                   picture: dict[str, Any]) -> dict[str, Any]:
    """`check_file` for a file the streaming finish joined from segments: its picture is not decoded again."""
    return judged_report(measure_streamed(path, picture), preset, evidence)


def subtitle_evidence(clients: Clients, doc: dict[str, Any], work: Path) -> SubtitleEvidence | None:
    """The delivered SRT, the script's dialogue, and the speech spans of the Veo audio (before music)."""
    if not doc.get("srt_url"):
        return None
    srt = download_file(clients.storage, doc["srt_url"], work / "subtitles.srt").read_text(encoding="utf-8")
    script = read_json(clients.storage, doc["script_uri"])
    dialogue = " ".join(str(b.get("dialogue") or "") for b in script.get("blocks") or [])
    sources = doc.get("veo_segment_uris") or [doc["veo_video_uri"]]
    paths = [download_file(clients.storage, uri, work / f"veo-{i}.mp4") for i, uri in enumerate(sources)]
    language = str(script.get("language") or "en")
    heard, stored = _heard(clients, doc, paths, language)
    return SubtitleEvidence(srt, dialogue, speech_spans_of(paths), heard=heard, blocks=script.get("blocks") or [],
                            windows=script_windows({**script, "plan": doc.get("plan")}), language=language,
                            other_languages={int(b["block"]): _relistened(b) for b in stored
                                             if b.get("verdict") == Verdict.OTHER_LANGUAGE},
                            detections=[d for d in map(_detection, stored) if d is not None])


def _heard(clients: Clients, doc: dict[str, Any], paths: list[Path],
           language: str) -> tuple[list[Word], list[dict[str, Any]]]:
    """What Whisper heard in the Veo audio: the raw transcript the assembler stored with its dialogue report
    (and the report's blocks: the language detected in each), else transcribed here."""
    try:
        stored = read_json(clients.storage, gs_uri(clients.settings.bucket, layout.dialogue_path(doc["video_id"])))
    except PermanentError:
        stored = None
    if stored and stored.get("language") == language:
        words = [Word(str(t), float(s), float(e)) for t, s, e in stored.get("words") or []]
        return words, list(stored.get("blocks") or [])
    log.info("no dialogue report stored: transcribing the Veo audio", video_id=doc["video_id"])
    words, offset = [], 0.0
    for path in paths:
        words += [replace(w, start=w.start + offset, end=w.end + offset) for w in transcribe(path, language).words]
        offset += probe(path).duration
    return words, []


def _relistened(block: dict[str, Any]) -> Relistened:
    """A block the assembler heard in another language, as the alignment takes it (text, not timings)."""
    start = (block.get("window") or [0.0])[0]
    at = float(start or 0.0)
    language, chance = str(block.get("language") or ""), float(block.get("language_probability") or 0.0)
    return Relistened(language, chance, [Word(text, at, at) for text in str(block.get("heard") or "").split()],
                      dict(block.get("language_probabilities") or {language: chance}))


def _detection(block: dict[str, Any]) -> Detection | None:
    """The language detection the assembler made of a block's speech, over the block's window."""
    chances = block.get("language_probabilities")
    if not chances:
        return None
    start, end = (list(block.get("window") or []) + [None, None])[:2]
    best = max(chances, key=lambda code: chances[code])
    return Detection(float("-inf") if start is None else float(start), float("inf") if end is None else float(end),
                     best, float(chances[best]), {str(k): float(v) for k, v in chances.items()})


def speech_spans_of(paths: list[Path]) -> list[Span]:
    """Silero VAD speech spans of consecutive source files, on one timeline, without the VAD's padding: the pad
    is the quiet before and after a line, and counting it as speech would charge every cue for it (0.2 s of a
    2.5 s line is 7 % of its coverage)."""
    spans: list[Span] = []
    offset = 0.0
    for path in paths:
        spans += [(offset + s + SPEECH_PAD_SECONDS, offset + e - SPEECH_PAD_SECONDS)
                  for s, e in speech_spans(load_audio(path)) if e - s > 2 * SPEECH_PAD_SECONDS]
        offset += probe(path).duration
    return spans


def _receipt(doc: dict[str, Any]) -> dict[str, Any]:
    """The job's receipt; it says when the script came from the cache (no Gemini call was billed)."""
    receipt = build_receipt(doc, status.utcnow())
    if (doc.get("script_cache") or {}).get("hit"):
        receipt["script_cache_hit"] = True
        receipt["reasons"] = [*receipt.get("reasons", []), "the script came from the cache: Gemini was not called"]
    return receipt


def _complete(clients: Clients, video_id: str) -> str:
    try:
        status.transition(clients.db, video_id, Status.COMPLETED,
                          lambda doc: {"next_attempt_at": None, "receipt": _receipt(doc)})
    except IllegalTransition:
        return "duplicate"
    return COMPLETED

