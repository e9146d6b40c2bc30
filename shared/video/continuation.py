"""Whether a block may extend the previous block's video, and the plan split when it may not.

A model that cannot extend in the API mode, or a Gemini API file about to pass its retention (contract R1-R3),
makes the block open a new segment from the previous block's last frame; the split is stored on the plan.
"""
from __future__ import annotations

from typing import Any

from shared.core import log, status
from shared.core.config import GEMINI_API, Settings
from shared.core.veo_models import can_extend
from shared.video.run import GENERATING, ChainRun, job_models

RETENTION_MARGIN_SECONDS = 3600.0  # a Gemini API file is treated as expiring this long before its retention ends


def usable_retention_seconds(settings: Settings) -> float:
    """How old a Gemini API file may get before the chain stops relying on it: the retention minus a margin."""
    retention = settings.genai_file_retention_seconds
    return retention - min(RETENTION_MARGIN_SECONDS, retention / 4)


def age_seconds(block: dict[str, Any]) -> float | None:
    """Seconds since a block's operation was submitted (its file is younger than that), if known."""
    since = block.get("submitted_at") or block.get("at")
    return (status.utcnow() - since).total_seconds() if since else None


def split_reason(run: ChainRun, index: int, doc: dict[str, Any]) -> str | None:
    """Why block `index` must not extend the previous block's video as planned (None: it may, or it opens a segment)."""
    if index == 0 or run.plan.starts_segment(index):
        return None
    model = job_models(run.clients, doc)[0]  # one model per chain (contract 8b): the job's, or the fallback in charge
    if not can_extend(model, run.mode):
        return f"{model} cannot extend a video in {run.mode} mode"
    if run.mode == GEMINI_API:
        age = age_seconds((doc.get("blocks") or {}).get(str(index - 1)) or {})
        usable = usable_retention_seconds(run.clients.settings)
        if age is not None and age >= usable:
            return (f"block {index - 1}'s Gemini API video is {age / 3600:.1f} h old; files are deleted after "
                    f"{run.clients.settings.genai_file_retention_seconds / 3600:g} h")
    return None


def check_continuation(run: ChainRun, index: int, doc: dict[str, Any]) -> dict[str, Any]:
    """Before block `index` is submitted: split the plan there when it cannot extend the previous video."""
    reason = split_reason(run, index, doc)
    if reason is None:
        return doc
    plan = run.plan.split_at(index)
    log.warning("veo chain split: the block opens a new segment from the previous block's last frame",
                block=index, reason=reason, segments=len(plan.segments))

    def store(current: dict[str, Any]) -> dict[str, Any]:
        splits = [*(current.get("plan_splits") or []), {"block": index, "reason": reason, "at": status.utcnow()}]
        return {"plan": plan.to_doc(), "planned_seconds": plan.total_seconds, "plan_splits": splits[-20:]}

    doc = status.update_in_status(run.db, run.video_id, GENERATING, store)
    run.plan = plan
    return doc
