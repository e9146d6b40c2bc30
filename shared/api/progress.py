"""Live progress: a Server-Sent Events stream of one video's status, fed by a Firestore listener.

    GET /videos/{id}/events      text/event-stream

    event: status     one per entry of the job's history, in order (id = history index)
    event: progress   blocks done/total changed within a status
    event: end        the job reached a terminal status; the stream closes

Each `data:` is JSON {video_id, status, stage, blocks_done, blocks_total, percent, error, at}.
The listener's thread puts snapshots on a queue the response generator reads: no polling. Events are
derived from `history`, so two status changes that land in one snapshot still produce two events.
A reconnecting client sends `Last-Event-ID` and resumes after that history entry; any other value of the
header (not an id this stream sent) is a 400 `invalid_last_event_id`. A resumed stream first sends the job's
current `progress`, so a client never shows a state older than the document.

Capacity (issue 15): every stream ends after SSE_MAX_SECONDS, before agent-script's timeout, with a `retry:`
hint; the client reconnects with `Last-Event-ID` for as long as the job runs. A user holds at most
SSE_STREAMS_PER_USER streams at once (429 `too_many_streams` beyond), counted in Firestore
(`sse_streams/{user id}` {slots: {slot id: expires_at}}) so the limit holds across instances; each slot is a
lease that expires shortly after the stream's own limit, so a crashed instance's slot frees itself.
"""
from __future__ import annotations

import datetime as dt
import json
import math
import queue
import time
import uuid
from collections.abc import Iterator
from typing import Any

import flask
from google.cloud import firestore

from shared.api.http import ascii_digits
from shared.core import layout, log, status
from shared.core.clients import Clients
from shared.core.errors import ErrorCode, InvalidInputError, QuotaError
from shared.core.responses import public_error
from shared.core.retry import contended_retrying
from shared.core.status import Status

HEARTBEAT_SECONDS = 15.0
MAX_STREAM_SECONDS = 240.0  # the default of SSE_MAX_SECONDS (agent-script times out at 300 s)
RECONNECT_MS = 1000  # the `retry:` hint at the end of a stream that hit its time limit
SLOT_MARGIN_SECONDS = 30.0  # a stream's slot outlives its time limit by this (then it frees itself)
LAST_EVENT_ID_MAX_DIGITS = 9  # history indexes; int() never sees a huge string
INVALID_LAST_EVENT_ID = "invalid_last_event_id"  # a 400 (shared.core.errors.http_status_of)
STAGES = {
    "awaiting_approval": "waiting for your approval", "script_ready": "script written",
    "video_generating": "generating video", "video_generated": "video generated", "assembling": "assembling",
    "assembled": "checking quality", "qa_passed": "quality checked", "qa_failed": "repairing",
    "completed": "done", "failed": "failed", "cancelled": "cancelled",
}
_PERCENT = {"awaiting_approval": 2, "script_ready": 5, "video_generated": 75, "assembling": 78,
            "assembled": 90, "qa_failed": 85, "qa_passed": 96, "completed": 100}


def percent(state: str, done: int, total: int) -> int:
    """How far a job in `state` with `done` of `total` blocks is, 0-100 (None-free)."""
    if state == Status.VIDEO_GENERATING.value:
        return 5 + round(70 * done / total) if total else 5
    return _PERCENT.get(state, 0)


def progress_of(doc: dict[str, Any], state: str | None = None) -> dict[str, Any]:
    """The progress summary of a status document (for `state`, default its current status)."""
    state = state or doc.get("status", "")
    done, total = int(doc.get("completed_blocks") or 0), int(doc.get("total_blocks") or 0)
    value = percent(state, done, total)
    if state in ("failed", "cancelled"):  # where it stopped
        earlier = [h["status"] for h in doc.get("history", []) if h["status"] not in ("failed", "cancelled")]
        value = percent(earlier[-1], done, total) if earlier else 0
    return {"video_id": doc.get("video_id"), "status": state, "stage": STAGES.get(state, state),
            "blocks_done": done, "blocks_total": total, "percent": value,
            "error": public_error(doc.get("error")) if state in ("failed", "qa_failed") else None}


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def sse(event: str, data: dict[str, Any], event_id: str | None = None) -> str:
    """One Server-Sent Event."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, default=_json_default, ensure_ascii=False)}\n\n"


class _Cursor:
    """What the stream has already sent."""

    def __init__(self, after_index: int) -> None:
        self.sent = after_index + 1
        self.blocks: tuple[str, int] | None = None

    def events(self, doc: dict[str, Any]) -> list[str]:
        history = doc.get("history") or []
        out = []
        for index in range(self.sent, len(history)):
            entry = history[index]
            latest = index == len(history) - 1
            data = {**progress_of(doc, entry["status"]), "at": entry.get("at")}
            if not latest:
                data.update(error=None)
            out.append(sse("status", data, str(index)))
        self.sent = max(self.sent, len(history))
        current = (doc.get("status", ""), int(doc.get("completed_blocks") or 0))
        changed = self.blocks is not None and current != self.blocks and current[0] == self.blocks[0]
        resumed_quietly = self.blocks is None and not out and self.sent > 0  # nothing new since Last-Event-ID
        if changed or resumed_quietly:
            out.append(sse("progress", progress_of(doc), str(len(history) - 1)))
        self.blocks = current
        return out


def _last_event_index(request: flask.Request) -> int:
    """The history index a reconnecting client last received (-1 without the header); a 400 for anything but
    the ids this stream sends (ASCII digits, at most LAST_EVENT_ID_MAX_DIGITS)."""
    raw = request.headers.get("Last-Event-ID", "")
    if not raw:
        return -1
    index = ascii_digits(raw, LAST_EVENT_ID_MAX_DIGITS)
    if index is None:
        raise InvalidInputError("Last-Event-ID must be the id of an event of this stream (a whole number)",
                                code=INVALID_LAST_EVENT_ID, field="Last-Event-ID")
    return index


def stream(db: firestore.Client, video_id: str, after_index: int = -1,
           max_seconds: float = MAX_STREAM_SECONDS, heartbeat: float = HEARTBEAT_SECONDS) -> Iterator[str]:
    """SSE text for one job until it is terminal (or `max_seconds` pass); the listener stops on exit."""
    snapshots: queue.Queue[dict[str, Any]] = queue.Queue()

    def on_snapshot(docs: list[Any], _changes: Any, _read_time: Any) -> None:
        for snap in docs:
            if snap.exists:
                snapshots.put(snap.to_dict() or {})

    watch = status.doc_ref(db, video_id).on_snapshot(on_snapshot)
    cursor, deadline = _Cursor(after_index), time.monotonic() + max_seconds
    try:
        yield "retry: 3000\n\n"
        while (left := deadline - time.monotonic()) > 0:
            try:
                doc = snapshots.get(timeout=min(heartbeat, left))
            except queue.Empty:
                yield ": keep-alive\n\n"
                continue
            yield from cursor.events(doc)
            if Status(doc["status"]) in status.TERMINAL:
                yield sse("end", progress_of(doc))
                return
        yield f"retry: {RECONNECT_MS}\n: time limit of this stream; reconnect with Last-Event-ID\n\n"
    finally:
        watch.unsubscribe()
        log.debug("progress stream closed", video_id=video_id)


def _live_slots(doc: dict[str, Any], now: dt.datetime) -> dict[str, dt.datetime]:
    return {slot: until for slot, until in (doc.get("slots") or {}).items() if until > now}


def acquire_slot(db: firestore.Client, user_id: str, limit: int, lease_seconds: float,
                 now: dt.datetime | None = None) -> str:
    """Take one of the user's stream slots for `lease_seconds` (a transaction); 429 `too_many_streams` when all
    `limit` are held, with the seconds until the first one expires."""
    ref = db.collection(layout.SSE_STREAMS).document(user_id)
    slot = uuid.uuid4().hex

    @firestore.transactional
    def run(tx: firestore.Transaction) -> None:
        at = now or status.utcnow()
        snap = ref.get(transaction=tx)
        live = _live_slots((snap.to_dict() or {}) if snap.exists else {}, at)
        if len(live) >= limit:
            retry = math.ceil((min(live.values()) - at).total_seconds())
            raise QuotaError(f"at most {limit} progress streams at once; close one (or wait)",
                             code=ErrorCode.TOO_MANY_STREAMS, retry_after=retry)
        tx.set(ref, {"slots": {**live, slot: at + dt.timedelta(seconds=lease_seconds)}})

    contended_retrying("stream slots")(lambda: run(db.transaction()))
    return slot


def release_slot(db: firestore.Client, user_id: str, slot: str) -> None:
    """Give a stream's slot back (its stream ended)."""
    try:
        db.collection(layout.SSE_STREAMS).document(user_id).update({f"slots.`{slot}`": firestore.DELETE_FIELD})
    except Exception as exc:  # noqa: BLE001 - the slot expires by itself; a failed release must not break the stream
        log.warning("stream slot not released (it expires by itself)", error=type(exc).__name__)


def stream_response(clients: Clients, video_id: str, request: flask.Request, user_id: str) -> flask.Response:
    """The streaming HTTP response (no buffering by proxies), in one of the user's stream slots."""
    settings, db = clients.settings, clients.db
    after = _last_event_index(request)
    slot = acquire_slot(db, user_id, settings.sse_streams_per_user, settings.sse_max_seconds + SLOT_MARGIN_SECONDS)

    def body() -> Iterator[str]:
        try:
            yield from stream(db, video_id, after, max_seconds=settings.sse_max_seconds)
        finally:
            release_slot(db, user_id, slot)

    return flask.Response(flask.stream_with_context(body()), status=200, mimetype="text/event-stream",
                          headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
