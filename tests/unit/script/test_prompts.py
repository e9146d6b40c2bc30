"""The script prompt: the labelled lines Gemini (and the simulator) reads, for every style and language,
with the character named in the script's language."""
import pytest

from shared.core.vocabulary import CHARACTER_LABELS, LANGUAGES, STYLES
from shared.script.prompts import script_prompt

CHARACTER = {"name": "Mila", "description": "a red fox in a blue scarf"}


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


def test_script_prompt_names_the_character_in_the_script_language():
    assert "PERSONNAGE PRINCIPAL : Mila — a red fox" in script_prompt("x y z", "anime", "fr", 9, CHARACTER)
    assert "PERSONAJE PRINCIPAL: Mila" in script_prompt("x y z", "anime", "es", 9, CHARACTER)
    assert "Main character: Mila" in script_prompt("x y z", "anime", "en", 9, CHARACTER)
    assert set(CHARACTER_LABELS) == set(LANGUAGES)
