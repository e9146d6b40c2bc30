"""Transcripts made block by block while Veo generates, so the finish does not wait for Whisper.

When a Veo block is done, the video agent announces it (BlockReady on the assembly topic); the
assembler transcribes that block's time window of the block's clip and stores the words, in the
final video's time, at transcripts/{video_id}/block-NN.json. The finish merges what is stored and
transcribes only the windows still missing: an announcement that was lost, failed or is still
running costs time, never correctness.

Windows are decoded with the blocks before them (context) and a second after, and a word is kept
by the window its middle falls in, so a word cut by a window edge is heard whole by the window that
owns it, and only once.
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from shared.assembly.transcribe import (
    SAMPLE_RATE,
    Detection,
    Transcript,
    Word,
    detect_span,
    load_audio,
    transcribe_audio,
)
from shared.core import layout, log, status
from shared.core.clients import Clients
from shared.core.messages import BlockReady
from shared.core.status import Status
from shared.core.storage import gs_uri, read_json, read_json_under, upload_json
from shared.video import veo
from shared.video.plan import VideoPlan

WINDOW_PAD_SECONDS = 1.0
# Whisper hears a short window much worse than the same words inside a longer one (measured with
# espeak lines under music: most lines garbled alone, right with the three blocks before them), so a
# window is decoded with this much of what precedes it, like a 30 s window of a whole-video pass.
CONTEXT_SECONDS = 21.0
_AHEAD_OF_ASSEMBLY = frozenset({Status.VIDEO_GENERATING.value, Status.VIDEO_GENERATED.value})


@dataclass(frozen=True)
class Window:
    """Block `block`'s seconds [start, end) in the final video; `offset` is where its segment starts."""

    block: int
    start: float
    end: float
    offset: float

    def holds(self, word: Word) -> bool:
        return self.start <= (word.start + word.end) / 2 < self.end


def windows_of_plan(plan: dict[str, Any]) -> list[Window]:
    """Every block's window, from the plan stored on the job; the first starts and the last runs without end."""
    stored = VideoPlan.from_doc(plan)
    offsets = {s.index: float(sum(p.seconds for p in stored.segments[:s.index])) for s in stored.segments}
    out = [Window(b.index, start, end, offsets[b.segment])
           for b, (start, end) in zip(stored.blocks, stored.windows())]
    if out:
        out[0] = Window(0, float("-inf"), out[0].end, 0.0)
        last = out[-1]
        out[-1] = Window(last.block, last.start, float("inf"), last.offset)
    return out


def transcribe_span(audio: Any, start: float, end: float, language: str, offset: float = 0.0) -> Transcript:
    """Words whose middle lies in [start, end) of `audio` (times relative to `audio`), shifted by `offset`."""
    first = max(0.0, start - CONTEXT_SECONDS)
    last = len(audio) / SAMPLE_RATE if end == float("inf") else end + WINDOW_PAD_SECONDS
    heard = transcribe_audio(audio[int(first * SAMPLE_RATE):int(last * SAMPLE_RATE)], language,
                             offset=first + offset)
    keep = Window(-1, start + offset, end + offset, offset)
    spans = [(max(a, keep.start), min(b, keep.end)) for a, b in heard.speech_spans if b > keep.start and a < keep.end]
    return Transcript(words=[w for w in heard.words if keep.holds(w)], speech_spans=spans, language=language)


def merge(parts: list[Transcript], language: str) -> Transcript:
    """One transcript of disjoint windows, in time order."""
    words = sorted((w for part in parts for w in part.words), key=lambda w: w.start)
    spans = sorted(span for part in parts for span in part.speech_spans)
    detections = sorted((d for part in parts for d in part.detections), key=lambda d: d.start)
    return Transcript(words=words, speech_spans=spans, language=language, detections=detections)


def with_detection(heard: Transcript, audio: Any, window: Window, offset: float = 0.0) -> Transcript:
    """`heard` (one window's transcript) with the language detection of the window's speech: every block is
    checked, since Whisper told one language translates speech in another (shared.assembly.alignment).
    Window times are in the final video; `offset` is where `audio` starts in it."""
    if not heard.words:
        return heard
    detected = detect_span(audio, max(0.0, window.start - offset), window.end - offset, offset=offset)
    return replace(heard, detections=[detected] if detected else [])


def hear_window(audio: Any, window: Window, language: str) -> Transcript:
    """One block heard on its own as it arrives (`audio` is its Veo segment's): its words, then its language."""
    heard = transcribe_span(audio, max(0.0, window.start - window.offset), window.end - window.offset, language,
                            offset=window.offset)
    return with_detection(heard, audio, window, offset=window.offset)


def complete(stored: dict[int, Transcript], windows: list[Window], audio: Any, language: str) -> Transcript:
    """The whole video's transcript: stored blocks as they are, each run of missing blocks heard once."""
    parts = list(stored.values())
    missing = [w for w in windows if w.block not in stored]
    runs: list[list[Window]] = []
    for window in missing:
        if runs and runs[-1][-1].block == window.block - 1:
            runs[-1].append(window)
        else:
            runs.append([window])
    for run in runs:
        heard = transcribe_span(audio, max(0.0, run[0].start), run[-1].end, language)
        alone = [Transcript(words=[w for w in heard.words if window.holds(w)], language=language) for window in run]
        parts.append(replace(heard, detections=[d for window, part in zip(run, alone)
                                                for d in with_detection(part, audio, window).detections]))
    return merge(parts, language)


# --- storage ---------------------------------------------------------------------------------------

def _prefix(clients: Clients, video_id: str) -> str:
    return gs_uri(clients.settings.bucket, layout.job_folder(layout.TRANSCRIPTS, video_id))


def block_uri(clients: Clients, video_id: str, block: int) -> str:
    return gs_uri(clients.settings.bucket, layout.transcript_path(video_id, block))


def _to_json(block: int, transcript: Transcript) -> dict[str, Any]:
    return {"block": block, "language": transcript.language,
            "words": [[w.text, w.start, w.end, w.probability] for w in transcript.words],
            "speech_spans": [list(span) for span in transcript.speech_spans],
            "detections": [{"start": d.start, "end": d.end, "language": d.language, "probability": d.probability,
                            "probabilities": d.probabilities} for d in transcript.detections]}


def _from_json(value: dict[str, Any]) -> Transcript:
    return Transcript(words=[Word(str(t), float(s), float(e), float(p)) for t, s, e, p in value["words"]],
                      speech_spans=[(float(a), float(b)) for a, b in value["speech_spans"]],
                      language=str(value["language"]),
                      detections=[Detection(float(d["start"]), float(d["end"]), str(d["language"]),
                                            float(d["probability"]), dict(d.get("probabilities") or {}))
                                  for d in value.get("detections") or []])


def stored_blocks(clients: Clients, video_id: str) -> dict[int, Transcript]:
    """The block transcripts stored for a job so far, by block index."""
    return {int(value["block"]): _from_json(value)
            for value in read_json_under(clients.storage, _prefix(clients, video_id)).values()
            if isinstance(value, dict) and "block" in value}  # the folder also holds the dialogue report


def job_transcript(clients: Clients, doc: dict[str, Any], veo_video: Path, language: str,
                   report: dict[str, Any] | None = None) -> Transcript:
    """The finish's transcript of a job: stored blocks plus what is missing, heard from `veo_video`.
    `report` receives how many stored blocks were reused."""
    stored = stored_blocks(clients, doc["video_id"])
    windows = windows_of_plan(doc.get("plan") or {})
    stored = {block: t for block, t in stored.items() if any(w.block == block for w in windows)}
    log.info("block transcripts reused", reused=len(stored), blocks=len(windows))
    if report is not None:
        report["transcript_blocks_reused"] = len(stored)
    if not windows:
        windows = [Window(0, float("-inf"), float("inf"), 0.0)]
    return replace(complete(stored, windows, load_audio(veo_video), language), source=veo_video)


# --- the assembler's end (the video step announces each block: shared.video.step) ---------------------

def transcribe_block(clients: Clients, message: BlockReady) -> str:
    """Transcribe one finished block of a job into GCS; idempotent, and never fails or retries the job:
    whatever goes wrong here, the finish transcribes the block itself."""
    try:
        return _transcribe_block(clients, message)
    except Exception as exc:  # noqa: BLE001 - best effort by design (see above)
        log.warning("block not transcribed ahead; the finish will", block=message.block, error=str(exc))
        return "skipped"


def _transcribe_block(clients: Clients, message: BlockReady) -> str:
    uri = block_uri(clients, message.video_id, message.block)
    doc = status.read(clients.db, message.video_id) or {}
    block = (doc.get("blocks") or {}).get(str(message.block)) or {}
    windows = {w.block: w for w in windows_of_plan(doc.get("plan") or {})}
    if message.block in stored_blocks(clients, message.video_id):
        return "duplicate"
    if block.get("state") != "done" or message.block not in windows or doc.get("status") not in _AHEAD_OF_ASSEMBLY:
        return "skipped"
    window = windows[message.block]
    language = str(read_json(clients.storage, doc["script_uri"]).get("language") or "en")
    with tempfile.TemporaryDirectory(prefix="block-") as tmp:
        clip = veo.download(clients.genai, clients.storage, block["video_uri"], Path(tmp) / "block.mp4")
        audio = load_audio(clip)
        heard = hear_window(audio, window, language)
    upload_json(clients.storage, uri, _to_json(message.block, heard))
    log.info("block transcribed", block=message.block, words=len(heard.words))
    return "transcribed"
