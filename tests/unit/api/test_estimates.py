"""Estimates per preset and the budget rule (refuse, or downgrade when allowed)."""
from __future__ import annotations

import pytest

from shared.api.estimates import OverBudget, estimates_for, quote
from shared.core.config import GEMINI_API, VERTEX
from shared.pricing.costs import gemini_usd
from shared.pricing.prices import VEO_PRICE_PER_SECOND
from shared.pricing.receipts import total_of
from shared.script.writer import SCRIPT_THINKING_BUDGET, parse_request


def _request(**extra):
    return parse_request({"theme": "A lighthouse keeper who befriends a storm", **extra})


def test_estimate_prices_planned_veo_seconds_with_the_presets_model():
    found = estimates_for(_request(), GEMINI_API)
    assert list(found) == ["quick_social", "brand_campaign", "premium_spot"]
    brand = found["brand_campaign"]
    assert brand["veo_seconds"] == 64
    assert brand["cost_usd"]["veo"] == pytest.approx(64 * VEO_PRICE_PER_SECOND["standard"])
    quick = found["quick_social"]
    assert (quick["blocks"], quick["veo_seconds"], quick["segments"]) == (4, 32, 4), "Lite: 8 s per block (V3)"
    assert quick["cost_usd"]["veo"] == pytest.approx(32 * VEO_PRICE_PER_SECOND["lite"])
    assert total_of(found["quick_social"]) < total_of(brand) <= total_of(found["premium_spot"])
    for estimate in found.values():
        lines = estimate["cost_usd"]
        assert lines["total"] == pytest.approx(lines["veo"] + lines["gemini"] + lines["images"] + lines["compute"],
                                               abs=1e-3)
        assert estimate["delivery_seconds"] > 0 and estimate["guarantees"]


def test_budget_refuses_or_downgrades_as_the_request_allows():
    brand = total_of(estimates_for(_request(), GEMINI_API)["brand_campaign"])
    assert quote(_request(max_cost_usd=brand + 1), GEMINI_API).preset.name == "brand_campaign"
    with pytest.raises(OverBudget) as refused:
        quote(_request(max_cost_usd=5), GEMINI_API)
    assert "allow_downgrade" in refused.value.message and set(refused.value.estimates) == {
        "quick_social", "brand_campaign", "premium_spot"}
    downgraded = quote(_request(max_cost_usd=5, allow_downgrade=True), GEMINI_API)
    assert (downgraded.preset.name, downgraded.downgraded_from) == ("quick_social", "brand_campaign")
    with pytest.raises(OverBudget) as too_cheap:
        quote(_request(max_cost_usd=0.1, allow_downgrade=True), GEMINI_API)
    assert "cheapest" in too_cheap.value.message


def test_quick_social_on_vertex_extends_so_its_estimate_is_one_chain():
    quick = estimates_for(_request(), VERTEX)["quick_social"]
    assert (quick["veo_model"], quick["blocks"], quick["veo_seconds"], quick["segments"]) == (
        "veo-3.1-lite-generate-001", 4, 29, 1)


def test_estimates_assume_the_whole_thinking_budget():
    estimate = estimates_for(_request(), GEMINI_API)["brand_campaign"]
    tokens = estimate["gemini_tokens"]
    assert tokens["thinking"] == SCRIPT_THINKING_BUDGET > 0
    assert estimate["cost_usd"]["gemini"] == pytest.approx(
        gemini_usd(tokens["prompt"], tokens["output"] + tokens["thinking"], 0), abs=1e-6)
