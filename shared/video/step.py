"""agent-video-veo31's step: enter `video_generating`, hold the job's lease, drive its Veo chain
(shared.video.chain) as far as this invocation's budget allows, then deliver the segments to the assembler.

An invocation stops before its time budget: it releases its lease and re-publishes the request, and the
next one resumes where the stored block states say. When the project's Veo spend of the day is used up
(shared.pricing.spend) it holds the job instead: lease released, `spend_hold` recorded, the monitor's retry count
reset (a held job is not stalled), and the monitor resumes it after STUCK_AFTER_SECONDS.
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from shared.core import layout, lease, log, status
from shared.core.clients import Clients
from shared.core.errors import ErrorCode, IllegalTransition, InvalidInputError, LeaseHeld, SpendHold, Superseded
from shared.core.job import require_job
from shared.core.messages import AssemblyRequest, VideoRequest
from shared.core.pubsub import publish
from shared.core.status import Status
from shared.core.storage import gs_uri, read_json, upload_file
from shared.video import veo
from shared.video.chain import advance_blocks
from shared.video.characters import load_character
from shared.video.inputs import kept_video
from shared.video.plan import VideoPlan, plan_video
from shared.video.run import GENERATING, ChainRun, job_models, plan_model


def generate_video(clients: Clients, message: VideoRequest) -> str:
    """Advance a job's Veo segments as far as this invocation's budget allows."""
    settings = clients.settings
    video_id = message.video_id
    doc = _enter_generating(clients, video_id)
    if doc is None:
        return "duplicate"
    owner = lease.new_owner()
    try:
        doc = lease.claim(clients.db, video_id, GENERATING, owner,
                          settings.invocation_budget_seconds + settings.video_lease_margin_seconds,
                          settings.lease_grace_seconds)
    except LeaseHeld:
        log.info("another invocation holds the lease")
        return "busy"
    except IllegalTransition:
        return "duplicate"
    run = _start_run(clients, video_id, owner, doc)
    try:
        doc = _store_plan(run, doc)
        finished = advance_blocks(run, doc)
    except Superseded:
        log.warning("block changed by another invocation; stopping")
        return "superseded"
    except SpendHold as exc:
        _hold(clients, video_id, owner, exc)
        return "held"
    except BaseException:
        lease.release(clients.db, video_id, GENERATING, owner, retry_in=0)
        raise
    if not finished:
        lease.release(clients.db, video_id, GENERATING, owner, retry_in=settings.stuck_after_seconds)
        publish(clients.publisher, settings,
                VideoRequest(video_id=video_id, origin="continue", attempt=message.attempt + 1))
        return "continued"
    return _deliver(run)


def _hold(clients: Clients, video_id: str, owner: str, exc: SpendHold) -> None:
    """Wait for the project's spend allowance: the monitor resumes the job later, without counting a retry."""
    lease.release(clients.db, video_id, GENERATING, owner, retry_in=clients.settings.stuck_after_seconds)
    try:
        status.update_in_status(clients.db, video_id, GENERATING, {
            "monitor": None, "spend_hold": {"at": status.utcnow(), "reason": exc.message}})
    except IllegalTransition:
        pass


def _start_run(clients: Clients, video_id: str, owner: str, doc: dict[str, Any]) -> ChainRun:
    script = read_json(clients.storage, doc["script_uri"])
    character = None
    if doc.get("character_id"):
        character = load_character(clients.db, doc["character_id"])
        if character is None:
            raise InvalidInputError(f"character {doc['character_id']!r} no longer exists",
                                    code=ErrorCode.CHARACTER_NOT_FOUND)
    return ChainRun(clients, video_id, owner, time.monotonic() + clients.settings.invocation_budget_seconds,
                script, plan_for(clients, doc, len(script["blocks"])), character, time.monotonic())


def plan_for(clients: Clients, doc: dict[str, Any], blocks: int) -> VideoPlan:
    """The plan a job follows: the one stored on it once a block was claimed (it may have been split since),
    else the plan of its Veo model in this API mode."""
    mode = clients.settings.genai_mode
    stored = doc.get("plan")
    if stored and doc.get("blocks"):
        plan = VideoPlan.from_doc(stored)
        if len(plan.blocks) == blocks and plan.mode == mode:
            return plan
    return plan_video(blocks, mode, plan_model(clients, doc))


def _enter_generating(clients: Clients, video_id: str) -> dict[str, Any] | None:
    """The job's document once it is in `video_generating`, or None if it is already past this step."""
    job = require_job(clients.db, video_id)
    doc, current = job.to_doc(), job.status
    if current == Status.SCRIPT_READY:
        try:
            return status.transition(clients.db, video_id, Status.VIDEO_GENERATING).document
        except IllegalTransition:
            return status.read(clients.db, video_id)
    if current != Status.VIDEO_GENERATING:
        log.info("duplicate message: job already past video generation", current=current.value)
        return None
    return doc


def _store_plan(run: ChainRun, doc: dict[str, Any]) -> dict[str, Any]:
    planned = run.plan.to_doc()
    if doc.get("plan") == planned:
        return doc
    return status.update_in_status(run.db, run.video_id, GENERATING, {
        "plan": planned, "planned_seconds": run.plan.total_seconds, "total_blocks": len(run.plan.blocks),
        "veo_model": doc.get("veo_model") or job_models(run.clients, doc)[0], "genai_mode": run.mode})


def _segment_source(run: ChainRun, doc: dict[str, Any], last_block: int) -> str:
    """Where a segment's video is fetched from: the bucket's copy of a Gemini API video when one was kept
    (shared.video.inputs: the file may be gone), else Veo's output."""
    uri = str(doc["blocks"][str(last_block)]["video_uri"])
    if uri.startswith("gs://"):
        return uri
    return kept_video(run.clients, run.video_id, last_block) or uri


def _deliver(run: ChainRun) -> str:
    """Store each segment's Veo video in GCS, mark `video_generated`, start the assembler."""
    clients = run.clients
    doc = status.read(clients.db, run.video_id) or {}
    segments = [_segment_source(run, doc, s.last_block) for s in run.plan.segments]
    uris = []
    with tempfile.TemporaryDirectory(prefix="veo-") as tmp:
        for number, source in enumerate(segments):
            name = layout.veo_video_path(run.video_id, None if len(segments) == 1 else number)
            local = veo.download(clients.genai, clients.storage, source, Path(tmp) / f"segment-{number}.mp4")
            uris.append(upload_file(clients.storage, gs_uri(clients.settings.bucket, name), local, "video/mp4"))
    fields: dict[str, Any] = {"veo_segment_uris": uris, "lease": None,
                              "next_attempt_at": lease.after(clients.settings.stuck_after_seconds)}
    if len(uris) == 1:
        fields["veo_video_uri"] = uris[0]
    try:
        status.transition(clients.db, run.video_id, Status.VIDEO_GENERATED, fields)
    except IllegalTransition:
        log.info("duplicate: video already delivered by another invocation")
        return "duplicate"
    publish(clients.publisher, clients.settings, AssemblyRequest(video_id=run.video_id))
    return "video_generated"
