"""agent-script: the HTTP front door. A theme in, a script written by Gemini, the video step started."""
import flask
import functions_framework

from shared.api.routes import handle_request
from shared.core.clients import default_clients
from shared.core.errors import ErrorCode
from shared.core.responses import error_response


@functions_framework.http
def script_http(request: flask.Request) -> flask.Response:
    """POST /videos creates a video; GET /videos/{id} reads its status."""
    return handle_request(default_clients(), request)


@functions_framework.errorhandler(404)
def not_routed(_error: Exception) -> flask.Response:
    """Paths the framework answers itself (/robots.txt, /favicon.ico, paths with a newline) in the API's error shape."""
    return error_response(ErrorCode.NOT_FOUND, f"no route {flask.request.method} {flask.request.path}")
