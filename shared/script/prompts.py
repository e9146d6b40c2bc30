"""The script request to Gemini (the labelled lines `Theme:`, `Blocks:` … are read by the local simulator)."""
from __future__ import annotations

from shared.core.vocabulary import LANGUAGES, MAX_DIALOGUE_WORDS, STYLES, character_line, language_line

SCRIPT_SYSTEM_INSTRUCTION = (
    "You write scripts for vertical (9:16) short videos of 60 to 90 seconds. "
    "Answer only with JSON matching the given schema. Each block is one shot: a vivid visual "
    "description (camera, subject, light), the narrator's spoken line in the requested language "
    f"(one or two short sentences, at most {MAX_DIALOGUE_WORDS} words, no digits, no stage directions), "
    "and the sound effects. The blocks tell one story with a hook in the first block and a "
    "satisfying ending in the last."
)


def script_prompt(theme: str, style: str, language: str, block_seconds: list[int],
                  character: dict[str, str] | None = None, correction: str | None = None) -> str:
    """The user prompt asking Gemini for a script of one block per entry of `block_seconds` (the plan's clip
    lengths: 8 s then 7 s per extension in a chain, 8 s for every block of a model without extension)."""
    blocks = len(block_seconds)
    lines = [
        "Write the script of a short vertical video.",
        f"Theme: {theme}",
        f"Style: {style}",
        language_line(language),
        f"Blocks: {blocks}",
        f"Visual style to describe: {STYLES[style]}.",
        f"Write every dialogue line in {LANGUAGES[language]}. {durations_sentence(block_seconds)}: keep each "
        f"spoken line short enough to be said calmly in {min(block_seconds) - 2} seconds.",
    ]
    if character:
        lines.append(character_line(language, character))
        lines.append("The main character appears in every block; describe them the same way each time.")
    if correction:
        lines.append(f"Your previous answer was rejected: {correction}. Fix it and answer again.")
    return "\n".join(lines)


def durations_sentence(block_seconds: list[int]) -> str:
    """How long the blocks last, in the words the prompt uses."""
    first, rest = block_seconds[0], set(block_seconds[1:])
    if not rest or rest == {first}:
        return f"Every block lasts {first} seconds"
    if len(rest) == 1:
        return f"The first block lasts {first} seconds, every further block {rest.pop()} seconds"
    return "The blocks last " + ", ".join(str(s) for s in block_seconds) + " seconds in order"
