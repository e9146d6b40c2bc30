"""Reading HTTP requests: the JSON body within its size limit, and numbers sent as text (query, headers)."""
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
    # ValueError: not JSON, not UTF-8, or an integer beyond Python's int/str limit (4,300 digits);
    # RecursionError: nested too deeply.
    except (ValueError, RecursionError) as exc:
        # The parser's text is not echoed (error bodies carry no exception text, issue 15).
        raise InvalidInputError("body is not valid JSON (or nested too deeply)", code=ErrorCode.INVALID_JSON) from exc


def ascii_digits(raw: str, max_digits: int) -> int | None:
    """The value of `raw` when it is 1..`max_digits` ASCII digits, else None.

    str.isdigit() alone also accepts other scripts' digits ('١٢٣') and superscripts ('²'), and int() of a
    5,000-digit string raises: neither may reach int() unchecked.
    """
    if not raw or len(raw) > max_digits or not (raw.isascii() and raw.isdigit()):
        return None
    return int(raw)
