"""JSON HTTP responses, and the one error shape every HTTP agent answers with."""
from __future__ import annotations

import datetime as dt
import json
from typing import Any

import flask


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def json_response(payload: Any, code: int, headers: dict[str, str] | None = None) -> flask.Response:
    body = json.dumps(payload, default=_json_default, ensure_ascii=False)
    return flask.Response(body, status=code, headers=headers or {}, mimetype="application/json")


def error_response(code: int, error_code: str, message: str, **extra: Any) -> flask.Response:
    """`{"error": {"code", "message", ...}}`; 429/503 carry Retry-After."""
    headers = {"Retry-After": "30"} if code in (429, 503) else None
    return json_response({"error": {"code": error_code, "message": message, **extra}}, code, headers)
