"""Request validation, block planning and script validation."""
import json

import pytest

from shared.core.config import GEMINI_API
from shared.core.errors import GenerationError, InvalidInputError
from shared.core.vocabulary import LANGUAGES, STYLES
from shared.script.writer import parse_request, validate_script
from shared.video.plan import block_range, video_seconds


def test_video_length_is_8_plus_7_per_extension():
    assert [video_seconds(n, GEMINI_API) for n in (1, 2, 9, 12)] == [8, 15, 64, 85]


def test_block_range_for_60_to_90_seconds():
    low, high = block_range(60, 90, GEMINI_API)
    assert (low, high) == (9, 12)
    assert 60 <= video_seconds(low, GEMINI_API) and video_seconds(high, GEMINI_API) <= 90
    assert video_seconds(low - 1, GEMINI_API) < 60 and video_seconds(high + 1, GEMINI_API) > 90


def test_defaults_and_normalisation():
    request = parse_request({"theme": "  a lighthouse in a storm  "})
    assert (request.theme, request.style, request.language) == ("a lighthouse in a storm", "cinematic", "en")


@pytest.mark.parametrize("style", sorted(STYLES))
@pytest.mark.parametrize("language", sorted(LANGUAGES))
def test_every_style_and_language_is_accepted(style, language):
    assert parse_request({"theme": "robots", "style": style, "language": language}).style == style


@pytest.mark.parametrize("body, code", [
    ({}, "invalid_theme"),
    ({"theme": "ab"}, "invalid_theme"),
    ({"theme": "x" * 301}, "invalid_theme"),
    ({"theme": "!!! ???"}, "invalid_theme"),
    ({"theme": "bell\x07"}, "invalid_theme"),
    ({"theme": 42}, "invalid_theme"),
    ({"theme": "robots", "style": "noir"}, "invalid_style"),
    ({"theme": "robots", "language": "de"}, "invalid_language"),
    ({"theme": "robots", "character_id": "../x"}, "invalid_character_id"),
    ({"theme": "robots", "music": "Rock Anthem!"}, "invalid_music"),
    ({"theme": "robots", "colour": "red"}, "unknown_field"),
])
def test_bad_fields_get_a_code_and_a_message(body, code):
    with pytest.raises(InvalidInputError) as info:
        parse_request(body)
    assert info.value.code == code
    assert info.value.message


def test_body_must_be_an_object():
    with pytest.raises(InvalidInputError) as info:
        parse_request(["theme"])
    assert info.value.code == "invalid_body"


def _script(blocks, dialogue="A short line about the sea."):
    return json.dumps({"title": "T", "blocks": [
        {"index": i, "visual": f"shot {i}", "dialogue": dialogue, "sound_effects": "waves"} for i in range(blocks)]})


def test_a_well_formed_script_passes():
    assert len(validate_script(_script(9), blocks=9).blocks) == 9


@pytest.mark.parametrize("text, fragment", [
    ("not json", "invalid"),
    (_script(8), "expected 9 blocks"),
    (_script(9, dialogue="word " * 20), "dialogue has 20 words"),
    (_script(9, dialogue=""), "no block has any dialogue"),
    (json.dumps({"title": "T", "blocks": [{"index": 0}]}), "visual"),
])
def test_malformed_scripts_say_what_is_wrong(text, fragment):
    with pytest.raises(GenerationError, match=fragment):
        validate_script(text, blocks=9)


def test_voice_must_come_from_the_fixed_list():
    assert parse_request({"theme": "robots", "voice": "male_senior_deep"}).voice == "male_senior_deep"
    with pytest.raises(InvalidInputError) as info:
        parse_request({"theme": "robots", "voice": "robotic"})
    assert info.value.code == "invalid_voice"


def test_target_seconds_must_fit_the_preset():
    assert parse_request({"theme": "robots", "preset": "quick_social", "target_seconds": 36}).target_seconds == 36
    with pytest.raises(InvalidInputError) as info:
        parse_request({"theme": "robots", "preset": "quick_social", "target_seconds": 80})
    assert info.value.code == "invalid_target_seconds"
