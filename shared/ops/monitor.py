"""agent-monitor's step (Cloud Scheduler → HTTP): resume jobs whose step stalled, with backoff.

Due jobs are found by an indexed query per resumable status on `next_attempt_at` (composite index
status + next_attempt_at), so the cost grows with the due jobs, not with history. Each retry is
decided in a transaction that moves `next_attempt_at` forward: two concurrent monitor runs never
publish the same retry twice. After `max_monitor_retries` retries of one step the job fails with
the last reason.

Each pass also records what reached the dead-letter subscription (shared.ops.dead_letters).

Jobs in `qa_failed` get a bounded remedial step instead (shared.ops.remedial): a re-assembly with a
corrected loudness target, at most MAX_REMEDIAL_ATTEMPTS times, else `failed` with the QA reason.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

import flask
from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from shared.core import layout, lease, log, status
from shared.core.clients import Clients
from shared.core.config import Settings
from shared.core.errors import ErrorCode, IllegalTransition
from shared.core.messages import AssemblyRequest, QaRequest, VideoRequest
from shared.core.pubsub import publish
from shared.core.responses import error_response, json_response
from shared.core.runner import record_failure
from shared.core.status import Status
from shared.ops import dead_letters
from shared.ops.hooks import PIPELINE_HOOKS
from shared.ops.remedial import plan_remedy
from shared.pricing.presets import preset_from_doc

# The message that resumes a job stalled in a status (never BlockReady: it is only a hint to the assembler).
RESUME: dict[Status, type[VideoRequest | AssemblyRequest | QaRequest]] = {
    Status.SCRIPT_READY: VideoRequest,
    Status.VIDEO_GENERATING: VideoRequest,
    Status.VIDEO_GENERATED: AssemblyRequest,
    Status.ASSEMBLING: AssemblyRequest,
    Status.ASSEMBLED: QaRequest,
    Status.QA_PASSED: QaRequest,
}
BACKOFF_SECONDS = Settings.monitor_backoff_seconds  # production's 1, 3, 10 min (MONITOR_BACKOFF_SECONDS)
BATCH = 100


def due_jobs(db: firestore.Client, current: Status, now: dt.datetime) -> list[str]:
    """Ids of jobs in `current` whose next attempt is due."""
    query = (db.collection(layout.VIDEO_STATUS)
             .where(filter=FieldFilter("status", "==", current.value))
             .where(filter=FieldFilter("next_attempt_at", "<=", now))
             .order_by("next_attempt_at").limit(BATCH))
    return [snap.id for snap in query.stream()]


def _retry_plan(doc: dict[str, Any], current: Status, now: dt.datetime, max_retries: int,
                backoff: tuple[float, ...] = BACKOFF_SECONDS) -> dict[str, Any]:
    """The fields recording one more retry of the current step (or that the budget is spent)."""
    record = doc.get("monitor") or {}
    attempts = record.get("attempts", 0) if record.get("status") == current.value else 0
    reason = f"no progress in {current.value} since {doc.get('updated_at')}"
    reasons = [*(record.get("reasons") or []), {"at": now, "status": current.value, "reason": reason}][-20:]
    not_before = now + dt.timedelta(seconds=backoff[min(attempts, len(backoff) - 1)])
    return {"monitor": {"status": current.value, "attempts": attempts + 1, "last_retry_at": now,
                        "not_before": not_before, "reasons": reasons, "exhausted": attempts >= max_retries},
            "next_attempt_at": not_before}


def _in_backoff(doc: dict[str, Any], current: Status, now: dt.datetime) -> bool:
    """Whether the backoff after the monitor's last retry of this step still runs. An agent that gives
    the job up early (a transient failure sets `next_attempt_at` to now) must not bring the retry forward."""
    record = doc.get("monitor") or {}
    return record.get("status") == current.value and (record.get("not_before") or now) > now


class _NotDue(Exception):
    pass


def _claim_retry(clients: Clients, video_id: str, current: Status, now: dt.datetime) -> dict[str, Any] | None:
    """Record the retry in a transaction; None when the job moved on or another run took it."""
    def plan(doc: dict[str, Any]) -> dict[str, Any]:
        due = doc.get("next_attempt_at")
        if due is None or due > now or lease.is_live(doc.get("lease")) or _in_backoff(doc, current, now):
            raise _NotDue(video_id)
        settings = clients.settings
        return _retry_plan(doc, current, now, settings.max_monitor_retries, settings.monitor_backoff_seconds)

    try:
        return status.update_in_status(clients.db, video_id, frozenset({current}), plan)
    except (_NotDue, IllegalTransition):
        return None


def _retry(clients: Clients, video_id: str, current: Status, now: dt.datetime) -> str:
    doc = _claim_retry(clients, video_id, current, now)
    if doc is None:
        return "skipped"
    record = doc["monitor"]
    with log.bound(video_id=video_id):
        if record["exhausted"]:
            reason = f"stuck in {current.value} after {record['attempts'] - 1} retries"
            error = {"code": ErrorCode.RETRIES_EXHAUSTED, "message": reason, "step": current.value}
            return "failed" if record_failure(clients, video_id, error, PIPELINE_HOOKS) else "skipped"
        message = RESUME[current](video_id=video_id, origin="monitor", attempt=record["attempts"])
        publish(clients.publisher, clients.settings, message)
        log.warning("monitor re-published a stalled step", status=current.value, attempt=record["attempts"])
        return "republished"


def _claim_remedy(clients: Clients, video_id: str, now: dt.datetime) -> dict[str, Any] | None:
    """Record the remedial decision for a job in qa_failed in a transaction; None when not due."""
    def plan(doc: dict[str, Any]) -> dict[str, Any]:
        due = doc.get("next_attempt_at")
        if due is None or due > now:
            raise _NotDue(video_id)
        remedy = plan_remedy(doc, preset_from_doc(doc))
        record = dict(doc.get("remedial") or {})
        steps = [*(record.get("steps") or []), {"at": now, "failures": (doc.get("qa") or {}).get("blocking_failures"),
                                               "action": remedy.reason}][-10:]
        if remedy.reassemble:
            record.update(attempts=int(record.get("attempts", 0)) + 1,
                          loudness_target_lufs=remedy.loudness_target_lufs)
        record.update(steps=steps, give_up=not remedy.reassemble, last_reason=remedy.reason, give_up_code=remedy.code)
        return {**remedy.status_fields, "remedial": record,
                "next_attempt_at": now + dt.timedelta(seconds=clients.settings.stuck_after_seconds)}

    try:
        return status.update_in_status(clients.db, video_id, frozenset({Status.QA_FAILED}), plan)
    except (_NotDue, IllegalTransition):
        return None


def _remediate(clients: Clients, video_id: str, now: dt.datetime) -> str:
    """Re-assemble a job that failed QA with a corrected mix, or fail it with the QA reason."""
    doc = _claim_remedy(clients, video_id, now)
    if doc is None:
        return "skipped"
    record = doc["remedial"]
    with log.bound(video_id=video_id):
        if record["give_up"]:
            error = {"code": record.get("give_up_code") or ErrorCode.QA_FAILED, "message": record["last_reason"],
                     "step": "qa"}
            return "failed" if record_failure(clients, video_id, error, PIPELINE_HOOKS) else "skipped"
        publish(clients.publisher, clients.settings,
                AssemblyRequest(video_id=video_id, origin="monitor", attempt=record["attempts"]))
        log.warning("monitor started a remedial re-assembly", reason=record["last_reason"])
        return "remediated"


def run_monitor(clients: Clients, now: dt.datetime | None = None) -> dict[str, Any]:
    """One scheduled pass over every resumable status and over failed QA; counts of what was done."""
    now = now or status.utcnow()
    counts: dict[str, int] = {"republished": 0, "failed": 0, "skipped": 0, "remediated": 0}
    jobs: list[dict[str, str]] = []
    for current in RESUME:
        for video_id in due_jobs(clients.db, current, now):
            outcome = _retry(clients, video_id, current, now)
            counts[outcome] += 1
            jobs.append({"video_id": video_id, "status": current.value, "outcome": outcome})
    for video_id in due_jobs(clients.db, Status.QA_FAILED, now):
        outcome = _remediate(clients, video_id, now)
        counts[outcome] += 1
        jobs.append({"video_id": video_id, "status": Status.QA_FAILED.value, "outcome": outcome})
    return {**counts, "jobs": jobs, "dead_letters": dead_letters.record_dead_letters(clients), "at": now.isoformat()}


def handle_request(clients: Clients, request: flask.Request) -> flask.Response:
    """HTTP entry for Cloud Scheduler: POST (or GET) runs one pass."""
    log.bind(agent="agent-monitor", step="monitor")
    if request.method not in ("POST", "GET"):
        return error_response(ErrorCode.METHOD_NOT_ALLOWED, "use POST to run the monitor")
    with log.step_timer("monitor") as timing:
        result = run_monitor(clients)
        timing.update({k: result[k] for k in ("republished", "failed", "skipped")})
    return json_response(result, 200)
