"""Subtitle cues from timed words (phone-readable lines, sentence-aware breaks) and the SRT/VTT files."""
from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from shared.assembly.alignment import TimedWord

ORPHAN_WORDS = 3  # a cue that continues a sentence gets at least this many words
MAX_LINE_CHARS = 26  # well under the ~42 broadcast limit: what a 9:16 frame fits at a phone-readable size
MAX_LINES = 2
MIN_CUE_SECONDS = 1.0
MAX_CUE_SECONDS = 6.0
PAUSE_SPLIT_SECONDS = 0.8
HOLD_SECONDS = 0.25
_SENTENCE_END = (".", "!", "?", "…", "。", "！", "？")
_CLAUSE_END = (",", ";", ":", "—", "–", "،", "，")


@dataclass(frozen=True)
class Cue:
    """One subtitle: 1-2 lines shown from start to end (seconds)."""

    start: float
    end: float
    lines: tuple[str, ...]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


# --- cues ----------------------------------------------------------------------------------------

def wrap_lines(text: str, max_chars: int = MAX_LINE_CHARS) -> tuple[str, ...] | None:
    """Split text into at most two balanced lines of <= max_chars, preferring a break after punctuation."""
    if len(text) <= max_chars:
        return (text,)
    words = text.split(" ")
    best: tuple[float, tuple[str, ...]] | None = None
    for k in range(1, len(words)):
        first, second = " ".join(words[:k]), " ".join(words[k:])
        if len(first) > max_chars or len(second) > max_chars:
            continue
        score = max(len(first), len(second)) - (6 if first.endswith(_CLAUSE_END + _SENTENCE_END) else 0)
        if best is None or score < best[0]:
            best = (score, (first, second))
    return best[1] if best else None


def _fits(words: Sequence[TimedWord], max_chars: int) -> bool:
    text = " ".join(w.text for w in words)
    return len(text) <= max_chars or wrap_lines(text, max_chars) is not None


def _should_break(current: list[TimedWord], word: TimedWord, max_chars: int) -> bool:
    last = current[-1]
    text_len = len(" ".join(w.text for w in current))
    return (word.block != last.block
            or word.start - last.end > PAUSE_SPLIT_SECONDS
            or last.text.endswith(_SENTENCE_END)
            or (last.text.endswith(_CLAUSE_END) and text_len >= max_chars // 2)
            or word.end - current[0].start > MAX_CUE_SECONDS
            or not _fits([*current, word], max_chars))


def group_words(words: Sequence[TimedWord], max_chars: int = MAX_LINE_CHARS) -> list[list[TimedWord]]:
    """Group timed words into cue-sized runs (split at sentence ends, pauses, blocks, size limits)."""
    groups: list[list[TimedWord]] = []
    for word in sorted(words, key=lambda w: w.start):
        if groups and not _should_break(groups[-1], word, max_chars):
            groups[-1].append(word)
        else:
            groups.append([word])
    return groups


def _continues(prev: list[TimedWord], group: list[TimedWord]) -> bool:
    """Whether `group` carries on `prev`'s sentence (same block, no sentence end, no pause between)."""
    return (group[0].block == prev[-1].block and not prev[-1].text.endswith(_SENTENCE_END)
            and group[0].start - prev[-1].end <= PAUSE_SPLIT_SECONDS)


def _rebalance_orphans(groups: list[list[TimedWord]], max_chars: int) -> list[list[TimedWord]]:
    """Give a one- or two-word tail of a sentence a few words of the cue before it ("… for" / "us.")."""
    for prev, group in zip(groups, groups[1:]):
        while (len(group) < ORPHAN_WORDS and len(prev) > ORPHAN_WORDS and _continues(prev, group)
               and _fits([prev[-1], *group], max_chars)
               and group[-1].end - prev[-1].start <= MAX_CUE_SECONDS):
            group.insert(0, prev.pop())
    return groups


def _merge_short(groups: list[list[TimedWord]], max_chars: int) -> list[list[TimedWord]]:
    """Join a group too short to show for 1 s with the next one when the result still fits."""
    merged: list[list[TimedWord]] = []
    for group in groups:
        if merged:
            prev = merged[-1]
            too_short = prev[-1].end + HOLD_SECONDS - prev[0].start < MIN_CUE_SECONDS
            joined = [*prev, *group]
            if (too_short and group[0].start - prev[-1].end <= PAUSE_SPLIT_SECONDS and _fits(joined, max_chars)
                    and joined[-1].end - joined[0].start <= MAX_CUE_SECONDS):
                merged[-1] = joined
                continue
        merged.append(list(group))
    return merged


def build_cues(words: Sequence[TimedWord], max_chars: int = MAX_LINE_CHARS) -> list[Cue]:
    """Cues of <= 2 lines x max_chars, lasting 1-6 s, never overlapping."""
    groups = _merge_short(_rebalance_orphans(group_words(words, max_chars), max_chars), max_chars)
    cues: list[Cue] = []
    prev_end = 0.0
    for k, group in enumerate(groups):
        next_start = groups[k + 1][0].start if k + 1 < len(groups) else float("inf")
        start = max(group[0].start, prev_end)
        end = min(max(group[-1].end + HOLD_SECONDS, start + MIN_CUE_SECONDS), start + MAX_CUE_SECONDS)
        if end > next_start and next_start - start >= MIN_CUE_SECONDS:
            end = next_start  # else the next cue starts a little late rather than this one flashing
        text = " ".join(w.text for w in group)
        cues.append(Cue(round(start, 3), round(end, 3), wrap_lines(text, max_chars) or (text,)))
        prev_end = round(end, 3)
    return cues


# --- writers -------------------------------------------------------------------------------------

def _timestamp(seconds: float, sep: str) -> str:
    millis = int(round(max(0.0, seconds) * 1000))
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, ms = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{sep}{ms:03d}"


def to_srt(cues: Iterable[Cue]) -> str:
    """SubRip text (empty string when there are no cues)."""
    parts = [f"{n}\n{_timestamp(c.start, ',')} --> {_timestamp(c.end, ',')}\n{c.text}\n"
             for n, c in enumerate(cues, 1)]
    return "\n".join(parts)


def to_vtt(cues: Iterable[Cue]) -> str:
    """WebVTT text (just the header when there are no cues)."""
    body = "".join(f"\n{_timestamp(c.start, '.')} --> {_timestamp(c.end, '.')}\n{_vtt_escape(c.text)}\n"
                   for c in cues)
    return "WEBVTT\n" + body


def _vtt_escape(text: str) -> str:
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("-->", "--&gt;")


def parse_srt(text: str) -> list[Cue]:
    """Read SubRip text back into cues (for checks and tests)."""
    cues = []
    for chunk in re.split(r"\n\s*\n", text.strip()):
        lines = chunk.splitlines()
        if len(lines) < 2 or "-->" not in lines[1]:
            continue
        start, end = (_seconds(t.strip()) for t in lines[1].split("-->"))
        cues.append(Cue(start, end, tuple(lines[2:])))
    return cues


def _seconds(stamp: str) -> float:
    hours, minutes, rest = stamp.replace(",", ".").split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(rest)
