"""The dated price table (USD): every price the estimates, the ledger and the receipts use, in one place.

Sources (docs/google-ai-contract.md section 4): Veo 3.1 per delivered second at 720p, the resolution the
pipeline uses — standard $0.40 (B1), fast $0.10 (B2, after the April 2026 cut), lite $0.05 (B3), Gemini API
list prices as read 2026-10-07; Vertex AI Veo prices are not verified (B5) and the same rates are assumed.
Gemini tokens: `gemini-3.8-flash` (the default SCRIPT_MODEL) $0.75 in / $3.75 out per 1M tokens, thinking
included in the output price, until 2026-12-31 ($1.50 / $7.50 from 2027-01-01: update the table then) (B8, B9).
The image model's per-image price is not verified for `gemini-3.1-flash-image` (B10): $0.039 is assumed.
Storyboard speech: `gemini-3.8-flash-lite-tts` (the default TTS_MODEL) $0.50 per 1M text input tokens, $6.00 per 1M
audio output tokens, launch prices through 2026-12-31, double from 2027-01-01 (B11, T8; read 2026-12-01 from
github.com/BerriAI/litellm/discussions/42776 and vercel.com/ai-gateway/models/gemini-3.8-flash-lite-tts: secondary,
the pricing-page transcripts of 2026-10-07 have no TTS row).
"""
from __future__ import annotations

from typing import Any

PRICES_AS_OF = "2026-10-07"
VEO_PRICE_PER_SECOND: dict[str, float] = {"standard": 0.40, "fast": 0.10, "lite": 0.05}
GEMINI_PRICE_PER_MILLION_TOKENS: dict[str, float] = {"input": 0.75, "output": 3.75}  # output includes thinking
IMAGE_PRICE_PER_IMAGE = 0.039
TTS_PRICES_AS_OF = "2026-12-01"  # valid through 2026-12-31: update the table then
TTS_PRICE_PER_MILLION_TOKENS: dict[str, float] = {"input": 0.50, "output": 6.00}  # gemini-3.8-flash-lite-tts
# Cloud Run functions (2nd gen), tier-1 region, per second of instance time while a request is served.
COMPUTE_PRICE_PER_VCPU_SECOND = 0.000024
COMPUTE_PRICE_PER_GIB_SECOND = 0.0000025
PRICES_SOURCE = ("Gemini API list prices read 2026-10-07: Veo 3.1 per delivered second at 720p (only delivered "
                 "video is billed), gemini-3.8-flash per 1M tokens (thinking billed as output, price until "
                 "2026-12-31), gemini-3.1-flash-image per image (assumed), Cloud Run functions per vCPU-s/GiB-s")


def price_table() -> dict[str, Any]:
    """The dated price table, as published by /estimate."""
    return {"as_of": PRICES_AS_OF, "source": PRICES_SOURCE, "veo_usd_per_second": VEO_PRICE_PER_SECOND,
            "gemini_usd_per_million_tokens": GEMINI_PRICE_PER_MILLION_TOKENS,
            "image_usd_per_image": IMAGE_PRICE_PER_IMAGE,
            "speech_usd_per_million_tokens": {**TTS_PRICE_PER_MILLION_TOKENS, "as_of": TTS_PRICES_AS_OF},
            "compute_usd": {"per_vcpu_second": COMPUTE_PRICE_PER_VCPU_SECOND,
                            "per_gib_second": COMPUTE_PRICE_PER_GIB_SECOND}}
