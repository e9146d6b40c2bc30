"""Receipts from the ledger: billed against estimated, the reasons of a difference, measured compute."""
from __future__ import annotations

import datetime as dt

import pytest

from shared.api.estimates import estimates_for
from shared.core.config import GEMINI_API
from shared.pricing import costs
from shared.pricing.receipts import build_receipt, measured_compute_seconds
from shared.script.writer import parse_request

T0 = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)


def _request(**extra):
    return parse_request({"theme": "A lighthouse keeper who befriends a storm", **extra})


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


def test_a_withheld_attempt_is_not_billed_and_the_receipt_says_so():
    estimate = estimates_for(_request(), GEMINI_API)["quick_social"]
    usage = {}
    for _ in range(estimate["blocks"]):
        usage = costs.with_veo_seconds(usage, estimate["veo_model"], 8, delivered=True)
    usage = costs.with_veo_seconds(usage, estimate["veo_model"], 8, delivered=False)
    receipt = build_receipt(_finished_doc(estimate, usage), T0 + dt.timedelta(seconds=181))
    assert receipt["billed"]["veo_seconds_by_model"] == {estimate["veo_model"]: estimate["veo_seconds"]}
    assert receipt["cost_usd"]["veo"] == estimate["cost_usd"]["veo"], "the filtered attempt costs nothing"
    assert any("not billed" in r and "safety" in r for r in receipt["reasons"])


def test_thinking_tokens_are_on_the_receipt_at_the_output_price():
    estimate = estimates_for(_request(), GEMINI_API)["brand_campaign"]
    plain = {"gemini_prompt_tokens": 300, "gemini_output_tokens": 700}
    thinking = {**plain, "gemini_thought_tokens": 1000}
    now = T0 + dt.timedelta(seconds=181)
    without, with_thoughts = (build_receipt(_finished_doc(estimate, u), now) for u in (plain, thinking))
    assert with_thoughts["billed"]["gemini_thought_tokens"] == 1000
    assert with_thoughts["cost_usd"]["gemini"] - without["cost_usd"]["gemini"] == pytest.approx(1000 * 3.75 / 1e6)


def test_compute_counts_every_remedial_reassembly():
    history = _history(("assembling", 0), ("assembled", 50), ("qa_failed", 60), ("assembling", 70),
                       ("assembled", 110), ("qa_passed", 120))
    seconds = measured_compute_seconds(history, T0 + dt.timedelta(seconds=121), 3.0)
    assert seconds["agent-assembler"] == pytest.approx(90)
    assert seconds["agent-qa"] == pytest.approx(20)
    assert seconds["agent-script"] == 3.0
