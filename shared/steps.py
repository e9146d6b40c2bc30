"""Running one event step: decode the CloudEvent, bind log context, split transient from permanent errors."""
from __future__ import annotations

from typing import Any, Callable, TypeVar

from shared import log, status
from shared.clients import Clients
from shared.errors import InvalidInputError, PermanentError
from shared.messages import StepMessage, message_from_cloud_event
from shared.status import Status

M = TypeVar("M", bound=StepMessage)


def fail_job(clients: Clients, video_id: str, step: str, exc: PermanentError) -> None:
    """Record a permanent failure on the job (no-op if the job is already terminal)."""
    error = {"code": exc.code, "message": exc.message[:1000], "step": step}
    try:
        status.transition(clients.db, video_id, Status.FAILED, {"error": error, "lease": None})
    except status.IllegalTransition as illegal:
        log.warning("job not failed: already terminal", video_id=video_id, current=str(illegal.current))


def run_event(clients: Clients, cloud_event: Any, expected: type[M], agent: str, step: str,
              handler: Callable[[Clients, M], str]) -> str:
    """Decode and run one step. Transient errors propagate (→ redelivery); permanent ones fail the job.

    A malformed message has no job to fail: it is raised, so after the subscription's delivery attempts
    it lands on the dead-letter topic instead of being lost silently.
    """
    log.bind(agent=agent, step=step, event_id=cloud_event["id"])
    try:
        message = message_from_cloud_event(cloud_event, expected)
    except InvalidInputError as exc:
        log.error("malformed message rejected", code=exc.code, reason=exc.message)
        raise
    with log.bound(video_id=message.video_id, attempt=message.attempt, origin=message.origin):
        try:
            with log.step_timer(step) as timing:
                outcome = handler(clients, message)
                timing["result"] = outcome
            return outcome
        except PermanentError as exc:
            log.error("step failed permanently", code=exc.code, reason=exc.message)
            fail_job(clients, message.video_id, step, exc)
            return "failed"
