"""The webhook step: a finished job's callback is called by its own function, not by the worker that ended it.

Producers (the pipeline workers' `job_ended` hook, shared.ops.hooks; the dead-letter recorder) publish a small
WebhookEvent (job id, event) to the `webhook-events` topic. agent-monitor's `deliver_webhook` entry point (the
`agent-monitor-webhooks` function) runs `deliver_event` for it, so a slow or dripping receiver only ever holds
that function, for at most WEBHOOK_ATTEMPTS attempts of webhooks.DEADLINE_SECONDS plus the backoff between them.

Retries: in-process with tenacity (shared.ops.webhooks.delivery_retrying), not Pub/Sub redelivery. The backoff
is short (seconds), every attempt lands in one record and the summary is written once at the end, so the step
never leaves its own outcome to the subscription's dead-letter path; Pub/Sub redelivers only when the step
itself failed (Firestore or the function died), and the dead-letter recorder then notes it on the job.

Idempotent at least once (push subscriptions have no exactly-once delivery, and a message whose ack deadline
passes is sent again: https://cloud.google.com/pubsub/docs/exactly-once-delivery): the delivery record
(`webhook_deliveries/{video id}-{event}`) is claimed in a transaction before the first attempt. A redelivered
message finds it `done` and posts nothing; one that arrives while another invocation still holds a live claim is
redelivered later (TransientError); a claim left by a crashed invocation expires (`claim_seconds`, longer than
the worst delivery) and is taken over. The one remaining duplicate (a crash after the receiver's 2xx and before
`done` is written) carries the same `event_id`, which receivers can drop.
"""
from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from google.cloud import firestore

from shared.core import log, status
from shared.core.clients import Clients
from shared.core.config import Settings
from shared.core.errors import TransientError
from shared.core.messages import WebhookEvent, WebhookEventName
from shared.core.pubsub import publish
from shared.core.users import ensure_user
from shared.ops import webhooks

CLAIM_MARGIN_SECONDS = 60.0


def claim_seconds(settings: Settings) -> float:
    """How long a claim holds: longer than the worst delivery (every attempt to its deadline, every backoff wait);
    107 s with the defaults (4 × 10 s + 1 + 2 + 4 s + the margin)."""
    attempts = max(settings.webhook_attempts, 1)
    waits = settings.webhook_backoff_seconds * (2 ** (attempts - 1) - 1)
    return attempts * webhooks.DEADLINE_SECONDS + waits + CLAIM_MARGIN_SECONDS


def event_of(doc: dict[str, Any] | None) -> WebhookEventName | None:
    """The webhook event a job's document calls for (it has a callback and is completed or failed), or None."""
    if not doc or not doc.get("callback_url"):
        return None
    return webhooks.EVENTS.get(doc.get("status") or "")


def publish_event(clients: Clients, video_id: str) -> str | None:
    """The `job_ended` hook: queue the job's webhook on its topic; the message id, None when there is none.

    Never raises: the job's end is already recorded, and a callback must not fail or hold the job.
    """
    try:
        event = event_of(status.read(clients.db, video_id))
        if event is None:
            return None
        return publish(clients.publisher, clients.settings, WebhookEvent(video_id=video_id, event=event))
    except Exception as exc:  # noqa: BLE001 - the job is finished whatever happens to its callback
        log.exception("webhook not queued", exc, video_id=video_id)
        return None


def _claim(db: firestore.Client, ref: Any, owner: str, now: dt.datetime, seconds: float) -> str:
    """'claimed' (this invocation delivers), 'done' (already delivered or given up), 'busy' (a live claim)."""
    @firestore.transactional
    def run(tx: firestore.Transaction) -> str:
        snap = ref.get(transaction=tx)
        record = (snap.to_dict() or {}) if snap.exists else {}
        if record.get("state") == "done":
            return "done"
        claim = record.get("claim") or {}
        if claim.get("until") and claim["until"] > now and claim.get("owner") != owner:
            return "busy"
        tx.set(ref, {"state": "claimed", "claim": {"owner": owner, "until": now + dt.timedelta(seconds=seconds)}},
               merge=True)
        return "claimed"

    result: str = run(db.transaction())
    return result


def deliver_event(clients: Clients, message: WebhookEvent, **delivery: Any) -> str:
    """Deliver one webhook event: 'delivered', 'not_delivered', 'duplicate' or 'skipped' (nothing to call).

    `delivery` passes `resolve`, `post` or `sleep` on to webhooks.deliver (tests).
    """
    doc = status.read(clients.db, message.video_id)
    if event_of(doc) != message.event:
        log.warning("webhook event does not match the job; skipped", event=message.event)
        return "skipped"
    assert doc is not None
    ref = webhooks.delivery_ref(clients, message.video_id, message.event)
    claim = _claim(clients.db, ref, uuid.uuid4().hex, status.utcnow(), claim_seconds(clients.settings))
    if claim == "done":
        log.info("webhook event already delivered; redelivery ignored", event=message.event)
        return "duplicate"
    if claim == "busy":
        raise TransientError("another invocation is delivering this webhook event")
    secret = ensure_user(clients.db, doc.get("owner") or "anonymous")["webhook_secret"]
    summary = webhooks.deliver(clients, doc, secret, **delivery)
    status.update_in_status(clients.db, message.video_id, status.TERMINAL, {"webhook": summary})
    return "delivered" if summary["delivered"] else "not_delivered"
