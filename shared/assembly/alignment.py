"""Captions that say what the script says: Whisper's word timings aligned to the script's words.

Alignment is per block, in the block windows of the job's plan (shared.video.plan): the block's dialogue
words are matched to the words Whisper heard in that window with a sequence alignment on normalised
words, so the displayed words and spellings are the script's while the timings are Whisper's. Script
words Whisper missed get interpolated timings; speech in a block with no dialogue is kept as heard.
"""
from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from shared.assembly.transcribe import Word
from shared.core import log

_SECONDS_PER_MISSING_WORD = 0.3


@dataclass(frozen=True)
class TimedWord:
    """A word to display, with when it is spoken."""

    text: str
    start: float
    end: float
    block: int = -1


def normalise(word: str) -> str:
    """Lower-case, accent-free, letters and digits only (for matching, never for display)."""
    decomposed = unicodedata.normalize("NFKD", word.casefold())
    return "".join(ch for ch in decomposed if ch.isalnum())


def script_words(dialogue: str) -> list[str]:
    """The dialogue's words as written (punctuation kept attached)."""
    return [w for w in re.split(r"\s+", dialogue.strip()) if w]


def align_script(blocks: Sequence[dict[str, Any]], heard: Sequence[Word],
                 windows: Sequence[tuple[float, float]]) -> list[TimedWord]:
    """Timed words for the whole video: the script's words where scripted, Whisper's elsewhere.

    `windows` are the blocks' seconds [start, end) from the job's plan (shared.video.plan); speech heard
    after the last window is captioned as heard.
    """
    by_block = {int(b.get("index", i)): b for i, b in enumerate(blocks)}
    spans = list(windows)
    if spans:
        spans.append((spans[-1][1], float("inf")))
    result: list[TimedWord] = []
    for index, (start, end) in enumerate(spans):
        in_block = [w for w in heard if start <= (w.start + w.end) / 2 < end]
        if not in_block and index >= len(windows):
            continue
        dialogue = str(by_block.get(index, {}).get("dialogue") or "")
        result.extend(align_block(script_words(dialogue), in_block, index, (start, end)))
    return result


def align_block(script: list[str], heard: Sequence[Word], block: int,
                window: tuple[float, float]) -> list[TimedWord]:
    """Align one block's script words to the words heard in its window."""
    if not script:
        return [TimedWord(w.text, w.start, w.end, block) for w in heard]
    if not heard:
        log.warning("no speech heard for scripted dialogue", block=block, words=len(script))
        return []
    times: list[tuple[float, float] | None] = [None] * len(script)
    matcher = difflib.SequenceMatcher(None, [normalise(w) for w in script],
                                      [normalise(w.text) for w in heard], autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            for offset in range(i2 - i1):
                times[i1 + offset] = (heard[j1 + offset].start, heard[j1 + offset].end)
        elif tag == "replace":
            spread = _spread(script[i1:i2], heard[j1].start, heard[j2 - 1].end)
            times[i1:i2] = spread
    filled = _interpolate_missing(script, times, window)
    return [TimedWord(text, s, e, block) for text, (s, e) in zip(script, filled)]


def _spread(words: Sequence[str], start: float, end: float) -> list[tuple[float, float]]:
    """Share [start, end] between words in proportion to their length."""
    weights = [max(1, len(normalise(w))) for w in words]
    total, cursor = sum(weights), start
    out: list[tuple[float, float]] = []
    for weight in weights:
        step = (end - start) * weight / total
        out.append((cursor, cursor + step))
        cursor += step
    return out


def _interpolate_missing(script: list[str], times: list[tuple[float, float] | None],
                         window: tuple[float, float]) -> list[tuple[float, float]]:
    """Give every untimed run of script words a share of the gap between its timed neighbours."""
    out = list(times)
    i = 0
    while i < len(out):
        if out[i] is not None:
            i += 1
            continue
        j = i
        while j < len(out) and out[j] is None:
            j += 1
        estimate = _SECONDS_PER_MISSING_WORD * (j - i)
        prev_end = out[i - 1][1] if i > 0 else None  # type: ignore[index]
        next_start = out[j][0] if j < len(out) else None  # type: ignore[index]
        lo = prev_end if prev_end is not None else max(window[0], (next_start or window[0]) - estimate)
        hi = next_start if next_start is not None else min(window[1], lo + estimate)
        if hi - lo < 0.05 * (j - i):
            hi = lo + 0.05 * (j - i)
        out[i:j] = _spread(script[i:j], lo, hi)
        i = j
    return [t for t in out if t is not None]
