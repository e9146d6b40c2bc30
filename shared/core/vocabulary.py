"""The creative vocabulary every part of the pipeline shares: styles, languages, narrator voices.

The labelled prompt lines built here (`Language: …`) are part of the contract with the local simulator,
which reads them; real models read them as plain instructions.
"""
from __future__ import annotations

STYLES: dict[str, str] = {
    "cinematic": "cinematic film look, anamorphic framing, shallow depth of field, warm grade",
    "anime": "hand-drawn anime look, clean line art, cel shading, vivid colours",
    "realistic": "photorealistic documentary look, natural light, handheld camera",
    "sketch": "pencil sketch animation, graphite lines on paper texture, monochrome",
    "cyberpunk": "neon-lit cyberpunk city, rain reflections, magenta and cyan palette",
    "vintage": "1970s film stock, grain, faded colours, soft vignette",
    "fantasy": "epic fantasy illustration, glowing magic, painterly skies",
}

LANGUAGES: dict[str, str] = {"en": "English", "fr": "French", "es": "Spanish"}

MAX_DIALOGUE_WORDS = 14

# The fixed list of narrator voices a request may choose; described in every block so Veo keeps one voice.
VOICES: dict[str, str] = {
    "female_young_bright": "a young adult female narrator, bright and energetic",
    "female_adult_warm": "an adult female narrator in her forties, warm and calm",
    "female_senior_gentle": "an older female narrator, gentle and wise",
    "male_young_bright": "a young adult male narrator, bright and energetic",
    "male_adult_warm": "an adult male narrator in his forties, warm and calm",
    "male_senior_deep": "an older male narrator with a deep, slow, storytelling voice",
}

# "Main character" in the script's language (the script prompt names the character this way).
CHARACTER_LABELS: dict[str, str] = {"en": "Main character:", "fr": "PERSONNAGE PRINCIPAL :",
                                    "es": "PERSONAJE PRINCIPAL:"}


def language_line(language: str) -> str:
    return f"Language: {LANGUAGES[language]} ({language})"


def voice_description(voice: str | None) -> str | None:
    """The words describing a voice id from VOICES (free text is used as given)."""
    if not voice:
        return None
    return VOICES.get(voice, voice)


def character_line(language: str, character: dict[str, str]) -> str:
    """The script prompt's line naming the main character, labelled in the script's language."""
    label = CHARACTER_LABELS.get(language, CHARACTER_LABELS["en"])
    return f"{label} {character['name']} — {character.get('description', '')}".rstrip(" —")
