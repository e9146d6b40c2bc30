"""agent-monitor: called by Cloud Scheduler; resumes stalled jobs with backoff."""
import flask
import functions_framework

from shared.core.clients import default_clients
from shared.ops.monitor import handle_request


@functions_framework.http
def monitor_http(request: flask.Request) -> flask.Response:
    """Run one monitor pass."""
    return handle_request(default_clients(), request)
