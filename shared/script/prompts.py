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

# Words dropped from a block's visual description when Veo's safety filter blocked it once.
_SENSITIVE_WORDS = ("blood", "bloody", "gun", "guns", "weapon", "weapons", "knife", "kill", "killing",
                    "dead", "death", "corpse", "violence", "violent", "fight", "war", "explosion",
                    "child", "children", "kid", "kids", "naked", "celebrity", "sang", "arme", "mort",
                    "guerre", "sangre", "arma", "muerte", "guerra")


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
        lines.append(character_line(language, character))
        lines.append("The main character appears in every block; describe them the same way each time.")
    if correction:
        lines.append(f"Your previous answer was rejected: {correction}. Fix it and answer again.")
    return "\n".join(lines)


def block_prompt(script: dict[str, Any], index: int, voice: str | None = None,
                 character: dict[str, str] | None = None, *, segment_start: bool = False,
                 safer: bool = False) -> str:
    """The Veo prompt of block `index` (0-based): style, character, scene, quoted dialogue, sound, continuity.

    `segment_start`: the block starts a new Veo chain from the previous block's last frame.
    `safer`: the rephrase sent once after Veo's safety filter blocked the block.
    """
    blocks = script["blocks"]
    block = blocks[index]
    style = script["style"]
    visual = safer_visual(block["visual"]) if safer else block["visual"]
    lines = [f"Style: {style} — {STYLES[style]}"]
    if character:
        lines.append(f"Character: {character['name']} — {character.get('description', '')}".rstrip(" —"))
    lines += [f"Scene: {visual}", language_line(script["language"])]
    if block.get("dialogue", "").strip():
        lines.append(f'Dialogue: "{block["dialogue"].strip()}"')
        lines.append(f"The narrator speaks this line clearly in {LANGUAGES[script['language']]}, "
                     "with no other speech.")
    sound = "subtle ambience" if safer else (block.get("sound_effects", "").strip() or "subtle ambience")
    lines.append(f"Sound: {sound}")
    lines.append(f"Block: {index + 1} of {len(blocks)}")
    described = voice_description(voice)
    if described:
        lines.append(f"Voice: {described}; the same narrator voice in every block.")
    if index > 0:
        previous = blocks[index - 1]["visual"]
        lines.append(_continuity(safer_visual(previous) if safer else previous, segment_start))
    if safer:
        lines.append("Keep it gentle and family-friendly: no violence, no weapons, no injuries, "
                     "no real or identifiable people.")
    lines.append("Format: vertical 9:16, no on-screen text.")
    return "\n".join(lines)


def _continuity(previous_visual: str, segment_start: bool) -> str:
    if segment_start:
        return ("Continuity: the opening image is the last frame of the previous shot "
                f"({previous_visual}); continue from it without a cut.")
    return f"Continuity: continue seamlessly from the previous shot ({previous_visual})."


def safer_visual(visual: str) -> str:
    """A visual description without the words most likely to trip a safety filter."""
    kept = [w for w in visual.split() if w.strip(".,;:!?\"'()").lower() not in _SENSITIVE_WORDS]
    return " ".join(kept) or "a calm, gentle scene"


def portrait_prompt(name: str, description: str, style: str) -> str:
    """The image-model prompt for a character's reference portrait."""
    return (f"A full-body reference portrait of {name}: {description}. "
            f"Style: {style} — {STYLES[style]}. Plain background, the whole character visible, "
            "facing the camera, no text.")


def opening_frame_prompt(script: dict[str, Any], character: dict[str, str]) -> str:
    """The image-model prompt composing block 1's opening frame with the character in it (9:16)."""
    style = script["style"]
    return (f"Compose the opening frame of a vertical 9:16 video. Show {character['name']} "
            f"({character.get('description', '')}), exactly as in the reference image, in this scene: "
            f"{script['blocks'][0]['visual']}. Style: {style} — {STYLES[style]}. No text.")
