"""agent-monitor: called by Cloud Scheduler; resumes stalled jobs with backoff. Its second entry point,
`deliver_webhook`, is the webhook function (Pub/Sub: webhook-events), deployed as agent-monitor-webhooks."""
import flask
import functions_framework
from cloudevents.http import CloudEvent

from shared.core.clients import default_clients
from shared.core.messages import WebhookEvent
from shared.core.runner import run_event
from shared.ops.monitor import handle_request
from shared.ops.webhook_delivery import deliver_event


@functions_framework.http
def monitor_http(request: flask.Request) -> flask.Response:
    """Run one monitor pass."""
    return handle_request(default_clients(), request)


@functions_framework.cloud_event
def deliver_webhook(cloud_event: CloudEvent) -> None:
    """Call one finished job's callback_url (signed, pinned to the checked address, deadline-bound)."""
    run_event(default_clients(), cloud_event, WebhookEvent, "agent-monitor", "webhook", deliver_event)
