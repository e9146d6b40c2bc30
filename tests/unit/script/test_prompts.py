"""The script prompt: the labelled lines Gemini (and the simulator) reads, for every style and language,
with the character named in the script's language."""
import pytest

from shared.core.vocabulary import CHARACTER_LABELS, LANGUAGES, STYLES
from shared.script.prompts import script_prompt

CHAIN_OF_9 = [8] + [7] * 8
CHARACTER = {"name": "Mila", "description": "a red fox in a blue scarf"}


@pytest.mark.parametrize("style", sorted(STYLES))
@pytest.mark.parametrize("language", sorted(LANGUAGES))
def test_script_prompt_names_theme_style_language_and_blocks(style, language):
    prompt = script_prompt("tides of the moon", style, language, CHAIN_OF_9)
    lines = prompt.splitlines()
    assert "Theme: tides of the moon" in lines
    assert f"Style: {style}" in lines
    assert f"Language: {LANGUAGES[language]} ({language})" in lines
    assert "Blocks: 9" in lines


def test_script_prompt_carries_the_character_and_a_correction():
    prompt = script_prompt("x y z", "anime", "fr", CHAIN_OF_9, {"name": "Mila", "description": "a red fox"},
                           "too short")
    assert "Mila — a red fox" in prompt and "too short" in prompt


def test_script_prompt_names_the_character_in_the_script_language():
    assert "PERSONNAGE PRINCIPAL : Mila — a red fox" in script_prompt("x y z", "anime", "fr", CHAIN_OF_9, CHARACTER)
    assert "PERSONAJE PRINCIPAL: Mila" in script_prompt("x y z", "anime", "es", CHAIN_OF_9, CHARACTER)
    assert "Main character: Mila" in script_prompt("x y z", "anime", "en", CHAIN_OF_9, CHARACTER)
    assert set(CHARACTER_LABELS) == set(LANGUAGES)


def test_script_prompt_gives_each_plan_its_block_lengths():
    chain = script_prompt("x y z", "anime", "en", CHAIN_OF_9)
    assert "The first block lasts 8 seconds, every further block 7 seconds" in chain
    assert "said calmly in 5 seconds" in chain
    one_clip_per_block = script_prompt("x y z", "anime", "en", [8] * 9)
    assert "Every block lasts 8 seconds" in one_clip_per_block and "7 seconds" not in one_clip_per_block
    two_segments = script_prompt("x y z", "anime", "en", [8, 7, 8, 7])
    assert "The blocks last 8, 7, 8, 7 seconds in order" in two_segments
