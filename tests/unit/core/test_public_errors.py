"""What an answer may say of a failure: the code, a fixed message and the correlation id, never the details."""
from __future__ import annotations

import json

import flask

from shared.core.responses import internal_error_response, public_error

UPSTREAM = "Veo rejected the request: MARKER-7f3 /tmp/veo-abc/segment-0.mp4 Traceback (most recent call last)"


def test_a_recorded_error_is_shown_without_its_message():
    shown = public_error({"code": "veo_rejected", "message": UPSTREAM, "step": "video", "id": "abc123"})
    assert shown is not None and shown["error_id"] == "abc123" and shown["code"] == "veo_rejected"
    assert "MARKER-7f3" not in json.dumps(shown) and "/tmp/" not in json.dumps(shown)
    assert public_error(None) is None


def test_an_error_answer_logs_the_detail_with_the_id_it_returns(capsys):
    with flask.Flask("t").app_context():
        response = internal_error_response("generation_failed", UPSTREAM, status=502)
    body = response.get_data(as_text=True)
    assert response.status_code == 502 and "MARKER-7f3" not in body
    error_id = json.loads(body)["error"]["error_id"]
    logged = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert any(e.get("error_id") == error_id and "MARKER-7f3" in e.get("reason", "") for e in logged)
