"""The dated price table (USD): every price the estimates, the ledger and the receipts use, in one place."""
from __future__ import annotations

from typing import Any

PRICES_AS_OF = "2026-11"
VEO_PRICE_PER_SECOND: dict[str, float] = {"standard": 0.40, "fast": 0.15, "lite": 0.05}
GEMINI_PRICE_PER_MILLION_TOKENS: dict[str, float] = {"input": 0.30, "output": 2.50}
IMAGE_PRICE_PER_IMAGE = 0.039
# Cloud Run functions (2nd gen), tier-1 region, per second of instance time while a request is served.
COMPUTE_PRICE_PER_VCPU_SECOND = 0.000024
COMPUTE_PRICE_PER_GIB_SECOND = 0.0000025
PRICES_SOURCE = ("published list prices seen 2026-11: Gemini API Veo 3.1 per generated second, Gemini 2.5 "
                 "Flash per 1M tokens, gemini-2.5-flash-image per image, Cloud Run functions per vCPU-s/GiB-s")


def price_table() -> dict[str, Any]:
    """The dated price table, as published by /estimate."""
    return {"as_of": PRICES_AS_OF, "source": PRICES_SOURCE, "veo_usd_per_second": VEO_PRICE_PER_SECOND,
            "gemini_usd_per_million_tokens": GEMINI_PRICE_PER_MILLION_TOKENS,
            "image_usd_per_image": IMAGE_PRICE_PER_IMAGE,
            "compute_usd": {"per_vcpu_second": COMPUTE_PRICE_PER_VCPU_SECOND,
                            "per_gib_second": COMPUTE_PRICE_PER_GIB_SECOND}}
