"""The job: the typed view of a `video_status/{id}` document, and `require_job` for a step that needs one.

The document stays a Firestore map (transactions merge fields into it); `Job` names the fields every
step relies on and keeps the rest in `extra`, so `Job.from_doc(doc).to_doc() == doc`.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, fields
from typing import Any

from google.cloud import firestore

from shared.core import status
from shared.core.errors import ErrorCode, InvalidInputError
from shared.core.status import Status


@dataclass(frozen=True)
class Job:
    """The fields of a status document that the pipeline's steps read."""

    video_id: str
    status: Status
    owner: str | None = None
    preset: str | None = None
    script_uri: str | None = None
    total_blocks: int = 0
    completed_blocks: int = 0
    planned_seconds: int | None = None
    plan: dict[str, Any] | None = None
    blocks: dict[str, dict[str, Any]] = field(default_factory=dict)
    usage: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    error: dict[str, Any] | None = None
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    present: frozenset[str] = field(default=frozenset(), compare=False, repr=False)  # named fields the doc had

    @property
    def is_terminal(self) -> bool:
        return self.status in status.TERMINAL

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Job:
        """The typed job of a status document (fields it does not name stay in `extra`)."""
        named = {f.name for f in fields(cls)} - {"extra", "present"}
        values = {k: v for k, v in doc.items() if k in named}
        values["status"] = Status(doc["status"])
        for key in ("blocks", "usage"):
            values[key] = dict(values.get(key) or {})
        values["history"] = list(values.get("history") or [])
        return cls(**values, extra={k: v for k, v in doc.items() if k not in named},
                   present=frozenset(k for k in doc if k in named))

    def to_doc(self) -> dict[str, Any]:
        """The document again: the named fields it had (or that were set since), then `extra`."""
        doc: dict[str, Any] = {}
        for f in fields(self):
            if f.name in ("extra", "present"):
                continue
            value = getattr(self, f.name)
            if f.name in self.present or (value is not None and value != f.default and value not in ({}, [])):
                doc[f.name] = value.value if isinstance(value, Status) else value
        return {**doc, **self.extra}


def unknown_job(video_id: str) -> InvalidInputError:
    return InvalidInputError(f"no job {video_id}", code=ErrorCode.UNKNOWN_JOB)


def require_job(db: firestore.Client, video_id: str) -> Job:
    """The job `video_id`; InvalidInputError `unknown_job` (a permanent failure) when there is none."""
    doc = status.read(db, video_id)
    if doc is None:
        raise unknown_job(video_id)
    return Job.from_doc(doc)
