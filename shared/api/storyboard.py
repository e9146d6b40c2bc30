"""Review before paying: a job created with `review: true` stops in `awaiting_approval` after its script.

The storyboard preview is rendered locally from the script, with no Veo call: one short clip per
block from the same renderer as the local Veo simulator (shared.media.render: the block's scene text on a
procedural picture, espeak-ng speech of its dialogue), joined without re-encoding, stored at
`storyboards/{id}/r{revision}.mp4` and rendered again only after an edit. The user may edit blocks
(scene text and dialogue, validated like Gemini's output), then approve (Veo starts) or cancel.
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


def _render_block(block: dict[str, Any], language: str, video_id: str, work: Path) -> Path:
    clip = work / f"b{block['index']}.mp4"
    render_clip(clip, scene_text=block["visual"], dialogue=block.get("dialogue") or "", language=language,
                seconds=BLOCK_SECONDS, seed=seed_for(video_id, str(block["index"])))
    return clip


def render_preview(script: dict[str, Any], video_id: str, out: Path) -> list[dict[str, Any]]:
    """Render the storyboard MP4 of a script (two blocks at a time); each block's time span in it."""
    blocks = script["blocks"]
    with tempfile.TemporaryDirectory(prefix="storyboard-") as tmp, ThreadPoolExecutor(RENDER_WORKERS) as pool:
        work = Path(tmp)
        clips = list(pool.map(lambda b: _render_block(b, script["language"], video_id, work), blocks))
        parts = [(clip, video_duration(clip)) for clip in clips]
        concat_copy(parts, out, work, failure=GenerationError)
    spans, start = [], 0.0
    for block, (_, seconds) in zip(blocks, parts):
        spans.append({"index": block["index"], "start": round(start, 3), "end": round(start + seconds, 3),
                      "visual": block["visual"], "dialogue": block.get("dialogue") or ""})
        start += seconds
    return spans


def storyboard(clients: Clients, doc: dict[str, Any]) -> dict[str, Any]:
    """The current revision's storyboard (rendered now if missing) and the job's cost estimate."""
    video_id, revision = doc["video_id"], int(doc.get("script_revision") or 0)
    stored = doc.get("storyboard") or {}
    if stored.get("revision") != revision or not stored.get("uri"):
        script = read_json(clients.storage, doc["script_uri"])
        with tempfile.TemporaryDirectory(prefix="storyboard-out-") as tmp:
            local = Path(tmp) / "storyboard.mp4"
            with log.step_timer("storyboard", video_id=video_id, blocks=len(script["blocks"])):
                spans = render_preview(script, video_id, local)
            uri = upload_file(clients.storage, gs_uri(clients.settings.bucket,
                                                      f"storyboards/{video_id}/r{revision}.mp4"), local, "video/mp4")
        stored = {"revision": revision, "uri": uri, "blocks": spans, "rendered_at": status.utcnow()}
        try:
            status.update_in_status(clients.db, video_id, AWAITING, {"storyboard": stored})
        except IllegalTransition:
            pass  # approved or cancelled meanwhile: the preview is still shown
    return {"video_id": video_id, "status": doc["status"], "revision": revision, "uri": stored["uri"],
            "blocks": stored["blocks"], "estimate": doc.get("estimate"), "preset": doc.get("preset")}


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
    return {"video_id": video_id, "status": Status.CANCELLED.value}
