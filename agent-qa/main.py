"""agent-qa: checks the delivered file against its spec (Pub/Sub: qa-requests)."""
import functions_framework
from cloudevents.http import CloudEvent

from shared.core.clients import default_clients
from shared.core.messages import QaRequest
from shared.core.runner import run_event
from shared.ops.hooks import PIPELINE_HOOKS
from shared.qa.step import check_delivery


@functions_framework.cloud_event
def qa_event(cloud_event: CloudEvent) -> None:
    """Check the delivery; complete the job or hold it as qa_failed."""
    run_event(default_clients(), cloud_event, QaRequest, "agent-qa", "qa", check_delivery, PIPELINE_HOOKS)
