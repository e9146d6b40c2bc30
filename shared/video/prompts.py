"""Prompts of the video step: one Veo prompt per block, and the image model's portrait and opening frame.

The labelled lines (`Scene:`, `Dialogue:`, `Block:` …) are part of the contract with the local simulator,
which reads them; real models read them as plain instructions.
"""
from __future__ import annotations

from typing import Any

from shared.core.vocabulary import LANGUAGES, STYLES, language_line, voice_description

NEGATIVE_PROMPT = ("subtitles, captions, on-screen text, watermark, logo, distorted faces, extra limbs, "
                   "low resolution, flicker")

# Words dropped from a block's visual description when Veo's safety filter blocked it once.
_SENSITIVE_WORDS = ("blood", "bloody", "gun", "guns", "weapon", "weapons", "knife", "kill", "killing",
                    "dead", "death", "corpse", "violence", "violent", "fight", "war", "explosion",
                    "child", "children", "kid", "kids", "naked", "celebrity", "sang", "arme", "mort",
                    "guerre", "sangre", "arma", "muerte", "guerra")


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
