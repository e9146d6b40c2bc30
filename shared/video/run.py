"""One invocation of the video step working on a job's chain: its state, its models, its heartbeat."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from shared.core import lease, status
from shared.core.clients import Clients
from shared.core.status import Status
from shared.core.veo_models import model_for_mode
from shared.video import veo
from shared.video.plan import VideoPlan

GENERATING = frozenset({Status.VIDEO_GENERATING})
HEARTBEAT_SECONDS = 30.0


@dataclass
class ChainRun:
    """One invocation's working state."""

    clients: Clients
    video_id: str
    owner: str
    deadline: float
    script: dict[str, Any]
    plan: VideoPlan
    character: dict[str, Any] | None = None
    last_heartbeat: float = 0.0
    cache: dict[str, Any] = field(default_factory=dict)

    @property
    def db(self):  # type: ignore[no-untyped-def]
        return self.clients.db

    @property
    def mode(self) -> str:
        return self.clients.settings.genai_mode

    def time_left(self) -> float:
        return self.deadline - time.monotonic()


def plan_model(clients: Clients, doc: dict[str, Any]) -> str:
    """The Veo model a job's plan is made for: its own (the preset's), else VEO_MODEL, as this mode names it."""
    return model_for_mode(doc.get("veo_model") or clients.settings.veo_model, clients.settings.genai_mode)


def job_models(clients: Clients, doc: dict[str, Any]) -> list[str]:
    """The models to try for the next block: the job's model, then the fallback (once it took over, only it)."""
    settings, mode = clients.settings, clients.settings.genai_mode
    primary = veo.model_for_mode(doc.get("veo_model") or settings.veo_model, mode)
    fallback = veo.model_for_mode(settings.veo_fallback_model, mode) if settings.veo_fallback_model else None
    if (doc.get("fallback") or {}).get("model"):
        return [doc["fallback"]["model"]]
    return [primary, fallback] if fallback and fallback != primary else [primary]


def heartbeat_fields(run: ChainRun) -> dict[str, Any]:
    run.last_heartbeat = time.monotonic()
    settings = run.clients.settings
    return lease.lease_fields(run.owner, max(run.time_left(), 0) + settings.video_lease_margin_seconds,
                              settings.lease_grace_seconds)


def heartbeat(run: ChainRun) -> None:
    if time.monotonic() - run.last_heartbeat >= HEARTBEAT_SECONDS:
        status.update_in_status(run.db, run.video_id, GENERATING, lambda doc: heartbeat_fields(run))
