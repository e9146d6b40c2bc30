"""Prompt building: the labelled lines the models (and the simulator) read, for every style and language."""
import pytest

from shared.core.vocabulary import LANGUAGES, STYLES
from shared.script.prompts import script_prompt
from shared.video.prompts import NEGATIVE_PROMPT, block_prompt


def _script(style, language, blocks=3):
    return {"style": style, "language": language, "title": "t", "theme": "tides", "blocks": [
        {"index": i, "visual": f"visual {i}", "dialogue": f'line "{i}": yes', "sound_effects": f"sfx {i}"}
        for i in range(blocks)]}


@pytest.mark.parametrize("style", sorted(STYLES))
@pytest.mark.parametrize("language", sorted(LANGUAGES))
def test_script_prompt_names_theme_style_language_and_blocks(style, language):
    prompt = script_prompt("tides of the moon", style, language, 9)
    lines = prompt.splitlines()
    assert "Theme: tides of the moon" in lines
    assert f"Style: {style}" in lines
    assert f"Language: {LANGUAGES[language]} ({language})" in lines
    assert "Blocks: 9" in lines


def test_script_prompt_carries_the_character_and_a_correction():
    prompt = script_prompt("x y z", "anime", "fr", 9, {"name": "Mila", "description": "a red fox"}, "too short")
    assert "Mila — a red fox" in prompt and "too short" in prompt


@pytest.mark.parametrize("style", sorted(STYLES))
@pytest.mark.parametrize("language", sorted(LANGUAGES))
def test_block_prompt_quotes_dialogue_and_describes_the_shot(style, language):
    script = _script(style, language)
    prompt = block_prompt(script, 1)
    lines = prompt.splitlines()
    assert f"Style: {style} — {STYLES[style]}" in lines
    assert "Scene: visual 1" in lines
    assert 'Dialogue: "line "1": yes"' in lines
    assert f"Language: {LANGUAGES[language]} ({language})" in lines
    assert "Sound: sfx 1" in lines
    assert "Block: 2 of 3" in lines
    assert any(line.startswith("Continuity:") and "visual 0" in line for line in lines)


def test_first_block_has_no_continuity_and_silent_blocks_no_dialogue():
    script = _script("cinematic", "en")
    script["blocks"][0]["dialogue"] = "  "
    prompt = block_prompt(script, 0)
    assert "Dialogue:" not in prompt and "Continuity:" not in prompt


def test_voice_is_described_when_given():
    assert "Voice: calm female narrator" in block_prompt(_script("anime", "es"), 2, voice="calm female narrator")


def test_negative_prompt_forbids_burned_text():
    assert "subtitles" in NEGATIVE_PROMPT
