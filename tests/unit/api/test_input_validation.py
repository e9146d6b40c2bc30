"""Inputs an outside review answered with HTML 500 pages, through the front door's real request path.

The app here serves every path with shared.api.routes.handle_request, as functions-framework does in production,
and like it turns an exception that escapes into Flask's HTML "500 Internal Server Error" page. Each input must
instead get a 4xx JSON error `{"error": {"code", "message"}}`:

- `ttl` (GET /videos/{id}/files) and `Last-Event-ID` (GET /videos/{id}/events) as non-ASCII digits ('١٢٣',
  '²': str.isdigit() accepts them) or 5,000-digit numbers (int() refuses more than 4,300 digits);
- a JSON integer beyond Python's 4,300-digit limit in any body (json.loads raises a plain ValueError);
- malformed callback hosts (`a..x`, a 64-character label, `[zz]`, `℀`);
- a Firestore-reserved id (`__proto__`) as `character_id` (Firestore refuses to even read such a document).
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import replace
from types import SimpleNamespace
from typing import Any

import flask
import pytest
from google.api_core import exceptions as gexc

from shared.api import routes
from shared.core.clients import Clients
from shared.core.config import settings_from_env
from tests.id_tokens import CERTS, SIGNER, firebase_token

PROJECT = "demo-inputs"
SETTINGS = replace(settings_from_env({"GOOGLE_CLOUD_PROJECT": PROJECT}), auth_mode="id_token")
VIDEO_ID = "v20261123000000-0123456789ab"
USER = "uid123"  # the subject of tests.id_tokens.firebase_token
DOCS = {("video_status", VIDEO_ID): {
    "video_id": VIDEO_ID, "owner": USER, "status": "video_generating", "total_blocks": 2, "completed_blocks": 0,
    "history": [{"status": "script_ready", "at": dt.datetime(2026, 11, 23, tzinfo=dt.UTC)},
                {"status": "video_generating", "at": dt.datetime(2026, 11, 23, 0, 1, tzinfo=dt.UTC)}]}}
RESERVED = re.compile(r"__.*__")


class _Db:
    """Document reads by id, refusing reserved ids the way the Firestore API does (400 InvalidArgument)."""

    def collection(self, name: str) -> Any:
        def document(doc_id: str) -> Any:
            if RESERVED.fullmatch(doc_id):
                raise gexc.InvalidArgument(f'Resource id "{doc_id}" is invalid because it is reserved.')
            data = DOCS.get((name, doc_id))
            return SimpleNamespace(get=lambda: SimpleNamespace(exists=data is not None, to_dict=lambda: data))
        return SimpleNamespace(document=document)


@pytest.fixture
def client() -> Any:
    """A test client of the front door; escaped exceptions become Flask's HTML 500, as in production."""
    clients = Clients(settings=SETTINGS, db=_Db(), publisher=None, storage=None, genai=None)  # type: ignore[arg-type]
    app = flask.Flask("front-door")
    app.config["PROPAGATE_EXCEPTIONS"] = False

    def serve(path: str = "") -> flask.Response:
        return routes.handle_request(clients, flask.request, lambda url: dict(CERTS))

    methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
    app.add_url_rule("/", "root", serve, methods=methods)
    app.add_url_rule("/<path:path>", "any", serve, methods=methods)
    return app.test_client()


def _headers() -> dict[str, str]:
    """A fresh token per request: one minted at import would expire before a long session reaches this file."""
    return {"Authorization": f"Bearer {firebase_token(PROJECT, SIGNER)}"}


def _json_4xx(response: Any, code: str | None = None) -> dict[str, Any]:
    """The error of a 4xx JSON answer (a 5xx or an HTML page fails the test)."""
    assert 400 <= response.status_code < 500, (response.status_code, response.get_data(as_text=True)[:200])
    assert response.mimetype == "application/json", response.get_data(as_text=True)[:200]
    error = response.get_json()["error"]
    assert isinstance(error["code"], str) and error["code"].strip(), error
    assert isinstance(error["message"], str) and error["message"].strip(), error
    if code:
        assert error["code"] == code, error
    return error


NOT_ASCII_NUMBERS = ["١٢٣", "²", "۹", "１２", "5" * 5000, "9" * 4301, "1" * 10, "-1", " 5", "5 ", "0x10", "1e3", "+3"]


@pytest.mark.parametrize("ttl", NOT_ASCII_NUMBERS + [""])
def test_files_ttl_must_be_ascii_digits_of_bounded_length(client, ttl):
    response = client.get(f"/videos/{VIDEO_ID}/files", query_string={"ttl": ttl}, headers=_headers())
    assert _json_4xx(response, "invalid_ttl")["field"] == "ttl"


@pytest.mark.parametrize("last_event_id", NOT_ASCII_NUMBERS)
def test_last_event_id_must_be_an_id_the_stream_sent(client, last_event_id):
    response = client.get(f"/videos/{VIDEO_ID}/events", headers={**_headers(), "Last-Event-ID": last_event_id})
    _json_4xx(response, "invalid_last_event_id")


def test_a_valid_ttl_and_last_event_id_get_past_validation(client, monkeypatch):
    from shared.api import progress, signed_urls

    asked: dict[str, Any] = {}
    monkeypatch.setattr(signed_urls, "delivered_files",
                        lambda storage, settings, doc, ttl: asked.setdefault("ttl", ttl))
    response = client.get(f"/videos/{VIDEO_ID}/files?ttl=120", headers=_headers())
    assert response.status_code == 200 and asked["ttl"] == 120

    def stream(db: Any, video_id: str, after_index: int = -1, **_: Any) -> Any:
        asked["after"] = after_index
        yield "retry: 3000\n\n"

    monkeypatch.setattr(progress, "stream", stream)
    monkeypatch.setattr(progress, "acquire_slot", lambda *args, **kwargs: "slot")  # the fake db has no transactions
    monkeypatch.setattr(progress, "release_slot", lambda *args, **kwargs: None)
    response = client.get(f"/videos/{VIDEO_ID}/events", headers={**_headers(), "Last-Event-ID": "1"})
    assert response.status_code == 200 and asked["after"] == 1
    client.get(f"/videos/{VIDEO_ID}/events", headers=_headers())
    assert asked["after"] == -1, "no header: the stream starts at the beginning"


HUGE = b"9" * 5000  # beyond Python's 4,300-digit int/str limit: json.loads raises ValueError


@pytest.mark.parametrize("method, path, body", [
    ("POST", "/estimate", b'{"theme": ' + HUGE + b"}"),
    ("POST", "/videos", b'{"theme": "a robot", "target_seconds": ' + HUGE + b"}"),
    ("POST", "/", b"[" + HUGE + b"]"),
    ("POST", "/characters", b'{"name": "Ada", "description": "tall", "x": -' + HUGE + b"}"),
    ("PATCH", f"/videos/{VIDEO_ID}/script", b'{"blocks": [{"index": ' + HUGE + b"}]}"),
])
def test_json_integers_beyond_the_digit_limit_are_invalid_json(client, method, path, body):
    response = client.open(path, method=method, data=body, content_type="application/json", headers=_headers())
    _json_4xx(response, "invalid_json")


@pytest.mark.parametrize("method, path", [
    ("POST", "/me/webhook-secret"), ("POST", f"/videos/{VIDEO_ID}/approve"), ("POST", f"/videos/{VIDEO_ID}/views"),
    ("PUT", f"/videos/{VIDEO_ID}/favourite"), ("DELETE", f"/videos/{VIDEO_ID}"),
])
@pytest.mark.parametrize("body", [b"[" + HUGE + b"]", b"{}", b"not json"])
def test_routes_that_take_no_body_refuse_one_before_acting(client, method, path, body):
    response = client.open(path, method=method, data=body, content_type="application/json", headers=_headers())
    _json_4xx(response, "unexpected_body")


@pytest.mark.parametrize("host", ["a..x", f"{'a' * 64}.example.com", "[zz]", "℀", "[::1", "bad host.example"])
def test_malformed_callback_hosts_are_invalid_callback_urls(client, host):
    body = {"theme": "A lighthouse keeper", "callback_url": f"https://{host}/hook"}
    response = client.post("/videos", json=body, headers=_headers())
    assert _json_4xx(response, "invalid_callback_url")["field"] == "callback_url"


@pytest.mark.parametrize("character_id", ["__proto__", "__name__", "____"])
def test_firestore_reserved_ids_are_not_character_ids(client, character_id):
    response = client.post("/videos", json={"theme": "A lighthouse keeper", "character_id": character_id},
                           headers=_headers())
    assert _json_4xx(response, "invalid_character_id")["field"] == "character_id"


def test_an_unknown_character_is_still_a_404(client):
    response = client.post("/videos", json={"theme": "A lighthouse keeper", "character_id": "c0123456789abcdef"},
                           headers=_headers())
    assert response.status_code == 404 and _json_4xx(response, "character_not_found")
