"""The Veo chain of one job, block by block, exactly once per block (the video step's working part).

Block k goes `submitting` → `running` (operation name stored) → `done` (video URI stored), following the
block state machine (shared.video.blocks). The claim is a Firestore transaction made before calling Veo,
so a redelivered message, a second instance or the monitor finds the stored operation and resumes
polling instead of paying again.

The crash window (Veo accepted the call, the invocation died before storing the operation name):
- Vertex AI: every attempt of a block writes to its own deterministic `storageUri`
  (…/veo31_blocks/{video_id}/b{k}-a{n}/). A block found in `submitting` is resolved by looking
  there: an object means the call was accepted and finished, and it is adopted as the block's result.
  Nothing there after VEO_ORPHAN_SECONDS means the call never ran, and the block is submitted again
  as attempt n+1 (new prefix).
- Gemini API: no idempotency key and no destination we choose. The claim records the request's
  fingerprint; a block found in `submitting` fails the job with `veo_submission_unknown` and the
  fingerprint, so an operator can reconcile with billing; it is never resubmitted automatically.

A submission that failed before its request left (connection refused, DNS, connect timeout) is like
a refusal: the claim is released and the block is new again. A read timeout after the request left
is not: the claim stays, and the crash-window rules above resolve it.

Every submission is first checked against the job's max_cost_usd (shared.pricing.spend.guard: the receipt so far
plus the block at the dearest model it may fall back to; over it the job fails `over_budget`), then takes the
project's Veo quota (shared.video.quota: a rate token and a
concurrency slot, queued by preset) and the project's daily Veo spend (spend.take_project: past
PROJECT_VEO_USD_PER_DAY the job is held, not failed), before the claim: a wait that times out leaves the block
untouched and the invocation continues later. The slot is named on the block and given back when
its operation finishes, or when Veo refused the call.

Results that deliver no video are not billed (contract B6, B7), and each is recorded on the block
(`past_attempts`) when it is tried again:
- filtered for its audio only: the same prompt again, at most VEO_AUDIO_RETRIES times (Veo's audio
  blocks usually pass on a retry, contract E8); then, or for any other safety block, one rephrase;
  a further block fails the job with Veo's reason (`veo_safety_filtered`);
- an operation still running VEO_OPERATION_DEADLINE_SECONDS after its submission is abandoned and the
  block submitted again as attempt n+1, at most MAX_DEADLINE_RESUBMISSIONS times, then the job fails
  with `veo_operation_deadline`.

Before a block extends the previous block's video, the plan is checked against the model and the
file's age: a model that cannot extend in this mode (Veo 3.1 Lite on the Gemini API, V3), or a Gemini
API video about to pass its 2-day retention (R1–R3; GENAI_FILE_RETENTION_SECONDS minus a margin),
makes the block open a new segment from the previous video's last frame (`VideoPlan.split_at`; the
plan stored on the job changes, and the copy of that video kept in the bucket is delivered). A file
already gone fails the job with `veo_input_expired`.
"""
from __future__ import annotations

import dataclasses
import hashlib
import time
from typing import Any

from shared.core import layout, log, status
from shared.core.clients import Clients
from shared.core.config import VERTEX, Settings
from shared.core.errors import ErrorCode, GenerationError, QuotaWait, SpendHold, Superseded, TransientError, VeoBusy
from shared.core.messages import BlockReady
from shared.core.pubsub import publish
from shared.core.storage import gs_uri
from shared.core.veo_models import can_extend
from shared.pricing import costs, spend
from shared.pricing.prices import IMAGE_PRICE_PER_IMAGE
from shared.video import quota as veo_quota
from shared.video import veo
from shared.video.blocks import BlockState, check_block_transition, state_of
from shared.video.continuation import age_seconds, check_continuation
from shared.video.inputs import opening_frame, segment_start_frame
from shared.video.prompts import block_prompt
from shared.video.run import (
    GENERATING,
    ChainRun,
    heartbeat,
    heartbeat_fields,
    job_models,
)

QUOTA_MARGIN_SECONDS = 5.0  # what a granted slot needs of the invocation to claim and submit
MAX_DEADLINE_RESUBMISSIONS = 2  # a block abandoned at its operation deadline is submitted again at most this often
# What a claim inherits from the block's earlier attempts.
_CARRIED = ("filtered", "audio_retries", "deadline_resubmissions", "past_attempts")


def advance_blocks(run: ChainRun, doc: dict[str, Any]) -> bool:
    """Drive every block to `done`; False when the invocation budget (or the wait for quota) ran out first."""
    try:
        return _advance_each_block(run, doc)
    except QuotaWait as exc:
        log.info("veo quota: still queued; continuing in a new invocation", reason=exc.message)
        return False


def _advance_each_block(run: ChainRun, doc: dict[str, Any]) -> bool:
    for index in range(len(run.plan.blocks)):  # the plan may split as the chain runs (check_continuation)
        while True:
            block = (doc.get("blocks") or {}).get(str(index)) or {}
            state = state_of(block)
            if state == BlockState.DONE:
                break
            if state == BlockState.NEW:
                doc = _submit_block(run, index, doc, attempt=1, rephrase=False)
                continue
            if state == BlockState.SUBMITTING:
                resolved = _resolve_orphan(run, index, block, doc)
                if resolved is None:
                    return False
                doc = resolved
                continue
            # recorded, but the invocation stopped before acting on it
            if state in (BlockState.FILTERED, BlockState.FAILED, BlockState.ABANDONED):
                doc = _after_failed_result(run, index, block, doc)
                continue
            result = _wait_for(run, block)
            if result is None:
                if not _past_deadline(run, block):
                    return False
                doc = _abandon(run, index, block, doc)
                continue
            doc = _record_result(run, index, block, result, doc)
    return True


def _block_input(run: ChainRun, index: int, doc: dict[str, Any], rephrase: bool) -> veo.VeoInput:
    """What block `index` sends to Veo: its prompt, and the video or image it continues from."""
    planned = run.plan.blocks[index]
    starts_segment = run.plan.starts_segment(index)
    prompt = block_prompt(run.script, index, voice=doc.get("voice"), character=run.character,
                          segment_start=starts_segment and index > 0, safer=rephrase)
    blocks = doc.get("blocks") or {}
    if not starts_segment:
        return veo.VeoInput(prompt, planned.seconds, previous_video_uri=blocks[str(index - 1)]["video_uri"])
    if index > 0:
        frame = segment_start_frame(run.clients, run.video_id, index, blocks[str(index - 1)]["video_uri"])
        return veo.VeoInput(prompt, planned.seconds, first_frame_png=frame)
    if run.character:
        frame, drew = opening_frame(run.clients, run.video_id, run.script, run.character,
                                    before_draw=lambda: spend.guard(doc, IMAGE_PRICE_PER_IMAGE, "the opening frame"))
        if drew:
            status.update_in_status(run.db, run.video_id, GENERATING,
                                    lambda d: {"usage": costs.with_counter(d.get("usage"), "image_calls", 1)})
        return veo.VeoInput(prompt, planned.seconds, first_frame_png=frame)
    return veo.VeoInput(prompt, planned.seconds)


def block_output_prefix(settings: Settings, video_id: str, index: int, attempt: int) -> str | None:
    """Vertex AI: the deterministic storageUri of one attempt of one block (None in Gemini API mode)."""
    if settings.genai_mode != VERTEX:
        return None
    base = settings.vertex_output_prefix or gs_uri(settings.bucket, "")
    return f"{base.rstrip('/')}/{layout.veo_block_prefix(video_id, index, attempt)}"


def fingerprint(request: veo.VeoInput, model: str) -> str:
    """A stable digest of what was sent to Veo (to reconcile an orphaned submission with billing)."""
    parts = [model, request.prompt, request.previous_video_uri or "",
             hashlib.sha256(request.first_frame_png or b"").hexdigest(), request.output_gcs_uri or ""]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def _models_for(run: ChainRun, index: int, doc: dict[str, Any]) -> list[str]:
    """The job's models that can make block `index`: for an extension, only those that extend in this mode."""
    models = job_models(run.clients, doc)
    if run.plan.starts_segment(index):
        return models
    able = [model for model in models if can_extend(model, run.mode)]
    if not able:
        raise GenerationError(f"block {index} extends a video, which {', '.join(models)} cannot do in {run.mode} "
                              "mode", code=ErrorCode.VEO_INVALID_REQUEST)
    return able


def _past_attempt(block: dict[str, Any]) -> dict[str, Any] | None:
    """The record of an earlier attempt of a block that delivered nothing (never billed), or None."""
    state = state_of(block)
    if state not in (BlockState.FILTERED, BlockState.FAILED, BlockState.ABANDONED, BlockState.SUBMITTING):
        return None
    reason = {BlockState.FILTERED: "; ".join(block.get("last_filtered") or block.get("filtered") or []),
              BlockState.ABANDONED: "operation_deadline",
              BlockState.SUBMITTING: "orphaned: never produced output"}.get(state) or block.get("error") or ""
    return {"attempt": block.get("attempt", 1), "state": state.value, "reason": reason[:500],
            "operation": block.get("operation"), "model": block.get("model"), "rephrased": bool(block.get("rephrased")),
            "billed": False, "at": block.get("finished_at") or block.get("at")}


def _submit_block(run: ChainRun, index: int, doc: dict[str, Any], *, attempt: int, rephrase: bool,
                  expected: dict[str, Any] | None = None, counters: dict[str, int] | None = None) -> dict[str, Any]:
    """Claim block `index` (attempt `attempt`), submit it to Veo, store the operation name.

    `counters` sets the block's retry counters (audio_retries, deadline_resubmissions) on the claim and adds
    each increase to the ledger (`veo_audio_retries`, `veo_deadline_resubmissions`)."""
    settings = run.clients.settings
    doc = check_continuation(run, index, doc)
    models = _models_for(run, index, doc)
    price = block_price(run, index, models)
    spend.guard(doc, price, f"Veo block {index} attempt {attempt}")  # max_cost_usd: retries and fallback too
    request = _block_input(run, index, doc, rephrase)
    request = dataclasses.replace(request, output_gcs_uri=block_output_prefix(settings, run.video_id, index, attempt))
    previous = (doc.get("blocks") or {}).get(str(index)) or {}
    limits = veo_quota.limits_from(settings)
    slot = veo_quota.acquire(run.db, veo_quota.waiter_for(run.video_id, index, attempt, doc.get("preset")),
                             limits, _quota_wait(run))
    try:
        spend_day = spend.take_project(run.db, price, settings.project_veo_usd_per_day)
    except SpendHold:
        veo_quota.release(run.db, slot)
        raise
    carried = {key: previous[key] for key in _CARRIED if key in previous}
    earlier = _past_attempt(previous)
    if earlier:
        carried["past_attempts"] = [*(previous.get("past_attempts") or []), earlier][-10:]
    claim = {"filtered": [], **carried, **(counters or {}), "state": BlockState.SUBMITTING.value,
             "attempt": attempt, "rephrased": rephrase, "owner": run.owner, "at": status.utcnow(),
             "model": models[0], "fingerprint": fingerprint(request, models[0]),
             "output_prefix": request.output_gcs_uri, "quota_slot": slot, "spend_usd": price, "spend_day": spend_day}
    increases = {f"veo_{name}": value - int(previous.get(name, 0)) for name, value in (counters or {}).items()}
    try:
        _update_block(run, index, expected if expected is not None else {}, claim)
    except BaseException:
        veo_quota.release(run.db, slot)
        spend.give_back_project(run.db, spend_day, price)
        raise
    with log.bound(block=index, attempt=attempt):
        try:
            submission = veo.submit(run.clients.genai, run.mode, models, request,
                                    attempts=settings.veo_retry_attempts,
                                    max_wait_seconds=settings.veo_retry_max_wait_seconds,
                                    before_retry=lambda: veo_quota.take_token(run.db, limits, _quota_wait(run)))
        except (VeoBusy, QuotaWait) as exc:
            _release_claim(run, index, claim, previous, retries=getattr(exc, "retries", 0))
            raise
        except GenerationError as exc:
            _release_claim(run, index, claim, previous, retries=0)
            if exc.code == ErrorCode.VEO_REJECTED and request.previous_video_uri and "expired" in exc.message.lower():
                raise GenerationError(f"block {index}: Veo refused to extend block {index - 1}'s video, which has "
                                      f"expired: {exc.message}", code=ErrorCode.VEO_INPUT_EXPIRED) from exc
            raise
        except veo.TRANSPORT_ERRORS as exc:  # sent, no answer (a read timeout): accepted or not, nobody knows
            raise TransientError(f"block {index}: Veo submission outcome unknown ({type(exc).__name__}: {exc}); "
                                 "the claim stays and the next invocation resolves it") from exc
        log.info("veo block submitted", operation=submission.operation, model=submission.model,
                 retries=submission.retries, fallback=submission.fallback_used)
    running = {**claim, "state": BlockState.RUNNING.value, "operation": submission.operation, "model": submission.model,
               "submitted_at": status.utcnow()}
    return _update_block(run, index, claim, running,
                         extra=lambda d: _submission_fields(d, submission, index, increases))


def block_price(run: ChainRun, index: int, models: list[str]) -> float:
    """The most one submission of block `index` can bill: its seconds at the dearest model it may fall back to."""
    return max(costs.veo_usd(model, run.plan.blocks[index].seconds) for model in models)


def _give_back(run: ChainRun, block: dict[str, Any]) -> None:
    """A submission that delivered nothing was not billed: its price goes back to the project's day."""
    spend.give_back_project(run.db, block.get("spend_day"), float(block.get("spend_usd") or 0.0))


def _quota_wait(run: ChainRun) -> float:
    """How long this invocation may queue for the Veo quota."""
    return max(run.time_left() - QUOTA_MARGIN_SECONDS, 0.0)


def _submission_fields(doc: dict[str, Any], submission: veo.Submission, index: int,
                       counters: dict[str, int]) -> dict[str, Any]:
    usage = costs.with_counter(doc.get("usage"), "veo_retries", submission.retries)
    for name, increase in counters.items():  # veo_audio_retries, veo_deadline_resubmissions: counted once accepted
        usage = costs.with_counter(usage, name, increase)
    fields: dict[str, Any] = {"usage": usage}
    if submission.fallback_used and not (doc.get("fallback") or {}).get("model"):
        fields["fallback"] = {"model": submission.model, "from": doc.get("veo_model"), "since_block": index,
                              "reason": "primary model exhausted (429/5xx) past its retry budget"}
    return fields


def _release_claim(run: ChainRun, index: int, claim: dict[str, Any], previous: dict[str, Any], retries: int) -> None:
    """Undo a claim whose submission Veo refused (nothing was accepted, nothing billed)."""
    def undo(doc: dict[str, Any]) -> dict[str, Any]:
        blocks = dict(doc.get("blocks") or {})
        if _same(blocks.get(str(index)), claim):
            check_block_transition(index, claim, previous or None)
            if previous:
                blocks[str(index)] = previous
            else:
                blocks.pop(str(index), None)
        return {"blocks": blocks, "usage": costs.with_counter(doc.get("usage"), "veo_retries", retries)}

    status.update_in_status(run.db, run.video_id, GENERATING, undo)
    veo_quota.release(run.db, claim.get("quota_slot"))
    _give_back(run, claim)


def _same(current: dict[str, Any] | None, expected: dict[str, Any]) -> bool:
    if not expected:
        return not current
    if not current:
        return False
    keys = ("state", "attempt", "operation", "owner")
    return all(current.get(k) == expected.get(k) for k in keys)


def _update_block(run: ChainRun, index: int, expected: dict[str, Any], new: dict[str, Any],
                  extra: Any = None) -> dict[str, Any]:
    """Replace block `index` in a transaction, only if it is still `expected` (else Superseded)."""
    def apply(doc: dict[str, Any]) -> dict[str, Any]:
        blocks = dict(doc.get("blocks") or {})
        if not _same(blocks.get(str(index)), expected):
            raise Superseded(f"block {index}")
        check_block_transition(index, blocks.get(str(index)), new)
        blocks[str(index)] = new
        completed = sum(1 for b in blocks.values() if state_of(b) == BlockState.DONE)
        fields = {"blocks": blocks, "completed_blocks": completed, **heartbeat_fields(run)}
        return {**fields, **(extra(doc) if extra else {})}

    return status.update_in_status(run.db, run.video_id, GENERATING, apply)


def _resolve_orphan(run: ChainRun, index: int, block: dict[str, Any], doc: dict[str, Any]) -> dict[str, Any] | None:
    """A block left in `submitting` by a dead invocation: adopt its output, wait, resubmit or fail."""
    if run.mode != VERTEX or not block.get("output_prefix"):
        raise GenerationError(
            f"block {index}: an earlier invocation stopped while submitting it to Veo (request fingerprint "
            f"{block.get('fingerprint')}); not resubmitting to avoid paying twice",
            code=ErrorCode.VEO_SUBMISSION_UNKNOWN)
    poll_seconds = run.clients.settings.veo_poll_seconds
    while True:
        found = veo.find_output(run.clients.storage, block["output_prefix"])
        if found:
            log.warning("orphaned submission recovered from its output", block=index, uri=found)
            return _record_result(run, index, {**block, "recovered": True}, veo.VeoResult(found), doc)
        age = (status.utcnow() - block["at"]).total_seconds()
        if age > run.clients.settings.veo_orphan_seconds:
            log.warning("orphaned submission never produced output; submitting again", block=index, age=age)
            return _submit_block(run, index, doc, attempt=block.get("attempt", 1) + 1,
                                 rephrase=bool(block.get("rephrased")), expected=block)
        if run.time_left() < poll_seconds:
            return None
        heartbeat(run)
        time.sleep(poll_seconds)


def _wait_for(run: ChainRun, block: dict[str, Any]) -> veo.VeoResult | None:
    """Poll a block's stored operation until it finishes, or None when this invocation must stop or the
    operation is past its deadline (`_past_deadline`)."""
    poll_seconds = run.clients.settings.veo_poll_seconds
    while True:
        result = veo.poll(run.clients.genai, block["operation"])
        if result is not None:
            return result
        if run.time_left() < poll_seconds or _past_deadline(run, block):
            return None
        heartbeat(run)
        time.sleep(poll_seconds)


def _past_deadline(run: ChainRun, block: dict[str, Any]) -> bool:
    """Whether a running operation has run longer than VEO_OPERATION_DEADLINE_SECONDS since its submission."""
    age = age_seconds(block)
    return age is not None and age >= run.clients.settings.veo_operation_deadline_seconds


def _abandon(run: ChainRun, index: int, block: dict[str, Any], doc: dict[str, Any]) -> dict[str, Any]:
    """Give up an operation past its deadline: the attempt is recorded (not billed) and the block retried."""
    seconds = run.plan.blocks[index].seconds
    model = block.get("model") or job_models(run.clients, doc)[0]
    abandoned = {**block, "state": BlockState.ABANDONED.value, "finished_at": status.utcnow(),
                 "error": f"operation_deadline: still running after "
                          f"{run.clients.settings.veo_operation_deadline_seconds:g} s"}
    doc = _update_block(run, index, block, abandoned, extra=lambda d: {
        "usage": costs.with_veo_seconds(d.get("usage"), model, seconds, delivered=False)})
    veo_quota.release(run.db, block.get("quota_slot"))
    _give_back(run, block)
    log.warning("veo operation abandoned at its deadline", block=index, operation=block.get("operation"),
                attempt=block.get("attempt"))
    return _after_failed_result(run, index, abandoned, doc)


def _record_result(run: ChainRun, index: int, block: dict[str, Any], result: veo.VeoResult,
                   doc: dict[str, Any]) -> dict[str, Any]:
    """Store a finished block and, when it delivered a video, its billed seconds; then retry or fail the others."""
    seconds = run.plan.blocks[index].seconds
    model = block.get("model") or job_models(run.clients, doc)[0]
    delivered = bool(result.video_uri)
    outcome = BlockState.DONE if delivered else (BlockState.FILTERED if result.filtered_reasons else BlockState.FAILED)
    new = {**block, "state": outcome.value, "seconds": seconds, "finished_at": status.utcnow()}
    if delivered:
        new["video_uri"] = result.video_uri
    else:
        new["error"] = result.error
        new["last_filtered"] = list(result.filtered_reasons)
        new["filtered"] = [*block.get("filtered", []), *result.filtered_reasons] if result.filtered_reasons \
            else block.get("filtered", [])
    doc = _update_block(run, index, block, new, extra=lambda d: {
        "usage": costs.with_veo_seconds(d.get("usage"), model, seconds, delivered=delivered)})
    veo_quota.release(run.db, block.get("quota_slot"))
    log.info("veo block finished", block=index, outcome=outcome, seconds=seconds, model=model)
    if delivered:
        announce_block(run.clients, run.video_id, index)
        return doc
    _give_back(run, block)
    return _after_failed_result(run, index, {**new, "error": result.error}, doc)


def _after_failed_result(run: ChainRun, index: int, block: dict[str, Any], doc: dict[str, Any]) -> dict[str, Any]:
    """A block that delivered nothing: an audio block is retried unchanged (VEO_AUDIO_RETRIES), another safety
    block rephrased once, an abandoned operation resubmitted (MAX_DEADLINE_RESUBMISSIONS); otherwise fail."""
    state, attempt, rephrased = state_of(block), block.get("attempt", 1), bool(block.get("rephrased"))
    if state == BlockState.ABANDONED:
        done = int(block.get("deadline_resubmissions", 0))
        if done >= MAX_DEADLINE_RESUBMISSIONS:
            raise GenerationError(
                f"block {index}: Veo operation still running after "
                f"{run.clients.settings.veo_operation_deadline_seconds:g} s, {done + 1} times; giving up",
                code=ErrorCode.VEO_OPERATION_DEADLINE)
        return _submit_block(run, index, doc, attempt=attempt + 1, rephrase=rephrased, expected=block,
                             counters={"deadline_resubmissions": done + 1})
    if state != BlockState.FILTERED:
        raise GenerationError(f"block {index}: {block.get('error') or 'Veo returned no video'}",
                              code=ErrorCode.VEO_FAILED)
    latest = block.get("last_filtered") or block.get("filtered") or []
    audio_retries = int(block.get("audio_retries", 0))
    if veo.is_audio_block(latest) and audio_retries < run.clients.settings.veo_audio_retries:
        log.warning("veo audio block: submitting the same prompt again", block=index, reasons=latest,
                    retry=audio_retries + 1)
        return _submit_block(run, index, doc, attempt=attempt + 1, rephrase=rephrased, expected=block,
                             counters={"audio_retries": audio_retries + 1})
    if not rephrased:
        log.warning("veo safety filter: rephrasing the block once", block=index, reasons=latest)
        return _submit_block(run, index, doc, attempt=attempt + 1, rephrase=True, expected=block)
    after = " and the same prompt again" if audio_retries else ""
    raise GenerationError(f"block {index} was blocked by Veo's safety filter again after one rephrase{after}: "
                          f"{'; '.join(block.get('filtered') or [])}", code=ErrorCode.VEO_SAFETY_FILTERED)


def announce_block(clients: Clients, video_id: str, block: int) -> None:
    """Tell the assembler a block is done so it transcribes it now.

    Best effort: a block that is not announced is transcribed at assembly instead."""
    try:
        publish(clients.publisher, clients.settings, BlockReady(video_id=video_id, block=block))
    except TransientError as exc:
        log.warning("block announcement not published", block=block, error=exc.message)
