"""The job state machine: every status, every legal transition, and the transaction that applies one.

    script_ready → video_generating → video_generated → assembling → assembled → qa_passed → completed
                                                            ↑                 ↘ qa_failed
                                                            └─────────────────────┘ (remedial re-assembly)
    every non-terminal status → failed

    awaiting_approval → script_ready (approved: Veo starts) | cancelled      (a request with `review`)

`completed` is set by QA, so a completed job always has a checked delivery and its QA report.
A transition is applied in a Firestore transaction that reads the current status first: a late or
duplicate message can never move a job backwards or repeat a paid step.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from google.cloud import firestore

from shared.core import layout, log
from shared.core.errors import IllegalTransition


# Not StrEnum: with (str, Enum), str(Status.X) and f"{Status.X}" give "Status.X", and logs carry that
# (runner.record_failure logs str(illegal.current)); StrEnum would give the bare value and change them.
class Status(str, Enum):  # noqa: UP042 - keeps str()/format() output as it is (see above)
    SCRIPT_READY = "script_ready"
    VIDEO_GENERATING = "video_generating"
    VIDEO_GENERATED = "video_generated"
    ASSEMBLING = "assembling"
    ASSEMBLED = "assembled"
    QA_PASSED = "qa_passed"
    QA_FAILED = "qa_failed"
    COMPLETED = "completed"
    FAILED = "failed"
    AWAITING_APPROVAL = "awaiting_approval"  # review requested: the script waits for the user
    CANCELLED = "cancelled"


S = Status
TRANSITIONS: dict[Status, frozenset[Status]] = {
    S.SCRIPT_READY: frozenset({S.VIDEO_GENERATING, S.FAILED}),
    S.VIDEO_GENERATING: frozenset({S.VIDEO_GENERATED, S.FAILED}),
    S.VIDEO_GENERATED: frozenset({S.ASSEMBLING, S.FAILED}),
    S.ASSEMBLING: frozenset({S.ASSEMBLED, S.FAILED}),
    S.ASSEMBLED: frozenset({S.QA_PASSED, S.QA_FAILED, S.FAILED}),
    S.QA_PASSED: frozenset({S.COMPLETED, S.FAILED}),
    S.QA_FAILED: frozenset({S.ASSEMBLING, S.FAILED}),
    S.COMPLETED: frozenset(),
    S.FAILED: frozenset(),
    S.AWAITING_APPROVAL: frozenset({S.SCRIPT_READY, S.CANCELLED, S.FAILED}),
    S.CANCELLED: frozenset(),
}
TERMINAL: frozenset[Status] = frozenset(s for s, nxt in TRANSITIONS.items() if not nxt)
ORDER: tuple[Status, ...] = (S.SCRIPT_READY, S.VIDEO_GENERATING, S.VIDEO_GENERATED, S.ASSEMBLING,
                             S.ASSEMBLED, S.QA_PASSED, S.COMPLETED)


def can_transition(current: Status, target: Status) -> bool:
    """Whether `current → target` is a legal transition."""
    return target in TRANSITIONS[current]


def is_past(current: Status, step_status: Status) -> bool:
    """Whether a job in `current` has already gone beyond `step_status` on the happy path."""
    if current in TERMINAL:
        return True
    if current not in ORDER or step_status not in ORDER:
        return False
    return ORDER.index(current) > ORDER.index(step_status)


@dataclass(frozen=True)
class Applied:
    """The result of a transaction: the status before and the document after."""

    previous: Status
    document: dict[str, Any]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def doc_ref(db: firestore.Client, video_id: str) -> firestore.DocumentReference:
    return db.collection(layout.VIDEO_STATUS).document(video_id)


def read(db: firestore.Client, video_id: str) -> dict[str, Any] | None:
    """The status document, or None."""
    snap = doc_ref(db, video_id).get()
    return snap.to_dict() if snap.exists else None


def history_entry(status: Status, at: dt.datetime, **extra: Any) -> dict[str, Any]:
    return {"status": status.value, "at": at, **extra}


INITIAL: frozenset[Status] = frozenset({S.SCRIPT_READY, S.AWAITING_APPROVAL})


def create(db: firestore.Client, video_id: str, fields: dict[str, Any],
           initial: Status = S.SCRIPT_READY) -> dict[str, Any]:
    """Create the status document in `script_ready` (or `awaiting_approval`); fails if it already exists."""
    if initial not in INITIAL:
        raise ValueError(f"a job cannot start in {initial.value}")
    now = utcnow()
    doc = {
        **fields,
        "video_id": video_id,
        "status": initial.value,
        "created_at": now,
        "updated_at": now,
        "history": [history_entry(initial, now)],
    }
    doc_ref(db, video_id).create(doc)
    log.info("status changed", event="status_changed", video_id=video_id, status=initial.value)
    return doc


Mutator = Callable[[dict[str, Any]], dict[str, Any]]


def transition(db: firestore.Client, video_id: str, target: Status,
               fields: dict[str, Any] | Mutator | None = None,
               *, allowed_from: frozenset[Status] | None = None) -> Applied:
    """Move the job to `target` in a transaction, merging `fields` (or the fields a callable returns).

    Raises IllegalTransition when the current status forbids it (or is not in `allowed_from`).
    """
    ref = doc_ref(db, video_id)

    @firestore.transactional
    def run(tx: firestore.Transaction) -> Applied:
        snap = ref.get(transaction=tx)
        doc = snap.to_dict() if snap.exists else None
        if doc is None:
            raise IllegalTransition(video_id, None, target)
        current = Status(doc["status"])
        if not can_transition(current, target) or (allowed_from and current not in allowed_from):
            raise IllegalTransition(video_id, current, target)
        extra = fields(doc) if callable(fields) else dict(fields or {})
        now = utcnow()
        update = {**extra, "status": target.value, "updated_at": now,
                  "history": [*doc.get("history", []), history_entry(target, now)]}
        tx.update(ref, update)
        return Applied(current, {**doc, **update})

    applied: Applied = run(db.transaction())  # firestore.transactional's wrapper returns Any
    log.info("status changed", event="status_changed", video_id=video_id,
             status=target.value, previous=applied.previous.value)
    return applied


def update_in_status(db: firestore.Client, video_id: str, expected: frozenset[Status],
                     fields: dict[str, Any] | Mutator) -> dict[str, Any]:
    """Merge fields without changing status, only while the job is in one of `expected`.

    `fields` may be a callable that receives the current document and returns the update; it may
    raise to abort the transaction. Returns the merged document.
    """
    ref = doc_ref(db, video_id)

    @firestore.transactional
    def run(tx: firestore.Transaction) -> dict[str, Any]:
        snap = ref.get(transaction=tx)
        doc = snap.to_dict() if snap.exists else None
        if doc is None:
            raise IllegalTransition(video_id, None, next(iter(expected)))
        current = Status(doc["status"])
        if current not in expected:
            raise IllegalTransition(video_id, current, next(iter(expected)))
        update = fields(doc) if callable(fields) else dict(fields)
        if update:
            update["updated_at"] = utcnow()
            tx.update(ref, update)
        return {**doc, **update}

    merged: dict[str, Any] = run(db.transaction())  # firestore.transactional's wrapper returns Any
    return merged
