"""The runner's hooks as the pipeline deploys them: what happens once a job completed or failed.

A finished job queues its webhook: the worker only publishes a WebhookEvent
(shared.ops.webhook_delivery.publish_event); the call itself is made by the webhook function, so no pipeline
worker ever waits on a receiver. It also replaces the job's estimated Veo spend on its user's allowances by what
its ledger billed (shared.pricing.spend.reconcile).
"""
from __future__ import annotations

from google.api_core import exceptions as gexc

from shared.core import log
from shared.core.clients import Clients
from shared.core.runner import Hooks
from shared.ops import webhook_delivery
from shared.pricing import spend


def job_ended(clients: Clients, video_id: str) -> None:
    """Everything a finished job sets off (never raises: the job's end is already recorded)."""
    try:
        spend.reconcile(clients.db, video_id)
    except gexc.GoogleAPICallError as exc:  # the reservation stays (the user is over-, never under-counted)
        log.warning("veo spend not reconciled", video_id=video_id, error=type(exc).__name__)
    webhook_delivery.publish_event(clients, video_id)


PIPELINE_HOOKS = Hooks(job_ended=job_ended)
