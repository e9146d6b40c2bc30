"""JSON HTTP responses, and the one error shape every HTTP agent answers with."""
from __future__ import annotations

import datetime as dt
import json
from typing import Any

import flask

from shared.core.errors import http_status_of


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def json_response(payload: Any, code: int, headers: dict[str, str] | None = None) -> flask.Response:
    body = json.dumps(payload, default=_json_default, ensure_ascii=False)
    return flask.Response(body, status=code, headers=headers or {}, mimetype="application/json")


def error_response(error_code: str, message: str, *, status: int | None = None, **extra: Any) -> flask.Response:
    """`{"error": {"code", "message", ...}}` with the code's HTTP status (shared.core.errors.ErrorCode) unless
    `status` overrides it; 429/503 carry Retry-After."""
    code = status or http_status_of(error_code)
    headers = {"Retry-After": "30"} if code in (429, 503) else None
    return json_response({"error": {"code": str(error_code), "message": message, **extra}}, code, headers)
