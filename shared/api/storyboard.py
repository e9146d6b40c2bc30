"""Review before paying: a job created with `review: true` stops in `awaiting_approval` after its script.

The storyboard preview is rendered from the script with no Veo call: one short clip per block from the
same renderer as the local Veo simulator (shared.media.render: the block's scene text on a procedural picture),
its dialogue spoken by Gemini's TTS model (`speak_dialogue`, the preview's only paid call: Settings.tts_model,
contract T1-T8; never the machine's espeak-ng, which the runtime image lacks), joined without re-encoding, stored
at `storyboards/{id}/r{revision}.mp4` and rendered again only after an edit. The speech's tokens go on the job's
ledger (`usage.speech_*`, priced in `usage.cost_usd.speech`) and on the step's `step_finished` line. The user may
edit blocks (scene text and dialogue, validated like Gemini's output), then approve (Veo starts) or cancel.
"""
from __future__ import annotations

import re
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.core import lease, log, status
from shared.core.clients import Clients
from shared.core.errors import ErrorCode, GenerationError, IllegalTransition, InvalidInputError
from shared.core.messages import VideoRequest
from shared.core.pubsub import publish
from shared.core.status import Status
from shared.core.storage import gs_uri, read_json, upload_file, upload_json
from shared.core.validation import parse_body
from shared.core.vocabulary import MAX_DIALOGUE_WORDS
from shared.media.ffmpeg import concat_copy
from shared.media.probe import duration as video_duration
from shared.media.render import render_clip, seed_for
from shared.media.speech import SpokenLine, clean_speech_text, request_speech
from shared.pricing import spend
from shared.pricing.costs import speech_usd, with_speech_tokens

BLOCK_SECONDS = 5.0
RENDER_WORKERS = 2  # ffmpeg processes at once (x264 already uses every core)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
AWAITING = frozenset({Status.AWAITING_APPROVAL})


class BlockEdit(BaseModel):
    """New text for one block; omitted fields keep their value."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    index: int = Field(ge=0)
    visual: str | None = Field(default=None, min_length=3, max_length=600)
    dialogue: str | None = Field(default=None, max_length=200)

    @field_validator("visual", "dialogue")
    @classmethod
    def _printable(cls, value: str | None) -> str | None:
        if value is not None and _CONTROL.search(value):
            raise ValueError("contains control characters")
        return value

    @field_validator("dialogue")
    @classmethod
    def _short_enough(cls, value: str | None) -> str | None:
        if value is not None and len(value.split()) > MAX_DIALOGUE_WORDS:
            raise ValueError(f"at most {MAX_DIALOGUE_WORDS} words per block")
        return value


class ScriptEdit(BaseModel):
    """PATCH /videos/{id}/script."""

    model_config = ConfigDict(extra="forbid")

    blocks: list[BlockEdit] = Field(min_length=1, max_length=40)


def apply_edits(script: dict[str, Any], body: Any) -> dict[str, Any]:
    """The script with the edits applied; InvalidInputError for an unknown or repeated block, or no speech."""
    edit = parse_body(ScriptEdit, body)
    blocks = [dict(b) for b in script["blocks"]]
    seen: set[int] = set()
    for change in edit.blocks:
        if change.index >= len(blocks) or change.index in seen:
            raise InvalidInputError(f"blocks: no block {change.index} (or edited twice)", code=ErrorCode.INVALID_BLOCKS,
                                    field="blocks")
        seen.add(change.index)
        blocks[change.index].update(change.model_dump(exclude_none=True, exclude={"index"}))
    if not any(str(b.get("dialogue") or "").strip() for b in blocks):
        raise InvalidInputError("blocks: at least one block must have dialogue", code=ErrorCode.INVALID_BLOCKS,
                                field="blocks")
    return {**script, "blocks": blocks}


def edit_script(clients: Clients, doc: dict[str, Any], body: Any) -> dict[str, Any]:
    """Validate and store edited blocks while the job awaits approval; the new revision."""
    script = apply_edits(read_json(clients.storage, doc["script_uri"]), body)
    video_id = doc["video_id"]

    def bump(current: dict[str, Any]) -> dict[str, Any]:
        return {"script_revision": int(current.get("script_revision") or 0) + 1}

    try:
        updated = status.update_in_status(clients.db, video_id, AWAITING, bump)
    except IllegalTransition as exc:
        raise InvalidInputError("the script can only be edited while the video awaits approval",
                                code=ErrorCode.NOT_AWAITING_APPROVAL) from exc
    upload_json(clients.storage, doc["script_uri"], script)
    log.info("script edited", video_id=video_id, revision=updated["script_revision"])
    return {"video_id": video_id, "revision": updated["script_revision"], "blocks": script["blocks"]}


def speak_dialogue(clients: Clients, text: str, language: str, out_wav: Path) -> SpokenLine:
    """One block's dialogue spoken by Gemini's TTS model into `out_wav`: the storyboard's one paid call."""
    settings = clients.settings
    return request_speech(clients.tts, model=settings.tts_model, voice=settings.tts_voice, text=text,
                          language=language, out_wav=out_wav)


def _render_block(clients: Clients, block: dict[str, Any], language: str, video_id: str,
                  work: Path) -> tuple[Path, SpokenLine | None]:
    clip, dialogue = work / f"b{block['index']}.mp4", block.get("dialogue") or ""
    spoken, speech_wav = None, None
    if clean_speech_text(dialogue):
        speech_wav = work / f"b{block['index']}.wav"
        spoken = speak_dialogue(clients, dialogue, language, speech_wav)
    render_clip(clip, scene_text=block["visual"], dialogue=dialogue, language=language, seconds=BLOCK_SECONDS,
                seed=seed_for(video_id, str(block["index"])), speech_wav=speech_wav)
    return clip, spoken


def render_preview(clients: Clients, script: dict[str, Any], video_id: str,
                   out: Path) -> tuple[list[dict[str, Any]], list[SpokenLine]]:
    """Render the storyboard MP4 of a script (two blocks at a time); each block's time span in it, and the
    speech calls it made."""
    blocks = script["blocks"]
    with tempfile.TemporaryDirectory(prefix="storyboard-") as tmp, ThreadPoolExecutor(RENDER_WORKERS) as pool:
        work = Path(tmp)
        rendered = list(pool.map(lambda b: _render_block(clients, b, script["language"], video_id, work), blocks))
        parts = [(clip, video_duration(clip)) for clip, _ in rendered]
        concat_copy(parts, out, work, failure=GenerationError)
    spans, start = [], 0.0
    for block, (_, seconds) in zip(blocks, parts):
        spans.append({"index": block["index"], "start": round(start, 3), "end": round(start + seconds, 3),
                      "visual": block["visual"], "dialogue": block.get("dialogue") or ""})
        start += seconds
    return spans, [spoken for _, spoken in rendered if spoken is not None]


def storyboard(clients: Clients, doc: dict[str, Any]) -> dict[str, Any]:
    """The current revision's storyboard (rendered now if missing) and the job's cost estimate."""
    video_id, revision = doc["video_id"], int(doc.get("script_revision") or 0)
    stored = doc.get("storyboard") or {}
    if stored.get("revision") != revision or not stored.get("uri"):
        script = read_json(clients.storage, doc["script_uri"])
        lines = [b.get("dialogue") or "" for b in script["blocks"] if clean_speech_text(b.get("dialogue") or "")]
        spend.guard(doc, sum(spend.speech_call_usd(line) for line in lines), "the storyboard's speech")
        with tempfile.TemporaryDirectory(prefix="storyboard-out-") as tmp:
            local = Path(tmp) / "storyboard.mp4"
            with log.step_timer("storyboard", video_id=video_id, blocks=len(script["blocks"])) as step:
                spans, spoken = render_preview(clients, script, video_id, local)
                step["cost_usd"] = speech_usd(sum(s.prompt_tokens for s in spoken),
                                              sum(s.output_tokens for s in spoken))
                step["speech_calls"] = len(spoken)
            uri = upload_file(clients.storage, gs_uri(clients.settings.bucket,
                                                      f"storyboards/{video_id}/r{revision}.mp4"), local, "video/mp4")
        stored = {"revision": revision, "uri": uri, "blocks": spans, "rendered_at": status.utcnow()}
        _record(clients, video_id, stored, spoken)
    return {"video_id": video_id, "status": doc["status"], "revision": revision, "uri": stored["uri"],
            "blocks": stored["blocks"], "estimate": doc.get("estimate"), "preset": doc.get("preset")}


def _record(clients: Clients, video_id: str, stored: dict[str, Any], spoken: list[SpokenLine]) -> None:
    """Bill the speech on the job's ledger in any status; keep the preview only while the job awaits approval
    (approved or cancelled meanwhile: the preview is still shown, not stored)."""
    def update(doc: dict[str, Any]) -> dict[str, Any]:
        usage = with_speech_tokens(doc.get("usage"), sum(s.prompt_tokens for s in spoken),
                                   sum(s.output_tokens for s in spoken), len(spoken))
        return {"usage": usage, **({"storyboard": stored} if doc.get("status") in AWAITING else {})}

    status.update_in_status(clients.db, video_id, frozenset(Status), update)


def approve(clients: Clients, video_id: str) -> dict[str, Any]:
    """Start Veo for a job awaiting approval (script_ready, then the video step is published)."""
    try:
        status.transition(clients.db, video_id, Status.SCRIPT_READY,
                          {"next_attempt_at": lease.after(clients.settings.stuck_after_seconds),
                           "approved_at": status.utcnow()}, allowed_from=AWAITING)
    except IllegalTransition as exc:
        raise InvalidInputError("only a video awaiting approval can be approved",
                                code=ErrorCode.NOT_AWAITING_APPROVAL) from exc
    publish(clients.publisher, clients.settings, VideoRequest(video_id=video_id))
    return {"video_id": video_id, "status": Status.SCRIPT_READY.value}


def cancel(clients: Clients, video_id: str) -> dict[str, Any]:
    """Cancel a job awaiting approval; nothing was paid to Veo."""
    try:
        status.transition(clients.db, video_id, Status.CANCELLED, {"next_attempt_at": None},
                          allowed_from=AWAITING)
    except IllegalTransition as exc:
        raise InvalidInputError("only a video awaiting approval can be cancelled",
                                code=ErrorCode.NOT_AWAITING_APPROVAL) from exc
    spend.reconcile(clients.db, video_id)  # nothing billed: the reserved Veo spend goes back to the user
    return {"video_id": video_id, "status": Status.CANCELLED.value}
