"""The studio client's errors: API answers → one readable line and a documented exit code; SSE parsing."""
from __future__ import annotations

import pytest
import requests

from infra.studio.api import (
    EXIT_NOT_FOUND,
    EXIT_REFUSED,
    EXIT_SERVER,
    api_error,
    error_message,
    exit_code_for_status,
    parse_sse,
)


@pytest.mark.parametrize("status, code", [(400, EXIT_REFUSED), (401, EXIT_REFUSED), (409, EXIT_REFUSED),
                                          (422, EXIT_REFUSED), (429, EXIT_REFUSED), (404, EXIT_NOT_FOUND),
                                          (500, EXIT_SERVER), (502, EXIT_SERVER), (503, EXIT_SERVER)])
def test_http_status_maps_to_exit_code(status, code):
    assert exit_code_for_status(status) == code


def test_error_message_reads_the_api_error_body():
    body = {"error": {"code": "invalid_theme", "message": "theme: too short", "field": "theme"}}
    assert error_message(400, body) == "theme: too short (invalid_theme, HTTP 400) [field: theme]"
    assert error_message(429, {"error": {"code": "rate_limited", "message": "slow down"}}, "12").endswith(
        "retry in 12 s")


def test_error_message_survives_a_body_that_is_not_the_api_s():
    assert error_message(502, "<html>Bad Gateway</html>") == "HTTP 502: <html>Bad Gateway</html>"
    assert error_message(500, "") == "HTTP 500: no details"


def test_api_error_of_a_response_carries_its_exit_code():
    response = requests.Response()
    response.status_code, response._content = 404, b'{"error": {"code": "not_found", "message": "no video"}}'
    error = api_error(response)
    assert error.exit_code == EXIT_NOT_FOUND and error.message == "no video (not_found, HTTP 404)"


def test_parse_sse_yields_complete_events_and_skips_comments():
    lines = ["retry: 3000", "", ": keep-alive", "", "id: 0", "event: status", 'data: {"percent": 5}', "",
             "event: end", 'data: {"percent": 100}', "", "event: status", 'data: {"cut": true}']
    assert list(parse_sse(lines)) == [("status", {"percent": 5}, "0"), ("end", {"percent": 100}, "0")]
