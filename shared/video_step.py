"""agent-video-veo31's step: the Veo chain of a job, one block at a time, exactly once per block.

Block k goes `submitting` → `running` (operation name stored) → `done` (video URI stored). The claim
is a Firestore transaction made before calling Veo, so a redelivered message, a second instance or
the monitor finds the stored operation and resumes polling instead of paying again. A block left in
`submitting` means an invocation died between Veo accepting (maybe) and the name being stored: the
job fails with that reason rather than risking a second charge.

An invocation stops before its time budget: it releases its lease and re-publishes the request,
and the next invocation resumes polling the stored operation.
"""
from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared import lease, log, status, veo
from shared.clients import Clients
from shared.errors import GenerationError, InvalidInputError
from shared.messages import AssemblyRequest, VideoRequest
from shared.prompts import block_prompt
from shared.pubsub import publish
from shared.status import Status
from shared.storage import gs_uri, read_json, upload_file

GENERATING = frozenset({Status.VIDEO_GENERATING})
HEARTBEAT_SECONDS = 30.0
LEASE_MARGIN_SECONDS = 60.0


@dataclass
class _Run:
    """One invocation's working state."""

    clients: Clients
    video_id: str
    owner: str
    deadline: float
    script: dict[str, Any]
    last_heartbeat: float = 0.0

    @property
    def db(self):  # type: ignore[no-untyped-def]
        return self.clients.db

    def time_left(self) -> float:
        return self.deadline - time.monotonic()


def generate_video(clients: Clients, message: VideoRequest) -> str:
    """Advance a job's Veo chain as far as this invocation's budget allows."""
    settings = clients.settings
    video_id = message.video_id
    doc = _enter_generating(clients, video_id)
    if doc is None:
        return "duplicate"
    owner = lease.new_owner()
    try:
        doc = lease.claim(clients.db, video_id, GENERATING, owner,
                          settings.invocation_budget_seconds + LEASE_MARGIN_SECONDS)
    except lease.LeaseHeld:
        log.info("another invocation holds the lease")
        return "busy"
    except status.IllegalTransition:
        return "duplicate"
    run = _Run(clients, video_id, owner, time.monotonic() + settings.invocation_budget_seconds,
               read_json(clients.storage, doc["script_uri"]), time.monotonic())
    try:
        finished = _advance_blocks(run, doc)
    except BaseException:
        lease.release(clients.db, video_id, GENERATING, owner, retry_in=0)
        raise
    if not finished:
        lease.release(clients.db, video_id, GENERATING, owner, retry_in=settings.stuck_after_seconds)
        publish(clients.publisher, settings.project,
                VideoRequest(video_id=video_id, origin="continue", attempt=message.attempt + 1))
        return "continued"
    return _deliver(run)


def _enter_generating(clients: Clients, video_id: str) -> dict[str, Any] | None:
    """The job's document once it is in `video_generating`, or None if it is already past this step."""
    doc = status.read(clients.db, video_id)
    if doc is None:
        raise InvalidInputError(f"no job {video_id}", code="unknown_job")
    current = Status(doc["status"])
    if current == Status.SCRIPT_READY:
        try:
            return status.transition(clients.db, video_id, Status.VIDEO_GENERATING).document
        except status.IllegalTransition:
            return status.read(clients.db, video_id)
    if current != Status.VIDEO_GENERATING:
        log.info("duplicate message: job already past video generation", current=current.value)
        return None
    return doc


def _advance_blocks(run: _Run, doc: dict[str, Any]) -> bool:
    """Drive every block to `done`; False when the invocation budget ran out first."""
    total = len(run.script["blocks"])
    for index in range(total):
        block = doc.get("blocks", {}).get(str(index)) or {}
        if block.get("state") == "done":
            continue
        if not block:
            previous = doc["blocks"][str(index - 1)]["video_uri"] if index else None
            doc = _submit_block(run, index, previous)
            block = doc["blocks"][str(index)]
        elif block.get("state") == "submitting":
            raise GenerationError(
                f"block {index}: an earlier invocation stopped while submitting it to Veo; not resubmitting "
                "to avoid paying twice", code="veo_submission_unknown")
        result = _wait_for(run, block["operation"])
        if result is None:
            return False
        doc = _record_result(run, index, block, result)
    return True


def _submit_block(run: _Run, index: int, previous_uri: str | None) -> dict[str, Any]:
    """Claim block `index`, submit it to Veo, store the operation name."""
    settings = run.clients.settings

    def claim(doc: dict[str, Any]) -> dict[str, Any]:
        blocks = dict(doc.get("blocks") or {})
        if blocks.get(str(index)):
            raise GenerationError(f"block {index} already claimed", code="veo_submission_unknown")
        blocks[str(index)] = {"state": "submitting", "owner": run.owner, "at": status.utcnow()}
        return {"blocks": blocks}

    status.update_in_status(run.db, run.video_id, GENERATING, claim)
    prompt = block_prompt(run.script, index)
    with log.bound(block=index):
        operation = veo.submit(run.clients.genai, settings.veo_model, prompt, previous_uri)
        log.info("veo block submitted", operation=operation, extension=previous_uri is not None)

    def store(doc: dict[str, Any]) -> dict[str, Any]:
        blocks = dict(doc["blocks"])
        blocks[str(index)] = {"state": "running", "operation": operation, "model": settings.veo_model,
                              "extension": previous_uri is not None, "submitted_at": status.utcnow()}
        return {"blocks": blocks, **_heartbeat_fields(run)}

    return status.update_in_status(run.db, run.video_id, GENERATING, store)


def _heartbeat_fields(run: _Run) -> dict[str, Any]:
    run.last_heartbeat = time.monotonic()
    return lease.lease_fields(run.owner, max(run.time_left(), 0) + LEASE_MARGIN_SECONDS)


def _heartbeat(run: _Run) -> None:
    if time.monotonic() - run.last_heartbeat >= HEARTBEAT_SECONDS:
        status.update_in_status(run.db, run.video_id, GENERATING, lambda doc: _heartbeat_fields(run))


def _wait_for(run: _Run, operation: str) -> veo.VeoResult | None:
    """Poll a stored operation until it finishes, or None when this invocation must stop."""
    poll_seconds = run.clients.settings.veo_poll_seconds
    while True:
        result = veo.poll(run.clients.genai, operation)
        if result is not None:
            return result
        if run.time_left() < poll_seconds:
            return None
        _heartbeat(run)
        time.sleep(poll_seconds)


def _record_result(run: _Run, index: int, block: dict[str, Any], result: veo.VeoResult) -> dict[str, Any]:
    """Store a finished block (and its billed seconds), or fail the job with Veo's reason."""
    if result.filtered_reasons:
        raise GenerationError(f"block {index} was blocked by Veo's safety filter: "
                              f"{'; '.join(result.filtered_reasons)}", code="veo_safety_filtered")
    if not result.video_uri:
        raise GenerationError(f"block {index}: {result.error}", code="veo_failed")
    seconds = veo.billed_seconds(block.get("extension", index > 0))

    def done(doc: dict[str, Any]) -> dict[str, Any]:
        blocks = dict(doc["blocks"])
        if blocks[str(index)].get("state") == "done":
            return {}
        blocks[str(index)] = {**blocks[str(index)], "state": "done", "video_uri": result.video_uri,
                              "seconds": seconds, "done_at": status.utcnow()}
        usage = dict(doc.get("usage") or {})
        per_model = dict(usage.get("veo_seconds_by_model") or {})
        model = blocks[str(index)].get("model", run.clients.settings.veo_model)
        per_model[model] = per_model.get(model, 0) + seconds
        usage.update(veo_seconds=usage.get("veo_seconds", 0) + seconds, veo_seconds_by_model=per_model)
        completed = sum(1 for b in blocks.values() if b.get("state") == "done")
        return {"blocks": blocks, "usage": usage, "completed_blocks": completed, **_heartbeat_fields(run)}

    log.info("veo block done", block=index, seconds=seconds)
    return status.update_in_status(run.db, run.video_id, GENERATING, done)


def _deliver(run: _Run) -> str:
    """Store the whole Veo video in GCS, mark `video_generated`, start the assembler."""
    clients = run.clients
    doc = status.read(clients.db, run.video_id) or {}
    last = doc["blocks"][str(len(run.script["blocks"]) - 1)]
    uri = gs_uri(clients.settings.bucket, f"veo31_videos/{run.video_id}.mp4")
    with tempfile.TemporaryDirectory(prefix="veo-") as tmp:
        local = veo.download(clients.genai, last["video_uri"], Path(tmp) / "veo.mp4")
        upload_file(clients.storage, uri, local, "video/mp4")
    try:
        status.transition(clients.db, run.video_id, Status.VIDEO_GENERATED,
                          {"veo_video_uri": uri, "lease": None, "next_attempt_at": lease.after(clients.settings.stuck_after_seconds)})
    except status.IllegalTransition:
        log.info("duplicate: video already delivered by another invocation")
        return "duplicate"
    publish(clients.publisher, clients.settings.project, AssemblyRequest(video_id=run.video_id))
    return "video_generated"
