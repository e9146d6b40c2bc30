"""The cost ledger on a job's status document: what was billed, per model, priced from the dated table.

    usage.veo_seconds             every second Veo billed (delivered + filtered/failed results)
    usage.veo_seconds_by_model    the same, per model id
    usage.veo_delivered_seconds   seconds that ended up in the video
    usage.veo_filtered_seconds    seconds billed for results Veo withheld (safety) or that failed
    usage.veo_retries             429/5xx submissions retried (never billed)
    usage.image_calls             image-model calls (opening frames)
    usage.gemini_*_tokens         script tokens (written by the front door)
    usage.cost_usd                {veo, gemini, images, total, prices_as_of}
"""
from __future__ import annotations

from typing import Any

from shared.config import (GEMINI_PRICE_PER_MILLION_TOKENS, IMAGE_PRICE_PER_IMAGE, PRICES_AS_OF,
                           VEO_PRICE_PER_SECOND)


def tier_of(model: str) -> str:
    """standard, fast or lite, from a Veo model id."""
    for tier in ("fast", "lite"):
        if f"-{tier}-" in model:
            return tier
    return "standard"


def with_veo_seconds(usage: dict[str, Any] | None, model: str, seconds: int, *, delivered: bool) -> dict[str, Any]:
    """`usage` with `seconds` billed by `model` added (delivered, or withheld/failed)."""
    usage = dict(usage or {})
    per_model = dict(usage.get("veo_seconds_by_model") or {})
    per_model[model] = per_model.get(model, 0) + seconds
    usage["veo_seconds_by_model"] = per_model
    usage["veo_seconds"] = usage.get("veo_seconds", 0) + seconds
    key = "veo_delivered_seconds" if delivered else "veo_filtered_seconds"
    usage[key] = usage.get(key, 0) + seconds
    return priced(usage)


def with_counter(usage: dict[str, Any] | None, name: str, count: int) -> dict[str, Any]:
    """`usage` with a counter (veo_retries, image_calls) increased."""
    usage = dict(usage or {})
    usage[name] = usage.get(name, 0) + count
    return priced(usage)


def priced(usage: dict[str, Any]) -> dict[str, Any]:
    """`usage` with its cost in USD recomputed from the price table."""
    veo = sum(VEO_PRICE_PER_SECOND[tier_of(m)] * s for m, s in (usage.get("veo_seconds_by_model") or {}).items())
    gemini = (usage.get("gemini_prompt_tokens", 0) * GEMINI_PRICE_PER_MILLION_TOKENS["input"]
              + usage.get("gemini_output_tokens", 0) * GEMINI_PRICE_PER_MILLION_TOKENS["output"]) / 1e6
    images = usage.get("image_calls", 0) * IMAGE_PRICE_PER_IMAGE
    return {**usage, "cost_usd": {"veo": round(veo, 4), "gemini": round(gemini, 6), "images": round(images, 4),
                                  "total": round(veo + gemini + images, 4), "prices_as_of": PRICES_AS_OF}}
