"""Prompts: the script request to Gemini and one Veo prompt per block.

The labelled lines (`Theme:`, `Scene:`, `Dialogue:` …) are part of the contract with the local
simulator, which reads them; real models read them as plain instructions.
"""
from __future__ import annotations

from typing import Any

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

SCRIPT_SYSTEM_INSTRUCTION = (
    "You write scripts for vertical (9:16) short videos of 60 to 90 seconds. "
    "Answer only with JSON matching the given schema. Each block is one shot: a vivid visual "
    "description (camera, subject, light), the narrator's spoken line in the requested language "
    f"(one or two short sentences, at most {MAX_DIALOGUE_WORDS} words, no digits, no stage directions), "
    "and the sound effects. The blocks tell one story with a hook in the first block and a "
    "satisfying ending in the last."
)

NEGATIVE_PROMPT = ("subtitles, captions, on-screen text, watermark, logo, distorted faces, extra limbs, "
                   "low resolution, flicker")


def language_line(language: str) -> str:
    return f"Language: {LANGUAGES[language]} ({language})"


def script_prompt(theme: str, style: str, language: str, blocks: int,
                  character: dict[str, str] | None = None, correction: str | None = None) -> str:
    """The user prompt asking Gemini for a script of exactly `blocks` blocks."""
    lines = [
        "Write the script of a short vertical video.",
        f"Theme: {theme}",
        f"Style: {style}",
        language_line(language),
        f"Blocks: {blocks}",
        f"Visual style to describe: {STYLES[style]}.",
        f"Write every dialogue line in {LANGUAGES[language]}. The first block lasts 8 seconds, "
        "every further block 7 seconds: keep each spoken line short enough to be said calmly in 5 seconds.",
    ]
    if character:
        lines.append(f"Main character: {character['name']} — {character['description']}")
    if correction:
        lines.append(f"Your previous answer was rejected: {correction}. Fix it and answer again.")
    return "\n".join(lines)


def block_prompt(script: dict[str, Any], index: int, voice: str | None = None) -> str:
    """The Veo prompt of block `index` (0-based): style, scene, quoted dialogue, sound, continuity."""
    blocks = script["blocks"]
    block = blocks[index]
    style = script["style"]
    lines = [
        f"Style: {style} — {STYLES[style]}",
        f"Scene: {block['visual']}",
        language_line(script["language"]),
    ]
    if block.get("dialogue", "").strip():
        lines.append(f'Dialogue: "{block["dialogue"].strip()}"')
        lines.append(f"The narrator speaks this line clearly in {LANGUAGES[script['language']]}, "
                     "with no other speech.")
    lines.append(f"Sound: {block.get('sound_effects', '').strip() or 'subtle ambience'}")
    lines.append(f"Block: {index + 1} of {len(blocks)}")
    if voice:
        lines.append(f"Voice: {voice}")
    if index > 0:
        lines.append(f"Continuity: continue seamlessly from the previous shot ({blocks[index - 1]['visual']}).")
    lines.append("Format: vertical 9:16, no on-screen text.")
    return "\n".join(lines)
