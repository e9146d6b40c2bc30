"""Canned, deterministic video scripts in the pipeline's script contract (what Gemini would write).

Dialogue is simple, digit-free speech that mentions the theme, built so that espeak-ng says it clearly
and Whisper can transcribe it. Sentences avoid `de/à + article` so any French or Spanish theme fits.
"""
from __future__ import annotations

import random
import re
from typing import Any

STYLES: dict[str, str] = {
    "cinematic": "cinematic lighting, shallow depth of field, anamorphic lens flares",
    "anime": "hand-drawn anime look, bold outlines, vivid cel shading",
    "realistic": "photorealistic, natural daylight, documentary camera",
    "sketch": "pencil sketch on paper, cross-hatching, animated strokes",
    "cyberpunk": "neon-lit night city, rain reflections, magenta and cyan glow",
    "vintage": "grainy super 8 film, warm faded colours, light leaks",
    "fantasy": "painterly fantasy world, glowing particles, soft magical light",
}

# First line opens the story, last line closes it, the middle ones are picked in a seeded order.
DIALOGUES: dict[str, list[str]] = {
    "en": [
        "Welcome to a short story about {t}.",
        "Today everything begins with {t}.",
        "Look closely, {t} hides many surprises.",
        "Nobody imagined a story like {t}.",
        "Now the real adventure starts with {t}.",
        "Every day, {t} teaches us something new.",
        "Listen carefully, {t} has a lesson for us.",
        "Suddenly, {t} changes everything we know.",
        "Together we understand why {t} matters so much.",
        "The journey with {t} is almost over.",
        "We will always remember this story about {t}.",
        "Thank you for watching this story about {t}.",
    ],
    "fr": [
        "Bienvenue dans une petite histoire sur {t}.",
        "Aujourd'hui, tout commence avec {t}.",
        "Regardez bien, {t} cache de belles surprises.",
        "Personne n'imaginait une histoire comme {t}.",
        "Maintenant, la vraie aventure commence avec {t}.",
        "Chaque jour, {t} nous apprend quelque chose.",
        "Écoutez bien, {t} a une leçon pour nous.",
        "Soudain, {t} change tout ce que nous savons.",
        "Ensemble, nous comprenons pourquoi {t} compte autant.",
        "Le voyage avec {t} est presque fini.",
        "Nous garderons toujours cette histoire sur {t}.",
        "Merci d'avoir regardé cette histoire sur {t}.",
    ],
    "es": [
        "Bienvenidos a una pequeña historia sobre {t}.",
        "Hoy todo comienza con {t}.",
        "Miren bien, {t} esconde muchas sorpresas.",
        "Nadie imaginaba una historia como {t}.",
        "Ahora empieza la verdadera aventura con {t}.",
        "Cada día, {t} nos enseña algo nuevo.",
        "Escuchen bien, {t} tiene una lección para nosotros.",
        "De repente, {t} lo cambia todo.",
        "Juntos entendemos por qué {t} importa tanto.",
        "El viaje con {t} casi termina.",
        "Recordaremos siempre esta historia sobre {t}.",
        "Gracias por ver esta historia sobre {t}.",
    ],
}

FALLBACK_THEME = {"en": "this story", "fr": "cette histoire", "es": "esta historia"}
TITLE_FORMAT = {"en": "The Story of {t}", "fr": "Histoire : {t}", "es": "Historia: {t}"}

SHOTS = [
    "Wide establishing shot", "Slow dolly-in close-up", "Low-angle tracking shot", "Overhead drone shot",
    "Handheld follow shot", "Macro detail shot", "Side-scrolling panorama", "Over-the-shoulder shot",
    "Crane shot rising up", "Silhouette against the light", "Slow-motion medium shot", "Final pull-back wide shot",
]
MOMENTS = [
    "the world is introduced at dawn", "a first clue appears", "curiosity grows as details emerge",
    "an unexpected obstacle shows up", "the adventure picks up speed", "a quiet moment of discovery",
    "a wise lesson is shared", "a sudden twist changes the mood", "everything comes together",
    "the path home becomes clear", "a warm memory lingers", "the story closes at sunset",
]
SOUNDS = [
    "soft wind and distant birds", "footsteps on gravel", "gentle chimes", "a low rumble of thunder",
    "rushing water", "crackling fire", "rustling leaves", "a heartbeat drum", "city hum far away",
    "waves on the shore", "a music box melody", "evening crickets",
]
MAX_THEME_WORDS = 5  # longest template has 7 words: dialogue stays within 12 words
TRAILING_WORDS = {"a", "an", "the", "to", "of", "in", "on", "at", "and", "with", "for", "from", "by", "de", "du",
                  "des", "la", "le", "les", "un", "une", "et", "en", "au", "aux", "el", "los", "las", "y", "con",
                  "del", "al", "por", "para", "sur", "sobre", "à", "pour", "dans"}


def spoken_theme(theme: str, language: str) -> str:
    """The theme as a short phrase that reads well inside a sentence (no digits, at most 5 words)."""
    words = re.sub(r"[^\w\s'’-]", " ", theme).split()
    words = [w for w in words if not any(ch.isdigit() for ch in w)][:MAX_THEME_WORDS]
    while len(words) > 1 and words[-1].lower() in TRAILING_WORDS:
        words.pop()
    if not words:
        return FALLBACK_THEME[language]
    phrase = " ".join(words)
    return phrase[0].lower() + phrase[1:] if not phrase[:2].isupper() else phrase


def dialogue_order(count: int, rng: random.Random) -> list[int]:
    """Template indexes for `count` blocks: opening first, closing last, the rest shuffled."""
    if count == 1:
        return [0]
    middle_pool = list(range(1, len(DIALOGUES["en"]) - 1))
    middle: list[int] = []
    while len(middle) < count - 2:
        batch = middle_pool[:]
        rng.shuffle(batch)
        middle.extend(batch)
    return [0, *middle[: count - 2], len(DIALOGUES["en"]) - 1]


def build_script(theme: str, style: str, language: str, blocks: int, seed: int) -> dict[str, Any]:
    """A script dict in the pipeline's contract: title, theme, style, language, blocks[]."""
    style = style if style in STYLES else "cinematic"
    language = language if language in DIALOGUES else "en"
    rng = random.Random(seed)
    phrase = spoken_theme(theme, language)
    order = dialogue_order(blocks, rng)
    shot_offset = rng.randrange(len(SHOTS))
    return {
        "title": TITLE_FORMAT[language].format(t=_title_theme(theme, phrase)),
        "theme": theme,
        "style": style,
        "language": language,
        "blocks": [_block(i, template, theme, style, language, phrase, shot_offset)
                   for i, template in enumerate(order)],
    }


def _title_theme(theme: str, phrase: str) -> str:
    text = " ".join(theme.split())[:60] or phrase
    return text[0].upper() + text[1:]


def _block(index: int, template: int, theme: str, style: str, language: str, phrase: str,
           shot_offset: int) -> dict[str, Any]:
    shot = SHOTS[(index + shot_offset) % len(SHOTS)] if index else SHOTS[0]
    moment = MOMENTS[template % len(MOMENTS)]
    return {
        "index": index,
        "visual": f"{shot} of {theme.strip() or 'the story'}: {moment}; {STYLES[style]}.",
        "dialogue": DIALOGUES[language][template].format(t=phrase),
        "sound_effects": SOUNDS[(template + index) % len(SOUNDS)],
    }
