"""Leases: which invocation is working on a job, until when (its heartbeat).

An agent claims the lease before working and refreshes it while it works. A crashed instance stops
refreshing, its lease expires, and the monitor (or a redelivered message) may take the job over.
`next_attempt_at` tells the monitor when to look at the job again.
"""
from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from google.cloud import firestore

from shared.core import status
from shared.core.errors import IllegalTransition, LeaseHeld
from shared.core.status import Status

GRACE_SECONDS = 60.0  # the default of LEASE_GRACE_SECONDS


def new_owner() -> str:
    return uuid.uuid4().hex


def after(seconds: float) -> dt.datetime:
    """The UTC time `seconds` from now (for `next_attempt_at`)."""
    return status.utcnow() + dt.timedelta(seconds=seconds)


def lease_fields(owner: str, seconds: float, grace_seconds: float = GRACE_SECONDS) -> dict[str, Any]:
    """A lease until `seconds` from now; the monitor looks `grace_seconds` after it expires."""
    until = status.utcnow() + dt.timedelta(seconds=seconds)
    return {"lease": {"owner": owner, "until": until}, "next_attempt_at": until + dt.timedelta(seconds=grace_seconds)}


def is_live(lease: dict[str, Any] | None, owner: str | None = None) -> bool:
    """Whether a lease is held by someone other than `owner` and not yet expired."""
    if not lease or lease.get("owner") == owner:
        return False
    until: dt.datetime = lease["until"]  # a Firestore timestamp (a datetime subclass)
    return until > status.utcnow()


def claim(db: firestore.Client, video_id: str, expected: frozenset[Status], owner: str,
          seconds: float, grace_seconds: float = GRACE_SECONDS) -> dict[str, Any]:
    """Take the lease in a transaction; LeaseHeld if another live invocation has it."""
    def take(doc: dict[str, Any]) -> dict[str, Any]:
        if is_live(doc.get("lease"), owner):
            raise LeaseHeld(video_id)
        return lease_fields(owner, seconds, grace_seconds)

    return status.update_in_status(db, video_id, expected, take)


def release(db: firestore.Client, video_id: str, expected: frozenset[Status], owner: str,
            retry_in: float) -> None:
    """Give the lease up (if still ours); the monitor looks again after `retry_in` seconds."""
    def drop(doc: dict[str, Any]) -> dict[str, Any]:
        if (doc.get("lease") or {}).get("owner") != owner:
            return {}
        return {"lease": None, "next_attempt_at": after(retry_in)}

    try:
        status.update_in_status(db, video_id, expected, drop)
    except IllegalTransition:
        pass
