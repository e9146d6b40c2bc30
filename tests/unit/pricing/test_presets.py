"""Presets: complete specs, their Veo models and block counts, the request fields."""
from __future__ import annotations

import pytest

from shared.core.config import GEMINI_API, VERTEX
from shared.core.errors import InvalidInputError
from shared.pricing.presets import ALL_CHECKS, PRESETS, get_preset, preset_from_doc
from shared.script.writer import blocks_for, parse_request
from shared.video.plan import plan_video, video_seconds


def test_each_preset_is_a_complete_spec_whose_window_holds_a_veo_chain():
    for preset in PRESETS.values():
        assert preset.blocking <= set(ALL_CHECKS)
        for mode in (GEMINI_API, VERTEX):
            for target in (None, preset.min_seconds, preset.max_seconds):
                seconds = video_seconds(blocks_for(preset, target, mode), mode, preset.veo_model(mode))
                assert preset.min_seconds <= seconds <= preset.max_seconds
        assert preset.guarantees()


def test_quick_social_is_planned_for_lite_in_each_mode():
    """Contract V3: on the Gemini API every Lite block is its own 8 s clip; on Vertex AI Lite extends."""
    quick = PRESETS["quick_social"]
    blocks = blocks_for(quick, None, GEMINI_API)
    plan = plan_video(blocks, GEMINI_API, quick.veo_model(GEMINI_API))
    assert (blocks, plan.total_seconds, len(plan.segments)) == (4, 32, 4)
    assert not any(b.extension for b in plan.blocks)
    vertex = plan_video(blocks_for(quick, None, VERTEX), VERTEX, quick.veo_model(VERTEX))
    assert (len(vertex.blocks), vertex.total_seconds, len(vertex.segments)) == (4, 29, 1)


def test_veo_models_follow_the_tier_and_the_api_mode():
    assert get_preset("quick_social").veo_model(GEMINI_API) == "veo-3.1-lite-generate-preview"
    assert get_preset("brand_campaign").veo_model(GEMINI_API) == "veo-3.1-generate-preview"
    assert get_preset("premium_spot").veo_model(VERTEX) == "veo-3.1-generate-001"


def test_brand_campaign_is_the_default_and_keeps_60_to_90_seconds():
    preset = get_preset(None)
    assert preset.name == "brand_campaign"
    assert (preset.min_seconds, preset.max_seconds) == (60, 90)
    assert blocks_for(preset, None, GEMINI_API) == 9 and plan_video(9, GEMINI_API).total_seconds == 64


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
    quick = PRESETS["quick_social"]
    assert video_seconds(blocks_for(quick, request.target_seconds, VERTEX), VERTEX, quick.veo_model(VERTEX)) == 44, \
        "Vertex AI: 6 blocks in two segments of 22 s"
    lite_g = quick.veo_model(GEMINI_API)
    assert video_seconds(blocks_for(quick, request.target_seconds, GEMINI_API), GEMINI_API, lite_g) == 40, \
        "Lite on the Gemini API makes 8 s per block: 40 s is the nearest"
    with pytest.raises(InvalidInputError) as err:
        parse_request({"theme": "a lighthouse", "preset": "quick_social", "target_seconds": 80})
    assert err.value.field == "target_seconds"
