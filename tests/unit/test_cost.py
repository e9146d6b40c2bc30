"""Estimates, the budget rule, receipts from the ledger, and the QA report's text parts."""
from __future__ import annotations

import datetime as dt

import pytest

from shared.pricing import costs
from shared.core.config import GEMINI_API
from shared.pricing.prices import VEO_PRICE_PER_SECOND
from shared.api.estimates import OverBudget, estimates_for, quote
from shared.pricing.receipts import build_receipt, measured_compute_seconds, total_of
from shared.qa.checks import speech_coverage, word_error_rate, words_of
from shared.qa.report import render_markdown
from shared.script.writer import parse_request
from shared.assembly.subtitles import Cue

T0 = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.timezone.utc)


def _request(**extra):
    return parse_request({"theme": "A lighthouse keeper who befriends a storm", **extra})


def test_estimate_prices_planned_veo_seconds_with_the_presets_model():
    found = estimates_for(_request(), GEMINI_API)
    assert list(found) == ["quick_social", "brand_campaign", "premium_spot"]
    brand = found["brand_campaign"]
    assert brand["veo_seconds"] == 64
    assert brand["cost_usd"]["veo"] == pytest.approx(64 * VEO_PRICE_PER_SECOND["standard"])
    assert found["quick_social"]["cost_usd"]["veo"] == pytest.approx(29 * VEO_PRICE_PER_SECOND["lite"])
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


def _history(*steps):
    return [{"status": s, "at": T0 + dt.timedelta(seconds=t)} for s, t in steps]


def _finished_doc(estimate, usage, **extra):
    history = _history(("script_ready", 0), ("video_generating", 1), ("video_generated", 101),
                       ("assembling", 102), ("assembled", 162), ("qa_passed", 180))
    return {"estimate": estimate, "usage": usage, "history": history, **extra}


def test_receipt_of_a_job_that_ran_as_planned_is_within_tolerance():
    estimate = estimates_for(_request(), GEMINI_API)["brand_campaign"]
    usage = costs.with_veo_seconds({"gemini_prompt_tokens": 300, "gemini_output_tokens": 700}, estimate["veo_model"],
                                   8, delivered=True)
    for _ in range(8):
        usage = costs.with_veo_seconds(usage, estimate["veo_model"], 7, delivered=True)
    receipt = build_receipt(_finished_doc(estimate, usage), T0 + dt.timedelta(seconds=181))
    assert receipt["billed"]["compute_seconds"]["agent-assembler"] == pytest.approx(60)
    assert receipt["within_tolerance"] and abs(receipt["difference_pct"]) <= 5
    assert receipt["reasons"] == []


def test_receipt_says_why_when_safety_filtered_seconds_were_billed():
    estimate = estimates_for(_request(), GEMINI_API)["quick_social"]
    usage = costs.with_veo_seconds({}, estimate["veo_model"], 29, delivered=True)
    usage = costs.with_veo_seconds(usage, estimate["veo_model"], 7, delivered=False)
    receipt = build_receipt(_finished_doc(estimate, usage), T0 + dt.timedelta(seconds=181))
    assert not receipt["within_tolerance"]
    assert any("safety filter" in r for r in receipt["reasons"])


def test_compute_counts_every_remedial_reassembly():
    history = _history(("assembling", 0), ("assembled", 50), ("qa_failed", 60), ("assembling", 70),
                       ("assembled", 110), ("qa_passed", 120))
    seconds = measured_compute_seconds(history, T0 + dt.timedelta(seconds=121), 3.0)
    assert seconds["agent-assembler"] == pytest.approx(90)
    assert seconds["agent-qa"] == pytest.approx(20)
    assert seconds["agent-script"] == 3.0


def test_wer_and_coverage():
    assert word_error_rate(words_of("Hello, old friend!"), words_of("hello old friend")) == 0
    assert word_error_rate(words_of("a b c d"), words_of("a x c")) == pytest.approx(0.5)
    cues = [Cue(1.0, 3.0, ("hi",)), Cue(5.0, 6.0, ("there",))]
    assert speech_coverage(cues, [(1.0, 3.0)]) == pytest.approx(1.0)
    assert speech_coverage(cues, [(3.0, 5.0)]) == pytest.approx(0.0)
    assert speech_coverage([], []) == 1.0


def test_markdown_report_lists_every_check_with_its_verdict():
    report = {"video_id": "v1", "passed": False, "blocking_failures": ["resolution"], "warnings": ["black_seconds"],
              "preset": {"name": "brand_campaign", "version": 1},
              "checks": [{"name": "resolution", "measured": "720x1280", "threshold": "1080x1920", "passed": False,
                          "blocking": True, "unit": ""},
                         {"name": "black_seconds", "measured": 1.5, "threshold": 0.5, "passed": False,
                          "blocking": False, "unit": "s"}]}
    text = render_markdown(report)
    assert "FAILED: resolution" in text
    assert "| resolution | 720x1280 | 1080x1920 | **FAIL** |" in text
    assert "| black_seconds | 1.5 s | <= 0.5 s | warn |" in text
