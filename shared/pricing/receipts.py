"""A finished job's receipt: what the ledger on its status document says was billed (Veo seconds per model,
delivered only; tokens, thinking included; images) plus the compute measured from its history, priced with
the dated table (shared.pricing.prices) and compared with the job's estimate: within ±5 % or it says why.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from shared.pricing.costs import usage_gemini_usd, usage_speech_usd, veo_usd
from shared.pricing.prices import (
    COMPUTE_PRICE_PER_GIB_SECOND,
    COMPUTE_PRICE_PER_VCPU_SECOND,
    IMAGE_PRICE_PER_IMAGE,
    PRICES_AS_OF,
)

TOLERANCE_PCT = 5.0
# (vCPU, GiB) per agent, as deployed (infra/gcp/functions.json).
AGENT_RESOURCES: dict[str, tuple[float, float]] = {
    "agent-script": (1, 0.5), "agent-video-veo31": (1, 1), "agent-assembler": (2, 4), "agent-qa": (1, 1)}
# Status intervals billed as each agent's compute: the agent works from the first to the second.
_COMPUTE_INTERVALS = (("agent-video-veo31", "video_generating", ("video_generated", "failed")),
                      ("agent-assembler", "assembling", ("assembled", "failed")),
                      ("agent-qa", "assembled", ("qa_passed", "qa_failed", "failed")))


def compute_usd(agent: str, seconds: float) -> float:
    """Price of `seconds` of one agent's instance time."""
    vcpu, gib = AGENT_RESOURCES[agent]
    return seconds * (vcpu * COMPUTE_PRICE_PER_VCPU_SECOND + gib * COMPUTE_PRICE_PER_GIB_SECOND)


def lines_total(lines: dict[str, float]) -> float:
    return round(sum(lines.values()), 4)


def total_of(estimate: dict[str, Any]) -> float:
    """The estimated total in USD."""
    return float(estimate["cost_usd"]["total"])


def _as_datetime(value: Any) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, str):
        return dt.datetime.fromisoformat(value)
    return None


def measured_compute_seconds(history: Iterable[dict[str, Any]], now: dt.datetime,
                             script_seconds: float) -> dict[str, float]:
    """Seconds each agent worked, from the status history (every entry into a working status counts)."""
    entries = [(h["status"], _as_datetime(h.get("at"))) for h in history]
    seconds = {agent: 0.0 for agent in AGENT_RESOURCES}
    seconds["agent-script"] = script_seconds
    for agent, start_status, end_statuses in _COMPUTE_INTERVALS:
        for i, (name, at) in enumerate(entries):
            if name != start_status or at is None:
                continue
            end = next((t for n, t in entries[i + 1:] if n in end_statuses and t), now)
            seconds[agent] += max(0.0, (end - at).total_seconds())
    return {a: round(s, 3) for a, s in seconds.items()}


def billed_lines(usage: dict[str, Any], compute: dict[str, float]) -> dict[str, float]:
    """The ledger priced: Veo per model, Gemini tokens, images, storyboard speech, compute."""
    veo = sum(veo_usd(m, s) for m, s in (usage.get("veo_seconds_by_model") or {}).items())
    return {"veo": round(veo, 4),
            "gemini": round(usage_gemini_usd(usage), 6),
            "images": round(usage.get("image_calls", 0) * IMAGE_PRICE_PER_IMAGE, 4),
            "speech": round(usage_speech_usd(usage), 6),
            "compute": round(sum(compute_usd(a, s) for a, s in compute.items()), 6)}


def _reasons(doc: dict[str, Any], estimate: dict[str, Any]) -> list[str]:
    """Why the bill may differ from the estimate (empty for a job that ran exactly as planned)."""
    usage, reasons = doc.get("usage") or {}, []
    if usage.get("veo_unbilled_attempts") or usage.get("veo_filtered_seconds"):
        reasons.append(f"{usage.get('veo_unbilled_attempts', 0)} Veo attempt(s) ({usage.get('veo_filtered_seconds', 0)}"
                       " s) delivered no video (safety or audio filter, failure, operation deadline) and were "
                       "generated again; they were not billed")
    if usage.get("veo_seconds", estimate["veo_seconds"]) != estimate["veo_seconds"]:
        reasons.append(f"Veo billed {usage.get('veo_seconds')} s, {estimate['veo_seconds']} s were planned")
    if (doc.get("fallback") or {}).get("model"):
        reasons.append(f"Veo fell back to {doc['fallback']['model']} from block {doc['fallback'].get('since_block')}")
    if usage.get("veo_retries"):
        reasons.append(f"{usage['veo_retries']} Veo submissions were retried after 429/5xx (not billed)")
    if usage.get("script_attempts", 1) > 1:
        reasons.append(f"Gemini wrote the script {usage['script_attempts']} times")
    remedial = (doc.get("remedial") or {}).get("attempts", 0)
    if remedial:
        reasons.append(f"QA failed and the job was re-assembled {remedial} time(s)")
    if (doc.get("monitor") or {}).get("attempts"):
        reasons.append(f"the monitor resumed a stalled step {doc['monitor']['attempts']} time(s)")
    return reasons


def build_receipt(doc: dict[str, Any], now: dt.datetime) -> dict[str, Any]:
    """The receipt of a finished job: billed quantities, their price, and the comparison with its estimate."""
    usage = doc.get("usage") or {}
    compute = measured_compute_seconds(doc.get("history") or [], now, float(usage.get("script_seconds", 0.0)))
    lines = billed_lines(usage, compute)
    actual = lines_total(lines)
    estimate = doc.get("estimate") or {}
    receipt: dict[str, Any] = {
        "billed": {"veo_seconds_by_model": usage.get("veo_seconds_by_model") or {},
                   "gemini_prompt_tokens": usage.get("gemini_prompt_tokens", 0),
                   "gemini_output_tokens": usage.get("gemini_output_tokens", 0),
                   "gemini_thought_tokens": usage.get("gemini_thought_tokens", 0),
                   "image_calls": usage.get("image_calls", 0),
                   "speech_prompt_tokens": usage.get("speech_prompt_tokens", 0),
                   "speech_output_tokens": usage.get("speech_output_tokens", 0), "compute_seconds": compute},
        "cost_usd": {**lines, "total": actual}, "prices_as_of": PRICES_AS_OF,
    }
    if not estimate:
        return {**receipt, "reasons": ["the job has no estimate"]}
    expected = total_of(estimate)
    difference = 100.0 * (actual - expected) / expected if expected else 0.0
    reasons = _reasons(doc, estimate)
    within = abs(difference) <= TOLERANCE_PCT
    if not within and not reasons:
        reasons.append("unexplained: the ledger shows no retry, filter or re-assembly")
    return {**receipt, "estimate_usd": expected, "difference_pct": round(difference, 2),
            "within_tolerance": within, "tolerance_pct": TOLERANCE_PCT, "reasons": reasons}
