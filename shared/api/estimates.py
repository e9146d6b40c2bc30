"""Honest cost before a job exists: every preset's estimated cost and delivery time, and the budget rule.

    estimate   planned Veo seconds x the preset model's price + Gemini tokens (the script call's whole thinking
               budget assumed) + images + compute (assumed run times x each agent's vCPU/GiB), and the delivery
               time to expect

The planned seconds come from the plan of the preset's model in the API mode (shared.video.plan): Veo 3.1 Lite
on the Gemini API makes 8 s per block (no extension), so a quick_social estimate there counts 8 s per block.

Prices and their date live in shared.pricing.prices; the receipt that follows a job is shared.pricing.receipts.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.core.errors import OverBudget
from shared.pricing.costs import gemini_usd, veo_usd
from shared.pricing.presets import BY_COST, PRESETS, Preset
from shared.pricing.prices import IMAGE_PRICE_PER_IMAGE, PRICES_AS_OF
from shared.pricing.receipts import compute_usd, lines_total, total_of
from shared.script.prompts import SCRIPT_SYSTEM_INSTRUCTION, script_prompt
from shared.script.writer import SCRIPT_THINKING_BUDGET, VideoRequestBody, blocks_for
from shared.video.plan import plan_video

# Assumed run times; the receipt replaces them with the job's measured ones.
SCRIPT_SECONDS = 8.0
VEO_CALL_SECONDS = {"standard": 75.0, "fast": 45.0, "lite": 35.0}  # one Veo call, submission to download
ASSEMBLY_SECONDS_PER_VIDEO_SECOND = 1.0  # 2 vCPU: transcribe + mix + 1080x1920 encode + thumbnail
QA_SECONDS_PER_VIDEO_SECOND = 0.35  # ffprobe + one decode with the detection filters
OUTPUT_TOKENS_PER_BLOCK = 80


def estimate_preset(preset: Preset, blocks: int, *, mode: str, theme: str, style: str, language: str,
                    character: bool = False) -> dict[str, Any]:
    """Estimated cost, delivery time and guarantees of one preset for a request of `blocks` blocks."""
    model = preset.veo_model(mode)
    plan = plan_video(blocks, mode, model)
    prompt = script_prompt(theme, style, language, [b.seconds for b in plan.blocks],
                           {"name": "x", "description": ""} if character else None)
    prompt_tokens = (len(SCRIPT_SYSTEM_INSTRUCTION) + len(prompt)) // 4
    output_tokens = blocks * OUTPUT_TOKENS_PER_BLOCK
    thought_tokens = SCRIPT_THINKING_BUDGET  # billed as output (contract B9); the cap, so never under-estimated
    seconds = plan.total_seconds
    video_wall = blocks * VEO_CALL_SECONDS[preset.veo_tier]
    assembly_wall = seconds * ASSEMBLY_SECONDS_PER_VIDEO_SECOND * (1.3 if preset.renditions else 1.0)
    qa_wall = seconds * QA_SECONDS_PER_VIDEO_SECOND
    compute = {"agent-script": SCRIPT_SECONDS, "agent-video-veo31": video_wall, "agent-assembler": assembly_wall,
               "agent-qa": qa_wall}
    lines = {"veo": round(veo_usd(model, seconds), 4),
             "gemini": round(gemini_usd(prompt_tokens, output_tokens, thought_tokens), 6),
             "images": round((1 if character else 0) * IMAGE_PRICE_PER_IMAGE, 4),
             "compute": round(sum(compute_usd(a, s) for a, s in compute.items()), 6)}
    return {
        "preset": preset.name, "preset_version": preset.version, "veo_model": model, "blocks": blocks,
        "video_seconds": seconds, "veo_seconds": seconds, "segments": len(plan.segments),
        "gemini_tokens": {"prompt": prompt_tokens, "output": output_tokens, "thinking": thought_tokens},
        "image_calls": 1 if character else 0, "compute_seconds": {a: round(s, 1) for a, s in compute.items()},
        "cost_usd": {**lines, "total": lines_total(lines)},
        "delivery_seconds": round(sum(compute.values())),
        "guarantees": preset.guarantees(), "prices_as_of": PRICES_AS_OF,
    }


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
    return {p.name: estimate_preset(p, blocks_for(p, _target_for(p, request.target_seconds), mode), mode=mode,
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


def presets_by_cost() -> list[Preset]:
    """Every preset, cheapest first."""
    return [PRESETS[name] for name in BY_COST]
