"""Presets: complete specs, their Veo models and block counts, the request fields, the remedial plan."""
from __future__ import annotations

import pytest

from shared.core.config import GEMINI_API, VERTEX
from shared.core.errors import InvalidInputError
from shared.video.plan import plan_video
from shared.pricing.presets import ALL_CHECKS, PRESETS, get_preset, preset_from_doc
from shared.ops.remedial import MAX_REMEDIAL_ATTEMPTS, plan_remedy
from shared.script.writer import blocks_for, parse_request, video_seconds


def test_each_preset_is_a_complete_spec_whose_window_holds_a_veo_chain():
    for preset in PRESETS.values():
        assert preset.blocking <= set(ALL_CHECKS)
        seconds = video_seconds(blocks_for(preset))
        assert preset.min_seconds <= seconds <= preset.max_seconds
        assert preset.guarantees()


def test_veo_models_follow_the_tier_and_the_api_mode():
    assert get_preset("quick_social").veo_model(GEMINI_API) == "veo-3.1-lite-generate-preview"
    assert get_preset("brand_campaign").veo_model(GEMINI_API) == "veo-3.1-generate-preview"
    assert get_preset("premium_spot").veo_model(VERTEX) == "veo-3.1-generate-001"


def test_brand_campaign_is_the_default_and_keeps_60_to_90_seconds():
    preset = get_preset(None)
    assert preset.name == "brand_campaign"
    assert (preset.min_seconds, preset.max_seconds) == (60, 90)
    assert blocks_for(preset) == 9 and plan_video(9, GEMINI_API).total_seconds == 64


def test_quick_social_is_shorter_and_premium_is_strictest():
    quick, brand, premium = (PRESETS[n] for n in ("quick_social", "brand_campaign", "premium_spot"))
    assert quick.max_seconds < brand.min_seconds
    assert quick.blocking < brand.blocking < premium.blocking == frozenset(ALL_CHECKS)
    assert premium.renditions and premium.renditions[0].width == 720
    assert set(premium.subtitle_formats) == {"srt", "vtt"}


def test_unknown_preset_is_refused():
    with pytest.raises(InvalidInputError) as err:
        get_preset("cinema_4k")
    assert err.value.code == "invalid_preset"


def test_stored_spec_round_trips():
    for preset in PRESETS.values():
        assert preset_from_doc({"preset": preset.name, "preset_spec": preset.to_doc()}) == preset


def test_request_target_seconds_must_lie_in_the_presets_window():
    request = parse_request({"theme": "a lighthouse", "preset": "quick_social", "target_seconds": 43})
    assert video_seconds(blocks_for(PRESETS["quick_social"], request.target_seconds)) == 43
    with pytest.raises(InvalidInputError) as err:
        parse_request({"theme": "a lighthouse", "preset": "quick_social", "target_seconds": 80})
    assert err.value.field == "target_seconds"


def _failed_doc(checks: dict[str, float], attempts: int = 0) -> dict:
    return {"qa": {"blocking_failures": list(checks),
                   "failed_checks": {k: {"measured": v} for k, v in checks.items()}},
            "remedial": {"attempts": attempts} if attempts else {}}


def test_remedy_corrects_the_loudness_target_by_the_measured_error():
    brand = PRESETS["brand_campaign"]
    remedy = plan_remedy(_failed_doc({"integrated_loudness_lufs": -17.5}), brand)
    assert remedy.reassemble and remedy.loudness_target_lufs == pytest.approx(-10.5)
    peak = plan_remedy(_failed_doc({"true_peak_dbtp": 0.4}), brand)
    assert peak.loudness_target_lufs < brand.loudness_lufs


def test_remedy_is_bounded_and_refuses_what_reassembly_cannot_fix():
    brand = PRESETS["brand_campaign"]
    assert not plan_remedy(_failed_doc({"resolution": 0}), brand).reassemble
    spent = plan_remedy(_failed_doc({"integrated_loudness_lufs": -20}, attempts=MAX_REMEDIAL_ATTEMPTS), brand)
    assert not spent.reassemble and "after" in spent.reason
