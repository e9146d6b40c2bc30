"""The bounded remedial step after a blocking QA failure: what to change, and when to give up.

Only failures a re-assembly can fix are remedied: loudness, true peak and clipping, by aiming the
mix at a corrected loudness target. Anything else (resolution, duration, subtitles vs script, …)
would come out the same, so the job fails at once with the QA reason. At most
MAX_REMEDIAL_ATTEMPTS re-assemblies per job, and only when its compute still fits the job's max_cost_usd
(shared.pricing.spend.guard): else the job fails with `over_budget` and its receipt.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shared.core.errors import BudgetExhausted, ErrorCode
from shared.pricing import spend
from shared.pricing.presets import Preset

MAX_REMEDIAL_ATTEMPTS = 2
LOUDNESS_CHECKS = frozenset({"integrated_loudness_lufs", "true_peak_dbtp", "clipped_sample_ratio"})
TRUE_PEAK_MARGIN_DB = 0.5
CLIPPING_BACKOFF_DB = 3.0


@dataclass(frozen=True)
class Remedy:
    """Re-assemble with a new loudness target, or fail with a reason."""

    reassemble: bool
    reason: str
    loudness_target_lufs: float | None = None
    code: str = ErrorCode.QA_FAILED  # of the failure when not re-assembling
    status_fields: dict[str, Any] = field(default_factory=dict)  # recorded with that failure (a receipt)


def _measured(qa: dict[str, Any], check: str) -> float | None:
    value = ((qa.get("failed_checks") or {}).get(check) or {}).get("measured")
    return float(value) if isinstance(value, (int, float)) else None


def corrected_target(qa: dict[str, Any], preset: Preset, current: float) -> float | None:
    """The loudness target that should fix the failed loudness checks, or None if they cannot be read."""
    target = current
    failures = set(qa.get("blocking_failures") or [])
    if "integrated_loudness_lufs" in failures:
        measured = _measured(qa, "integrated_loudness_lufs")
        if measured is None:
            return None
        target += preset.loudness_lufs - measured
    if "true_peak_dbtp" in failures:
        peak = _measured(qa, "true_peak_dbtp")
        if peak is None:
            return None
        target -= peak - preset.true_peak_max_dbtp + TRUE_PEAK_MARGIN_DB
    if "clipped_sample_ratio" in failures:
        target -= CLIPPING_BACKOFF_DB
    return round(target, 2)


def plan_remedy(doc: dict[str, Any], preset: Preset) -> Remedy:
    """What the monitor does with a job in qa_failed."""
    qa = doc.get("qa") or {}
    failures = list(qa.get("blocking_failures") or [])
    record = doc.get("remedial") or {}
    attempts = int(record.get("attempts", 0))
    listed = ", ".join(failures) or "unknown"
    if attempts >= MAX_REMEDIAL_ATTEMPTS:
        return Remedy(False, f"QA still failing after {attempts} remedial re-assemblies: {listed}")
    if not failures or not set(failures) <= LOUDNESS_CHECKS:
        return Remedy(False, f"QA failure not fixable by re-assembly: {listed}")
    current = record.get("loudness_target_lufs")
    target = corrected_target(qa, preset, preset.loudness_lufs if current is None else float(current))
    if target is None:
        return Remedy(False, f"QA failure without a measurement to correct: {listed}")
    try:
        spend.guard(doc, spend.reassembly_usd(float(doc.get("duration") or doc.get("planned_seconds") or 0)),
                    "a remedial re-assembly")
    except BudgetExhausted as exc:
        return Remedy(False, exc.message, code=ErrorCode.OVER_BUDGET, status_fields=exc.status_fields)
    return Remedy(True, f"re-assemble with loudness target {target} LUFS to fix {listed}", target)
