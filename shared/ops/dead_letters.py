"""Dead-lettered messages: parked by an agent that can never process them, recorded by the monitor.

Two ways in to the dead-letter topic (shared.core.topics.DEAD_LETTER):
- an agent receives a payload that can never succeed (not JSON, wrong schema or kind, too large):
  `shared.core.pubsub.park_dead_letter` republishes it there with attributes {reason, source_topic} and the
  agent acknowledges it, so it does not burn the subscription's delivery attempts;
- a step kept failing transiently: after MAX_DELIVERY_ATTEMPTS Pub/Sub moves the message there itself.

Each monitor pass pulls the dead-letter subscription (`record_dead_letters`) and for each message:
- a step message whose job exists is appended to the job's `dead_letters` (idempotent on the message
  id); a message Pub/Sub dead-lettered also fails the job with `dead_lettered`, in the same
  transaction, unless the job is terminal or already past that step;
- anything else (unparseable, oversized, no such job) goes to the `dead_letters` collection with a
  truncated payload, its size and the reason.
Then the message is acknowledged: a poison message becomes a visible record, never a loop.
"""
from __future__ import annotations

import base64
from typing import Any

import google.cloud.pubsub_v1 as pubsub_v1
from google.api_core import exceptions as gexc

from shared.core import layout, log, messages, status
from shared.core.clients import Clients
from shared.core.errors import ErrorCode, IllegalTransition, InvalidInputError
from shared.core.status import Status
from shared.core.topics import DEAD_LETTER_SUBSCRIPTION
from shared.ops import hooks

PAYLOAD_KEPT_BYTES = 1024
MAX_PER_PASS = 500
PULL_BATCH = 100
PULL_TIMEOUT_SECONDS = 20.0
EXHAUSTED = "delivery_attempts_exhausted"
# Attributes Pub/Sub adds to a message it dead-lettered.
SOURCE_SUBSCRIPTION = "CloudPubSubDeadLetterSourceSubscription"
SOURCE_DELIVERIES = "CloudPubSubDeadLetterSourceDeliveryCount"
# The status a step message asks to leave; a job already past it has moved on.
STEP_STATUS = {"video_request": Status.VIDEO_GENERATING, "assembly_request": Status.ASSEMBLING,
               "qa_request": Status.QA_PASSED}


class _AlreadyRecorded(Exception):
    pass


def _number(raw: str | None) -> int | None:
    return int(raw) if raw and raw.isdigit() else None


def _entry(message: Any, size: int) -> dict[str, Any]:
    """What is recorded of one dead-lettered message (without its payload)."""
    attributes = dict(message.attributes)
    return {"message_id": message.message_id, "reason": attributes.get("reason") or EXHAUSTED,
            "at": status.utcnow(), "topic": attributes.get("source_topic"),
            "subscription": attributes.get(SOURCE_SUBSCRIPTION),
            "delivery_attempts": _number(attributes.get(SOURCE_DELIVERIES)),
            "size": _number(attributes.get("size")) or size, "detail": attributes.get("detail")}


def _decoded(data: bytes) -> tuple[messages.StepMessage | None, str]:
    """The step message in a payload, or None and why it can never be processed."""
    try:
        return messages.decode(data), ""
    except InvalidInputError as exc:
        return None, exc.code


def _record_on_job(clients: Clients, step: messages.StepMessage, entry: dict[str, Any]) -> str:
    """Append the entry to the job (and fail it if Pub/Sub gave up on its step); the outcome."""
    def add(doc: dict[str, Any]) -> dict[str, Any]:
        known = doc.get("dead_letters") or []
        if any(item.get("message_id") == entry["message_id"] for item in known):
            raise _AlreadyRecorded(entry["message_id"])
        return {"dead_letters": [*known, {**entry, "kind": step.kind}][-20:]}

    try:
        if entry["reason"] == EXHAUSTED and step.kind in STEP_STATUS and _fail_job(clients, step, entry, add):
            return "failed"
        status.update_in_status(clients.db, step.video_id, frozenset(Status), add)
    except _AlreadyRecorded:
        return "duplicate"
    except IllegalTransition:
        return "unknown_job"
    return "recorded"


def _fail_job(clients: Clients, step: messages.StepMessage, entry: dict[str, Any], add: Any) -> bool:
    """Fail the job with `dead_lettered` if it still waits on the step; False when it is terminal or past it."""
    waiting = frozenset(s for s in Status if not status.is_past(s, STEP_STATUS[step.kind]))
    error = {"code": ErrorCode.DEAD_LETTERED, "step": step.kind,
             "message": f"{step.kind} dead-lettered after {entry['delivery_attempts'] or 'its'} delivery attempts"}
    try:
        status.transition(clients.db, step.video_id, Status.FAILED,
                          lambda doc: {**add(doc), "error": error, "lease": None}, allowed_from=waiting)
    except IllegalTransition as illegal:
        if illegal.current is None:
            raise
        return False
    log.error("job failed: its step message was dead-lettered", video_id=step.video_id, kind=step.kind)
    hooks.job_ended(clients, step.video_id)  # spend reconciled, webhook
    return True


def _park_record(clients: Clients, data: bytes, entry: dict[str, Any]) -> str:
    """Keep an unattributable message in the `dead_letters` collection (once per message id)."""
    kept = data[:PAYLOAD_KEPT_BYTES]
    record = {**entry, "payload_truncated": len(data) > PAYLOAD_KEPT_BYTES,
              "payload": kept.decode("utf-8", "replace"), "payload_b64": base64.b64encode(kept).decode()}
    try:
        clients.db.collection(layout.DEAD_LETTERS).document(entry["message_id"]).create(record)
    except gexc.AlreadyExists:
        return "duplicate"
    return "parked"


def record_message(clients: Clients, message: Any) -> str:
    """Record one dead-lettered message; what was done (failed, recorded, parked, duplicate)."""
    data = bytes(message.data)
    entry = _entry(message, len(data))
    step, undecodable = _decoded(data)
    outcome = _record_on_job(clients, step, entry) if step else "unknown_job"
    if outcome == "unknown_job":
        reason = undecodable if entry["reason"] == EXHAUSTED and undecodable else entry["reason"]
        outcome = _park_record(clients, data, {**entry, "reason": reason, "video_id": step and step.video_id})
    log.warning("dead-lettered message recorded", message_id=message.message_id, outcome=outcome,
                reason=entry["reason"], size=entry["size"])
    return outcome


def _record_safely(clients: Clients, message: Any) -> str:
    """record_message, or "errors" (logged) so that one bad record never stops the monitor's pass."""
    try:
        return record_message(clients, message)
    except Exception as exc:  # noqa: BLE001 - the message stays unacknowledged and is retried next pass
        log.exception("dead-lettered message not recorded; retried next pass", exc, message_id=message.message_id)
        return "errors"


def record_dead_letters(clients: Clients) -> dict[str, int]:
    """Pull the dead-letter subscription, record and acknowledge each message; counts by outcome."""
    settings = clients.settings
    counts = {"failed": 0, "recorded": 0, "parked": 0, "duplicate": 0, "errors": 0}
    subscriber = pubsub_v1.SubscriberClient()
    path = subscriber.subscription_path(settings.project, settings.topic_prefix + DEAD_LETTER_SUBSCRIPTION)
    try:
        while sum(counts.values()) < MAX_PER_PASS:
            response = subscriber.pull(subscription=path, max_messages=PULL_BATCH, return_immediately=True,
                                       timeout=PULL_TIMEOUT_SECONDS)
            if not response.received_messages:
                break
            for received in response.received_messages:
                outcome = _record_safely(clients, received.message)
                counts[outcome] += 1
                if outcome != "errors":
                    subscriber.acknowledge(subscription=path, ack_ids=[received.ack_id])
            if counts["errors"]:
                break  # unacknowledged messages come back: leave them for the next pass
    finally:
        subscriber.close()
    return counts
