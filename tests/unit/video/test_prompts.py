"""Veo block prompts for every style x language: labelled lines, character, voice, continuity, segments,
the rephrase, the negative prompt; the image prompts."""
import pytest

from shared.core.vocabulary import LANGUAGES, STYLES, VOICES
from shared.video.prompts import NEGATIVE_PROMPT, block_prompt, opening_frame_prompt, portrait_prompt, safer_visual

CHARACTER = {"name": "Mila", "description": "a red fox in a blue scarf"}


def _script(style, language, blocks=4):
    return {"style": style, "language": language, "title": "t", "theme": "tides", "blocks": [
        {"index": i, "visual": f"visual {i} with a bloody knife", "dialogue": f"line {i}", "sound_effects": f"sfx {i}"}
        for i in range(blocks)]}


@pytest.mark.parametrize("style", sorted(STYLES))
@pytest.mark.parametrize("language", sorted(LANGUAGES))
def test_block_prompt_has_every_part(style, language):
    voice = "female_adult_warm"
    prompt = block_prompt(_script(style, language), 2, voice=voice, character=CHARACTER)
    lines = prompt.splitlines()
    assert lines[0] == f"Style: {style} — {STYLES[style]}"
    assert "Character: Mila — a red fox in a blue scarf" in lines
    assert "Scene: visual 2 with a bloody knife" in lines
    assert 'Dialogue: "line 2"' in lines
    assert any(LANGUAGES[language] in line and "narrator speaks" in line for line in lines)
    assert "Sound: sfx 2" in lines
    assert any(line.startswith("Voice: ") and VOICES[voice] in line for line in lines)
    assert any(line.startswith("Continuity:") and "visual 1" in line for line in lines)
    assert lines[-1].startswith("Format: vertical 9:16")


@pytest.mark.parametrize("style", sorted(STYLES))
@pytest.mark.parametrize("language", sorted(LANGUAGES))
def test_rephrase_drops_flagged_words_but_keeps_the_dialogue(style, language):
    script = _script(style, language)
    prompt = block_prompt(script, 1, safer=True)
    assert "bloody" not in prompt and "knife" not in prompt and "sfx 1" not in prompt
    assert 'Dialogue: "line 1"' in prompt and "family-friendly" in prompt
    assert prompt != block_prompt(script, 1)


def test_segment_start_continuity_names_the_opening_image():
    prompt = block_prompt(_script("anime", "en"), 3, segment_start=True)
    assert "opening image is the last frame of the previous shot" in prompt


def test_image_prompts_describe_character_and_scene():
    script = _script("fantasy", "en")
    assert "Mila" in portrait_prompt("Mila", "a red fox", "fantasy")
    opening = opening_frame_prompt(script, CHARACTER)
    assert "Mila" in opening and "visual 0" in opening and "9:16" in opening


def test_safer_visual_never_empty():
    assert safer_visual("blood knife") == "a calm, gentle scene"


def _plain_script(style, language, blocks=3):
    return {"style": style, "language": language, "title": "t", "theme": "tides", "blocks": [
        {"index": i, "visual": f"visual {i}", "dialogue": f'line "{i}": yes', "sound_effects": f"sfx {i}"}
        for i in range(blocks)]}


@pytest.mark.parametrize("style", sorted(STYLES))
@pytest.mark.parametrize("language", sorted(LANGUAGES))
def test_block_prompt_quotes_dialogue_and_describes_the_shot(style, language):
    script = _plain_script(style, language)
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
    script = _plain_script("cinematic", "en")
    script["blocks"][0]["dialogue"] = "  "
    prompt = block_prompt(script, 0)
    assert "Dialogue:" not in prompt and "Continuity:" not in prompt


def test_voice_is_described_when_given():
    assert "Voice: calm female narrator" in block_prompt(_plain_script("anime", "es"), 2, voice="calm female narrator")


def test_negative_prompt_forbids_burned_text():
    assert "subtitles" in NEGATIVE_PROMPT
