"""Running one event step: decode the CloudEvent, bind log context, split transient from permanent errors.

The runner knows nothing of what happens when a job ends (webhooks live in shared.ops): whoever wires an
agent passes `Hooks`, and the runner calls them.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shared.core import log, status
from shared.core.clients import Clients
from shared.core.errors import IllegalTransition, InvalidInputError, PermanentError
from shared.core.messages import MessageT, message_from_cloud_event, raw_event_data, source_topic
from shared.core.pubsub import park_dead_letter
from shared.core.status import Status

JobEnded = Callable[[Clients, str], Any]
# The outcome a step handler returns when it moved its job to `completed`.
COMPLETED = "completed"


def _nothing(_clients: Clients, _video_id: str) -> None:
    return None


@dataclass(frozen=True)
class Hooks:
    """Calls at the edges of a step; `job_ended(clients, video_id)` runs once a job completed or failed."""

    job_ended: JobEnded = _nothing


def record_failure(clients: Clients, video_id: str, error: dict[str, str], hooks: Hooks = Hooks(),
                   fields: dict[str, Any] | None = None) -> bool:
    """Move the job to `failed` with `error` (and `fields`, e.g. a receipt) and call `hooks.job_ended`; False if it
    was already terminal."""
    error = {**error, "id": error.get("id") or log.new_error_id()}
    log.error("job failed", video_id=video_id, error_id=error["id"], code=error.get("code"),
              reason=error.get("message"), step=error.get("step"))
    try:
        status.transition(clients.db, video_id, Status.FAILED, {**(fields or {}), "error": error, "lease": None})
    except IllegalTransition as illegal:
        log.warning("job not failed: already terminal", video_id=video_id, current=str(illegal.current))
        return False
    hooks.job_ended(clients, video_id)
    return True


def fail_job(clients: Clients, video_id: str, step: str, exc: PermanentError, hooks: Hooks = Hooks()) -> None:
    """Record a permanent failure of `step` on the job (no-op if the job is already terminal)."""
    record_failure(clients, video_id, {"code": exc.code, "message": exc.message[:1000], "step": step}, hooks,
                   getattr(exc, "status_fields", None))


def run_event(clients: Clients, cloud_event: Any, expected: type[MessageT] | tuple[type[MessageT], ...], agent: str,
              step: str, handler: Callable[[Clients, MessageT], str], hooks: Hooks = Hooks()) -> str:
    """Decode and run one step. Transient errors propagate (→ redelivery); permanent ones fail the job.

    A malformed message (not JSON, wrong schema or kind, too large) can never succeed and has no job
    to fail: it is parked on the dead-letter topic at once (the monitor records it) and acknowledged.
    """
    log.bind(agent=agent, step=step, event_id=cloud_event["id"])
    try:
        message = message_from_cloud_event(cloud_event, expected)
    except InvalidInputError as exc:
        log.error("malformed message rejected", code=exc.code, reason=exc.message)
        park_dead_letter(clients, raw_event_data(cloud_event), exc, source_topic(cloud_event))
        return "dead_lettered"
    with log.bound(video_id=message.video_id, attempt=message.attempt, origin=message.origin):
        try:
            with log.step_timer(step) as timing:
                outcome = handler(clients, message)
                timing["result"] = outcome
        except PermanentError as exc:
            log.error("step failed permanently", code=exc.code, reason=exc.message)
            fail_job(clients, message.video_id, step, exc, hooks)
            return "failed"
        if outcome == COMPLETED:
            hooks.job_ended(clients, message.video_id)
        return outcome
