"""The cost ledger on the status document: only delivered video is billed (contract B6, B7), each Veo model
priced; thinking tokens priced as output (B9)."""
import pytest

from shared.pricing import costs
from shared.pricing.prices import GEMINI_PRICE_PER_MILLION_TOKENS, VEO_PRICE_PER_SECOND


def test_only_delivered_seconds_are_billed_withheld_ones_are_counted_apart():
    usage = {"gemini_prompt_tokens": 1_000_000, "gemini_output_tokens": 0}
    usage = costs.with_veo_seconds(usage, "veo-3.1-generate-preview", 8, delivered=True)
    usage = costs.with_veo_seconds(usage, "veo-3.1-fast-generate-preview", 7, delivered=True)
    usage = costs.with_veo_seconds(usage, "veo-3.1-generate-preview", 7, delivered=False)
    usage = costs.with_counter(usage, "veo_retries", 3)
    assert usage["veo_seconds"] == usage["veo_delivered_seconds"] == 15
    assert (usage["veo_filtered_seconds"], usage["veo_unbilled_attempts"]) == (7, 1), "information, not billed"
    assert usage["veo_seconds_by_model"] == {"veo-3.1-generate-preview": 8, "veo-3.1-fast-generate-preview": 7}
    cost = usage["cost_usd"]
    assert cost["veo"] == pytest.approx(8 * 0.40 + 7 * 0.10)
    assert cost["gemini"] == pytest.approx(GEMINI_PRICE_PER_MILLION_TOKENS["input"])
    assert cost["total"] == pytest.approx(cost["veo"] + cost["gemini"]) and cost["prices_as_of"]
    assert usage["veo_retries"] == 3


def test_a_job_whose_every_attempt_was_withheld_costs_nothing_in_veo():
    usage = costs.with_veo_seconds({}, "veo-3.1-lite-generate-preview", 8, delivered=False)
    assert usage["cost_usd"]["veo"] == 0 and usage.get("veo_seconds", 0) == 0
    assert "veo_seconds_by_model" not in usage


def test_thinking_tokens_are_billed_at_the_output_price():
    usage = costs.priced({"gemini_prompt_tokens": 0, "gemini_output_tokens": 1_000_000,
                          "gemini_thought_tokens": 1_000_000})
    assert usage["cost_usd"]["gemini"] == pytest.approx(2 * GEMINI_PRICE_PER_MILLION_TOKENS["output"])


def test_rates_are_the_contracts():
    """C-BILL-RATES at 720p (B1-B3) and gemini-3.8-flash's token prices (B8)."""
    assert VEO_PRICE_PER_SECOND == {"standard": 0.40, "fast": 0.10, "lite": 0.05}
    assert GEMINI_PRICE_PER_MILLION_TOKENS == {"input": 0.75, "output": 3.75}
