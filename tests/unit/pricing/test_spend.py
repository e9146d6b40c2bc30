"""The job's hard budget (max_cost_usd) before each paid call, and the money periods of the spend limits."""
from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest

from shared.assembly import storyboard
from shared.core.errors import BudgetExhausted, ErrorCode
from shared.ops.remedial import plan_remedy
from shared.pricing import spend
from shared.pricing.presets import PRESETS
from shared.pricing.prices import VEO_PRICE_PER_SECOND

NOW = dt.datetime(2026, 11, 23, 12, tzinfo=dt.UTC)
STANDARD = "veo-3.1-generate-preview"


def _job(max_cost_usd: float | None, veo_seconds: int = 0, **extra) -> dict:
    usage = {"veo_seconds_by_model": {STANDARD: veo_seconds}} if veo_seconds else {}
    return {"max_cost_usd": max_cost_usd, "usage": usage, "history": [], **extra}


def test_a_call_that_fits_the_budget_passes_and_one_that_does_not_stops_with_a_receipt():
    block = 8 * VEO_PRICE_PER_SECOND["standard"]  # $3.20, priced independently of the code under test
    spend.guard(_job(4.0), block, "block 0", NOW)  # nothing billed yet: fits
    with pytest.raises(BudgetExhausted) as stopped:
        spend.guard(_job(4.0, veo_seconds=8), 7 * VEO_PRICE_PER_SECOND["standard"], "block 1", NOW)
    assert stopped.value.code == ErrorCode.OVER_BUDGET
    receipt = stopped.value.status_fields["receipt"]
    assert receipt["cost_usd"]["veo"] == pytest.approx(block) and receipt["stopped_before"] == "block 1"


def test_a_call_that_exactly_fits_passes_and_a_job_without_a_budget_is_never_stopped():
    spend.guard(_job(3.2, veo_seconds=0), 8 * VEO_PRICE_PER_SECOND["standard"], "block 0", NOW)
    spend.guard(_job(None, veo_seconds=900), 1000.0, "anything", NOW)


def test_a_remedial_reassembly_past_the_budget_fails_the_job_over_budget_with_its_receipt():
    doc = {**_job(3.2, veo_seconds=8), "planned_seconds": 8,
           "qa": {"blocking_failures": ["integrated_loudness_lufs"],
                  "failed_checks": {"integrated_loudness_lufs": {"measured": -17.5}}}}
    remedy = plan_remedy(doc, PRESETS["brand_campaign"])
    assert not remedy.reassemble and remedy.code == ErrorCode.OVER_BUDGET and "receipt" in remedy.status_fields
    assert plan_remedy({**doc, "max_cost_usd": 10.0}, PRESETS["brand_campaign"]).reassemble


def test_spend_periods_roll_over_at_utc_midnight_and_month_start():
    doc = {"day": "2026-11-23", "month": "2026-11", "usd_day": 30.0, "usd_month": 90.0}
    assert spend.spent(doc, NOW) == {"day": 30.0, "month": 90.0}
    assert spend.spent(doc, NOW + dt.timedelta(days=1)) == {"day": 0.0, "month": 90.0}
    assert spend.spent(doc, dt.datetime(2026, 12, 1, tzinfo=dt.UTC)) == {"day": 0.0, "month": 0.0}
    left = spend.allowance(doc, {"day": 80.0, "month": 300.0}, NOW)
    assert (left["day"]["left_usd"], left["month"]["left_usd"]) == (50.0, 210.0)
    assert left["day"]["resets_in_seconds"] == 12 * 3600


def test_the_storyboards_speech_is_guarded_before_any_tts_call(monkeypatch):
    calls: list[str] = []
    script = {"language": "en", "blocks": [{"index": 0, "visual": "a harbour", "dialogue": "Hello there, friend."}]}
    monkeypatch.setattr(storyboard, "read_json", lambda storage, uri: script)
    monkeypatch.setattr(storyboard, "request_speech", lambda *args, **kwargs: calls.append("tts"))
    doc = {"video_id": "v1", "script_revision": 0, "script_uri": "gs://b/s.json", "usage": {}, "history": []}
    with pytest.raises(BudgetExhausted):
        storyboard._render_and_upload(SimpleNamespace(storage=None), {**doc, "max_cost_usd": 0.0}, 0)
    assert calls == [], "no speech was asked for"
    assert spend.speech_call_usd("Hello there, friend.") > 0
