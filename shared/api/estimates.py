"""Honest cost: an estimate before a job is created, a receipt from its ledger when it ends.

    estimate   planned Veo seconds x the preset model's price + Gemini tokens + images + compute
               (assumed run times x each agent's vCPU/GiB), and the delivery time to expect
    receipt    what the ledger on the status document says was billed (shared.pricing.costs: Veo seconds per
               model, tokens, images) + compute measured from the job's history, priced with the same
               dated table (shared.core.config), compared with the estimate: within ±5 % or it says why

Prices and their date live in shared.core.config; agent sizes mirror infra/gcp/functions.json.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Iterable

from shared.core.config import (COMPUTE_PRICE_PER_GIB_SECOND, COMPUTE_PRICE_PER_VCPU_SECOND,
                           GEMINI_PRICE_PER_MILLION_TOKENS, IMAGE_PRICE_PER_IMAGE, PRICES_AS_OF, PRICES_SOURCE,
                           VEO_PRICE_PER_SECOND)
from shared.pricing.costs import gemini_usd, veo_usd
from shared.core.errors import InvalidInputError
from shared.video.plan import plan_video
from shared.pricing.presets import BY_COST, PRESETS, Preset
from shared.script.prompts import SCRIPT_SYSTEM_INSTRUCTION, script_prompt
from shared.script.writer import VideoRequestBody, blocks_for

TOLERANCE_PCT = 5.0
# (vCPU, GiB) per agent, as deployed (infra/gcp/functions.json).
AGENT_RESOURCES: dict[str, tuple[float, float]] = {
    "agent-script": (1, 0.5), "agent-video-veo31": (1, 1), "agent-assembler": (2, 4), "agent-qa": (1, 1)}
# Assumed run times; the receipt replaces them with the job's measured ones.
SCRIPT_SECONDS = 8.0
VEO_CALL_SECONDS = {"standard": 75.0, "fast": 45.0, "lite": 35.0}  # one Veo call, submission to download
ASSEMBLY_SECONDS_PER_VIDEO_SECOND = 1.0  # 2 vCPU: transcribe + mix + 1080x1920 encode + thumbnail
QA_SECONDS_PER_VIDEO_SECOND = 0.35  # ffprobe + one decode with the detection filters
OUTPUT_TOKENS_PER_BLOCK = 80
# Status intervals billed as each agent's compute: the agent works from the first to the second.
_COMPUTE_INTERVALS = (("agent-video-veo31", "video_generating", ("video_generated", "failed")),
                      ("agent-assembler", "assembling", ("assembled", "failed")),
                      ("agent-qa", "assembled", ("qa_passed", "qa_failed", "failed")))


def compute_usd(agent: str, seconds: float) -> float:
    """Price of `seconds` of one agent's instance time."""
    vcpu, gib = AGENT_RESOURCES[agent]
    return seconds * (vcpu * COMPUTE_PRICE_PER_VCPU_SECOND + gib * COMPUTE_PRICE_PER_GIB_SECOND)


def _lines_total(lines: dict[str, float]) -> float:
    return round(sum(lines.values()), 4)


def estimate_preset(preset: Preset, blocks: int, *, mode: str, theme: str, style: str, language: str,
                    character: bool = False) -> dict[str, Any]:
    """Estimated cost, delivery time and guarantees of one preset for a request of `blocks` blocks."""
    plan = plan_video(blocks, mode)
    model = preset.veo_model(mode)
    prompt = script_prompt(theme, style, language, blocks, {"name": "x", "description": ""} if character else None)
    prompt_tokens = (len(SCRIPT_SYSTEM_INSTRUCTION) + len(prompt)) // 4
    output_tokens = blocks * OUTPUT_TOKENS_PER_BLOCK
    seconds = plan.total_seconds
    video_wall = blocks * VEO_CALL_SECONDS[preset.veo_tier]
    assembly_wall = seconds * ASSEMBLY_SECONDS_PER_VIDEO_SECOND * (1.3 if preset.renditions else 1.0)
    qa_wall = seconds * QA_SECONDS_PER_VIDEO_SECOND
    compute = {"agent-script": SCRIPT_SECONDS, "agent-video-veo31": video_wall, "agent-assembler": assembly_wall,
               "agent-qa": qa_wall}
    lines = {"veo": round(veo_usd(model, seconds), 4), "gemini": round(gemini_usd(prompt_tokens, output_tokens), 6),
             "images": round((1 if character else 0) * IMAGE_PRICE_PER_IMAGE, 4),
             "compute": round(sum(compute_usd(a, s) for a, s in compute.items()), 6)}
    return {
        "preset": preset.name, "preset_version": preset.version, "veo_model": model, "blocks": blocks,
        "video_seconds": seconds, "veo_seconds": seconds, "gemini_tokens": {"prompt": prompt_tokens,
                                                                            "output": output_tokens},
        "image_calls": 1 if character else 0, "compute_seconds": {a: round(s, 1) for a, s in compute.items()},
        "cost_usd": {**lines, "total": _lines_total(lines)},
        "delivery_seconds": round(sum(compute.values())),
        "guarantees": preset.guarantees(), "prices_as_of": PRICES_AS_OF,
    }


def total_of(estimate: dict[str, Any]) -> float:
    """The estimated total in USD."""
    return float(estimate["cost_usd"]["total"])


def choose_within_budget(estimates: dict[str, dict[str, Any]], wanted: str, max_cost_usd: float | None,
                         allow_downgrade: bool) -> tuple[str | None, str | None]:
    """(preset to use, why) under an optional budget: the wanted one, a cheaper one if allowed, or None."""
    if max_cost_usd is None or total_of(estimates[wanted]) <= max_cost_usd:
        return wanted, None
    cheaper = [n for n in reversed(BY_COST[:BY_COST.index(wanted)]) if total_of(estimates[n]) <= max_cost_usd]
    if not any(total_of(e) <= max_cost_usd for e in estimates.values()):
        return None, f"the cheapest preset costs more than max_cost_usd={max_cost_usd}"
    if not cheaper:
        return None, f"{wanted} costs more than max_cost_usd={max_cost_usd} and no cheaper preset is lower"
    if not allow_downgrade:
        return None, (f"{wanted} costs more than max_cost_usd={max_cost_usd}; {cheaper[0]} fits "
                      "(set allow_downgrade to accept it)")
    return cheaper[0], f"downgraded from {wanted}: its estimate exceeds max_cost_usd={max_cost_usd}"


class OverBudget(InvalidInputError):
    """The request's max_cost_usd refuses it; carries every preset's estimate."""

    def __init__(self, message: str, estimates: dict[str, dict[str, Any]]) -> None:
        super().__init__(message, code="over_budget", field="max_cost_usd")
        self.estimates = estimates


@dataclass(frozen=True)
class Quote:
    """The preset a request will run with, its estimate, and every preset's estimate."""

    preset: Preset
    estimate: dict[str, Any]
    estimates: dict[str, dict[str, Any]]
    downgraded_from: str | None = None
    note: str | None = None


def _target_for(preset: Preset, target_seconds: int | None) -> int | None:
    """The request's target length when this preset allows it (other presets use their own window)."""
    if target_seconds is not None and preset.min_seconds <= target_seconds <= preset.max_seconds:
        return target_seconds
    return None


def estimates_for(request: VideoRequestBody, mode: str) -> dict[str, dict[str, Any]]:
    """Every preset's estimate for a request, cheapest first."""
    return {p.name: estimate_preset(p, blocks_for(p, _target_for(p, request.target_seconds)), mode=mode,
                                    theme=request.theme, style=request.style, language=request.language,
                                    character=bool(request.character_id))
            for p in presets_by_cost()}


def quote(request: VideoRequestBody, mode: str) -> Quote:
    """Price a request and apply its budget: OverBudget when it is refused."""
    estimates = estimates_for(request, mode)
    chosen, why = choose_within_budget(estimates, request.preset, request.max_cost_usd, request.allow_downgrade)
    if chosen is None:
        raise OverBudget(f"refused: {why}", estimates)
    downgraded = request.preset if chosen != request.preset else None
    return Quote(PRESETS[chosen], estimates[chosen], estimates, downgraded, why)


def price_table() -> dict[str, Any]:
    """The dated price table, as published by /estimate."""
    return {"as_of": PRICES_AS_OF, "source": PRICES_SOURCE, "veo_usd_per_second": VEO_PRICE_PER_SECOND,
            "gemini_usd_per_million_tokens": GEMINI_PRICE_PER_MILLION_TOKENS,
            "image_usd_per_image": IMAGE_PRICE_PER_IMAGE,
            "compute_usd": {"per_vcpu_second": COMPUTE_PRICE_PER_VCPU_SECOND,
                            "per_gib_second": COMPUTE_PRICE_PER_GIB_SECOND}}


# --- receipt -------------------------------------------------------------------------------------

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
    """The ledger priced: Veo per model, Gemini tokens, images, compute."""
    veo = sum(veo_usd(m, s) for m, s in (usage.get("veo_seconds_by_model") or {}).items())
    return {"veo": round(veo, 4),
            "gemini": round(gemini_usd(usage.get("gemini_prompt_tokens", 0), usage.get("gemini_output_tokens", 0)), 6),
            "images": round(usage.get("image_calls", 0) * IMAGE_PRICE_PER_IMAGE, 4),
            "compute": round(sum(compute_usd(a, s) for a, s in compute.items()), 6)}


def _reasons(doc: dict[str, Any], estimate: dict[str, Any]) -> list[str]:
    """Why the bill may differ from the estimate (empty for a job that ran exactly as planned)."""
    usage, reasons = doc.get("usage") or {}, []
    if usage.get("veo_filtered_seconds"):
        reasons.append(f"{usage['veo_filtered_seconds']} s of Veo output were billed but withheld by the "
                       "safety filter or failed, then generated again")
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
    actual = _lines_total(lines)
    estimate = doc.get("estimate") or {}
    receipt: dict[str, Any] = {
        "billed": {"veo_seconds_by_model": usage.get("veo_seconds_by_model") or {},
                   "gemini_prompt_tokens": usage.get("gemini_prompt_tokens", 0),
                   "gemini_output_tokens": usage.get("gemini_output_tokens", 0),
                   "image_calls": usage.get("image_calls", 0), "compute_seconds": compute},
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


def presets_by_cost() -> list[Preset]:
    """Every preset, cheapest first."""
    return [PRESETS[name] for name in BY_COST]
