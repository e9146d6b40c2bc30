"""Structured logs: one JSON object per line, in the shape Cloud Logging parses.

Fields: severity, message, agent, video_id, step, attempt, and the trace when the request carries
one. A finished step logs `event="step_finished"` with `duration_s`, `outcome` and `cost_usd`:
the log-based metrics read those. Exceptions carry `stack_trace` so Error Reporting groups them.
"""
from __future__ import annotations

import json
import os
import sys
import time
import traceback
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

# No default: a shared mutable default would be one dict for every context. Read it through _bound_fields().
_context: ContextVar[dict[str, Any]] = ContextVar("log_context")
_REPORTED_ERROR_TYPE = "type.googleapis.com/google.devtools.clouderrorreporting.v1beta1.ReportedErrorEvent"


def new_error_id() -> str:
    """A correlation id for one failure: the API answers it, the log line with the details carries it
    (`error_id`), so support finds the details without the API ever showing them."""
    return uuid.uuid4().hex[:16]


def _bound_fields() -> dict[str, Any]:
    """The fields bound in this context (a fresh empty dict when none are)."""
    return _context.get({})


def bind(**fields: Any) -> None:
    """Attach fields (agent, video_id, step, trace…) to every later line in this context."""
    _context.set({**_bound_fields(), **{k: v for k, v in fields.items() if v is not None}})


@contextmanager
def bound(**fields: Any) -> Iterator[None]:
    """Attach fields for the duration of a block."""
    token = _context.set({**_bound_fields(), **{k: v for k, v in fields.items() if v is not None}})
    try:
        yield
    finally:
        _context.reset(token)


def trace_field(trace_header: str | None, project: str) -> dict[str, str]:
    """The Cloud Logging trace field from an `X-Cloud-Trace-Context` header."""
    if not trace_header:
        return {}
    trace_id = trace_header.split("/", 1)[0]
    return {"logging.googleapis.com/trace": f"projects/{project}/traces/{trace_id}"}


def _emit(severity: str, message: str, fields: dict[str, Any]) -> None:
    entry = {"severity": severity, "message": message, **_bound_fields(), **fields}
    sys.stdout.write(json.dumps(entry, default=str, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def debug(message: str, **fields: Any) -> None:
    if os.environ.get("PIPELINE_DEBUG"):
        _emit("DEBUG", message, fields)


def info(message: str, **fields: Any) -> None:
    _emit("INFO", message, fields)


def warning(message: str, **fields: Any) -> None:
    _emit("WARNING", message, fields)


def error(message: str, **fields: Any) -> None:
    _emit("ERROR", message, fields)


def exception(message: str, exc: BaseException, **fields: Any) -> None:
    """An error with its stack trace, in the form Cloud Error Reporting groups."""
    stack = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    _emit("ERROR", f"{message}: {exc}", {"@type": _REPORTED_ERROR_TYPE, "stack_trace": stack, **fields})


@contextmanager
def step_timer(step: str, **fields: Any) -> Iterator[dict[str, Any]]:
    """Log one `step_finished` line with the step's duration; the block may add `cost_usd`."""
    extra: dict[str, Any] = {}
    started = time.monotonic()
    outcome = "ok"
    with bound(step=step, **fields):
        try:
            yield extra
        except BaseException:
            outcome = "error"
            raise
        finally:
            # Always a number: the log-based cost metric (unit {USD}) cannot read a missing or string value.
            cost = float(extra.pop("cost_usd", 0.0) or 0.0)
            info(f"step {step} finished", event="step_finished", outcome=outcome,
                 duration_s=round(time.monotonic() - started, 3), cost_usd=round(cost, 6), **extra)
