"""agent-script: the HTTP front door. A theme in, a script written by Gemini, the video step started."""
import flask
import functions_framework

from shared.clients import default_clients
from shared.front_door import handle_request


@functions_framework.http
def script_http(request: flask.Request) -> flask.Response:
    """POST /videos creates a video; GET /videos/{id} reads its status."""
    return handle_request(default_clients(), request)
