"""The cost ledger on the status document: each Veo model priced, withheld (filtered) seconds apart."""
import pytest

from shared.pricing import costs


def test_cost_ledger_prices_each_model_and_separates_withheld_seconds():
    usage = {"gemini_prompt_tokens": 1_000_000, "gemini_output_tokens": 0}
    usage = costs.with_veo_seconds(usage, "veo-3.1-generate-preview", 8, delivered=True)
    usage = costs.with_veo_seconds(usage, "veo-3.1-fast-generate-preview", 7, delivered=True)
    usage = costs.with_veo_seconds(usage, "veo-3.1-generate-preview", 7, delivered=False)
    usage = costs.with_counter(usage, "veo_retries", 3)
    assert usage["veo_seconds"] == 22 and usage["veo_delivered_seconds"] == 15 and usage["veo_filtered_seconds"] == 7
    assert usage["veo_seconds_by_model"] == {"veo-3.1-generate-preview": 15, "veo-3.1-fast-generate-preview": 7}
    cost = usage["cost_usd"]
    assert cost["veo"] == pytest.approx(15 * 0.40 + 7 * 0.15) and cost["gemini"] == pytest.approx(0.30)
    assert cost["total"] == pytest.approx(cost["veo"] + cost["gemini"]) and cost["prices_as_of"]
    assert usage["veo_retries"] == 3
