"""Review before paying: a job created with `review: true` stops in `awaiting_approval` after its script.

Its storyboard preview is rendered off the request path by the storyboard step (shared.assembly.storyboard,
function agent-assembler-storyboards): creating the job and each edit ask for the preview of the new script
revision (`request_preview`), and `GET /videos/{id}/storyboard` answers 202 `rendering` until it is stored
(asking again if the request was lost). Each preview takes one from the plan's preview quota (429
quota_exceeded); a script is revised at most MAX_REVISIONS times (409 revision_limit); superseded previews are
deleted by the step. The user may edit blocks (scene text and dialogue, validated like Gemini's output), then
approve (Veo starts) or cancel.
"""
from __future__ import annotations

import re
from typing import Any

from google.api_core import exceptions as gexc
from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.api import quotas
from shared.core import lease, log, status
from shared.core.clients import Clients
from shared.core.errors import ErrorCode, IllegalTransition, InvalidInputError, TransientError
from shared.core.messages import StoryboardRequest, VideoRequest
from shared.core.pubsub import publish
from shared.core.responses import public_error
from shared.core.status import Status
from shared.core.storage import read_json, upload_json
from shared.core.validation import parse_body
from shared.core.vocabulary import MAX_DIALOGUE_WORDS
from shared.pricing import spend

MAX_REVISIONS = 10  # edits of one script: each renders a preview (speech is paid)
POLL_SECONDS = 3  # Retry-After of a storyboard still rendering
REQUEST_AGAIN_SECONDS = 120.0  # a preview asked for this long ago and not being rendered is asked for again
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
    """Validate and store edited blocks while the job awaits approval (at most MAX_REVISIONS times, each taking
    one preview off the plan); the new revision, whose preview the storyboard step renders."""
    script = apply_edits(read_json(clients.storage, doc["script_uri"]), body)
    video_id = doc["video_id"]
    take_preview_quota(clients, doc["owner"])

    def bump(current: dict[str, Any]) -> dict[str, Any]:
        revision = int(current.get("script_revision") or 0) + 1
        if revision > MAX_REVISIONS:
            raise InvalidInputError(f"the script was revised {MAX_REVISIONS} times: approve or cancel it",
                                    code=ErrorCode.REVISION_LIMIT)
        # noted as asked for now, so no look at the storyboard asks for it before the new script is stored
        return {"script_revision": revision, "storyboard_render": _asked(revision)}

    try:
        updated = status.update_in_status(clients.db, video_id, AWAITING, bump)
    except (IllegalTransition, InvalidInputError) as exc:
        quotas.refund(clients.db, doc["owner"], previews=1)
        if isinstance(exc, InvalidInputError):
            raise
        raise InvalidInputError("the script can only be edited while the video awaits approval",
                                code=ErrorCode.NOT_AWAITING_APPROVAL) from exc
    upload_json(clients.storage, doc["script_uri"], script)
    log.info("script edited", video_id=video_id, revision=updated["script_revision"])
    request_preview(clients, video_id, updated["script_revision"], noted=True)
    return {"video_id": video_id, "revision": updated["script_revision"], "blocks": script["blocks"],
            "storyboard": "rendering"}


def _asked(revision: int) -> dict[str, Any]:
    return {"revision": revision, "requested_at": status.utcnow(), "lease": None}


def request_preview(clients: Clients, video_id: str, revision: int, noted: bool = False) -> None:
    """Ask the storyboard step for the preview of `revision` (noted on the job first, unless the caller did, so a
    lost message is sent again by the next look at the storyboard). A publish failure is logged, not raised."""
    try:
        if not noted:
            status.update_in_status(clients.db, video_id, AWAITING, {"storyboard_render": _asked(revision)})
        publish(clients.publisher, clients.settings, StoryboardRequest(video_id=video_id, revision=revision))
    except (TransientError, IllegalTransition, gexc.GoogleAPICallError) as exc:
        log.warning("storyboard not requested; the next look at it asks again", video_id=video_id,
                    revision=revision, error=type(exc).__name__)


def take_preview_quota(clients: Clients, owner: str) -> None:
    """One preview off the owner's plan (429 quota_exceeded when the day's or month's previews are used up)."""
    quotas.consume(clients.db, owner, quotas.user_plan(clients.db, owner, clients.settings.default_plan), previews=1)


def storyboard(clients: Clients, doc: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """The current revision's storyboard and the job's cost estimate; and whether it is ready (else it is being
    rendered, or its rendering failed: `state`). Never renders: the storyboard step does."""
    video_id, revision = doc["video_id"], int(doc.get("script_revision") or 0)
    answer = {"video_id": video_id, "status": doc["status"], "revision": revision, "estimate": doc.get("estimate"),
              "preset": doc.get("preset")}
    stored = doc.get("storyboard") or {}
    if stored.get("revision") == revision and stored.get("uri"):
        return {**answer, "state": "ready", "uri": stored["uri"], "blocks": stored["blocks"]}, True
    if doc["status"] not in AWAITING:
        raise InvalidInputError("no storyboard: the video no longer awaits approval",
                                code=ErrorCode.NOT_AWAITING_APPROVAL)
    render = doc.get("storyboard_render") or {}
    if render.get("revision") == revision and render.get("error"):
        return {**answer, "state": "failed", "error": public_error(render["error"])}, False
    if _request_lost(render, revision):
        request_preview(clients, video_id, revision)
    return {**answer, "state": "rendering", "retry_after_seconds": POLL_SECONDS}, False


def _request_lost(render: dict[str, Any], revision: int) -> bool:
    """Whether the preview of `revision` was never asked for, or asked for long ago and nobody is rendering it."""
    if render.get("revision") != revision or not render.get("requested_at"):
        return True
    waited = (status.utcnow() - render["requested_at"]).total_seconds()
    return waited > REQUEST_AGAIN_SECONDS and not lease.is_live(render.get("lease"))


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
