"""Reading HTTP requests: the JSON body within its size limit."""
from __future__ import annotations

import json
from typing import Any

import flask

from shared.core.errors import ErrorCode, InvalidInputError

MAX_BODY_BYTES = 16 * 1024


def read_json_body(request: flask.Request) -> Any:
    """The request's JSON body, within the size limit; InvalidInputError otherwise."""
    if request.content_length and request.content_length > MAX_BODY_BYTES:
        raise InvalidInputError(f"body larger than {MAX_BODY_BYTES} bytes", code=ErrorCode.BODY_TOO_LARGE)
    if not request.is_json:
        raise InvalidInputError("Content-Type must be application/json", code=ErrorCode.UNSUPPORTED_MEDIA_TYPE)
    raw = request.get_data(cache=False)
    if len(raw) > MAX_BODY_BYTES:
        raise InvalidInputError(f"body larger than {MAX_BODY_BYTES} bytes", code=ErrorCode.BODY_TOO_LARGE)
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:  # too deeply nested: RecursionError
        raise InvalidInputError(f"body is not valid JSON: {exc}", code=ErrorCode.INVALID_JSON) from exc
