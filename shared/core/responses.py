"""JSON HTTP responses, and the one error shape every HTTP agent answers with.

What an answer may say of a failure (issue 15): its code, a fixed sentence for that code and a correlation id
(`error_id`), never an upstream model's message, ffmpeg's stderr, a temporary path or exception text. Those go
to the log line that carries the same `error_id` (`internal_error_response`, shared.core.runner.record_failure),
and a job's recorded `error` is shown through `public_error`.
"""
from __future__ import annotations

import datetime as dt
import json
from typing import Any

import flask

from shared.core import log
from shared.core.errors import ErrorCode, http_status_of

_MODEL = "the model could not produce a usable result; try again, or change the request"
_MEDIA = "assembling the video failed"
PUBLIC_MESSAGES: dict[str, str] = {
    ErrorCode.VEO_SAFETY_FILTERED: "Veo's safety filter blocked a block again after a rephrase; change the theme "
                                   "or edit the script",
    ErrorCode.VEO_REJECTED: "Veo refused the request", ErrorCode.VEO_INVALID_REQUEST: "Veo refused the request",
    ErrorCode.VEO_FAILED: "Veo returned no video for a block", ErrorCode.VEO_BUSY: "Veo stayed busy; retry later",
    ErrorCode.VEO_INPUT_EXPIRED: "a block's input video expired before it could be extended",
    ErrorCode.VEO_SUBMISSION_UNKNOWN: "a Veo submission's outcome is unknown; an operator reconciles it",
    ErrorCode.VEO_OPERATION_DEADLINE: "Veo did not finish a block in time, several times",
    ErrorCode.OVER_BUDGET: "the next paid step would pass max_cost_usd; the receipt shows what was billed",
    ErrorCode.QA_FAILED: "the video failed quality checks that a re-assembly cannot fix; see the QA report",
    ErrorCode.RETRIES_EXHAUSTED: "a step made no progress after every retry",
    ErrorCode.DEAD_LETTERED: "a step's message could not be processed",
    ErrorCode.CHARACTER_NOT_FOUND: "the character no longer exists",
    ErrorCode.GENERATION_FAILED: _MODEL, ErrorCode.SCRIPT_GENERATION_FAILED: _MODEL, ErrorCode.INVALID_SCRIPT: _MODEL,
    ErrorCode.IMAGE_GENERATION_FAILED: _MODEL,
    ErrorCode.FFMPEG_FAILED: _MEDIA, ErrorCode.FFMPEG_TIMEOUT: _MEDIA, ErrorCode.BAD_MEDIA: _MEDIA,
    ErrorCode.MISSING_MEDIA: _MEDIA, ErrorCode.NO_FRAMES: _MEDIA, ErrorCode.MISSING_TOOL: _MEDIA,
    ErrorCode.UPSTREAM_UNAVAILABLE: "a backing service is busy; retry shortly",
    ErrorCode.INTERNAL: "the request could not be completed",
}


def public_message(code: str) -> str:
    """The fixed sentence an answer gives for a failure's code."""
    return PUBLIC_MESSAGES.get(code, f"the job failed ({code})")


def public_error(error: dict[str, Any] | None) -> dict[str, Any] | None:
    """A job's recorded error as the API shows it: code, step, a fixed message and the log's `error_id`."""
    if not error:
        return None
    code = str(error.get("code") or ErrorCode.INTERNAL)
    shown: dict[str, Any] = {"code": code, "message": public_message(code)}
    if error.get("step"):
        shown["step"] = error["step"]
    if error.get("id"):
        shown["error_id"] = error["id"]
    return shown


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


def internal_error_response(error_code: str, detail: str, *, status: int | None = None,
                            log_message: str = "request failed", **extra: Any) -> flask.Response:
    """An error answer that hides `detail` (upstream text, stderr, paths, exception text): it is logged with a
    fresh `error_id`, and the answer carries the code's fixed message and that id."""
    error_id = log.new_error_id()
    log.error(log_message, error_id=error_id, code=str(error_code), reason=detail)
    return error_response(error_code, public_message(str(error_code)), status=status, error_id=error_id, **extra)
