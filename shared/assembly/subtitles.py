"""Subtitles that say what the script says: align Whisper's word timings to the script, build cues, write SRT/VTT.

Alignment is per block (block 1 spans 0-8 s, block k>1 spans 8+7(k-2) .. 8+7(k-1) s): the block's
dialogue words are matched to the words Whisper heard in that window with a sequence alignment on
normalised words, so the displayed words and spellings are the script's while the timings are Whisper's.
Script words Whisper missed get interpolated timings; speech in a block with no dialogue is kept as heard.
"""
from __future__ import annotations

import difflib
import re
import subprocess
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable, Sequence

from shared.core import log
from shared.core.errors import ErrorCode, PermanentError
from shared.assembly.transcribe import Word

ORPHAN_WORDS = 3  # a cue that continues a sentence gets at least this many words
MAX_LINE_CHARS = 26  # well under the ~42 broadcast limit: what a 9:16 frame fits at a phone-readable size
MAX_LINES = 2
MIN_CUE_SECONDS = 1.0
MAX_CUE_SECONDS = 6.0
PAUSE_SPLIT_SECONDS = 0.8
HOLD_SECONDS = 0.25
_SENTENCE_END = (".", "!", "?", "…", "。", "！", "？")
_CLAUSE_END = (",", ";", ":", "—", "–", "،", "，")
_SECONDS_PER_MISSING_WORD = 0.3


@dataclass(frozen=True)
class TimedWord:
    """A word to display, with when it is spoken."""

    text: str
    start: float
    end: float
    block: int = -1


@dataclass(frozen=True)
class Cue:
    """One subtitle: 1-2 lines shown from start to end (seconds)."""

    start: float
    end: float
    lines: tuple[str, ...]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def normalise(word: str) -> str:
    """Lower-case, accent-free, letters and digits only (for matching, never for display)."""
    decomposed = unicodedata.normalize("NFKD", word.casefold())
    return "".join(ch for ch in decomposed if ch.isalnum())


def script_words(dialogue: str) -> list[str]:
    """The dialogue's words as written (punctuation kept attached)."""
    return [w for w in re.split(r"\s+", dialogue.strip()) if w]


# --- alignment ---------------------------------------------------------------------------------

def align_script(blocks: Sequence[dict], heard: Sequence[Word],
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


def _spread(words: Sequence[str], start: float, end: float) -> list[tuple[float, float] | None]:
    """Share [start, end] between words in proportion to their length."""
    weights = [max(1, len(normalise(w))) for w in words]
    total, cursor, out = sum(weights), start, []
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


# --- burned-in style (ASS) -----------------------------------------------------------------------

@dataclass(frozen=True)
class CaptionStyle:
    """How burned subtitles look for one visual style (ASS colours are &HAABBGGRR)."""

    font: str = "DejaVu Sans"
    font_size: int = 66
    primary: str = "&H00FFFFFF"
    outline_colour: str = "&H00101010"
    back_colour: str = "&H80000000"
    border_style: int = 1  # 1 = outline + shadow, 3 = opaque box
    outline: float = 4.0
    shadow: float = 2.0
    margin_v_fraction: float = 0.25  # clear of the bottom UI band of phone apps
    margin_h: int = 60


CAPTION_STYLES: dict[str, CaptionStyle] = {
    "cinematic": CaptionStyle(),
    "realistic": CaptionStyle(outline=3.5, shadow=1.5),
    "anime": CaptionStyle(outline_colour="&H00401020", outline=5.0, shadow=0.0),
    "sketch": CaptionStyle(primary="&H00FFFFFF", outline_colour="&HA0202020", border_style=3, outline=14.0,
                           shadow=0.0),
    "cyberpunk": CaptionStyle(primary="&H00FFFF9A", outline_colour="&H00300A20", outline=4.5, shadow=3.0),
    "vintage": CaptionStyle(primary="&H00D8F0FF", outline_colour="&H00102030", outline=4.0, shadow=2.0),
    "fantasy": CaptionStyle(primary="&H00F0FAFF", outline_colour="&H00301808", outline=4.5, shadow=2.5),
}


def caption_style(style_id: str) -> CaptionStyle:
    """The caption style for a visual style id (cinematic when unknown)."""
    return CAPTION_STYLES.get(style_id, CAPTION_STYLES["cinematic"])


def escape_ass_text(text: str) -> str:
    """Make text literal for libass: no override blocks, no accidental \\N/\\n/\\h escapes."""
    text = text.replace("\\", "\\\u200b")  # a zero-width space after a backslash stops any escape
    text = text.replace("{", "\\{").replace("}", "\\}")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _ass_time(seconds: float) -> str:
    centis = int(round(max(0.0, seconds) * 100))
    hours, rest = divmod(centis, 360_000)
    minutes, rest = divmod(rest, 6000)
    secs, cs = divmod(rest, 100)
    return f"{hours:d}:{minutes:02d}:{secs:02d}.{cs:02d}"


def build_ass(cues: Sequence[Cue], style: CaptionStyle, *, width: int = 1080, height: int = 1920,
              font_size_for: "dict[int, int] | None" = None) -> str:
    """A complete ASS document for the cues on a width x height canvas (too-wide cues get a smaller font)."""
    if font_size_for is None:
        font_size_for = fit_font_sizes(cues, style, width)
    margin_v = int(round(height * style.margin_v_fraction))
    header = (
        "[Script Info]\nScriptType: v4.00+\nWrapStyle: 2\nScaledBorderAndShadow: yes\n"
        f"PlayResX: {width}\nPlayResY: {height}\nYCbCr Matrix: TV.709\n\n"
        "[V4+ Styles]\nFormat: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, "
        "BackColour, Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, "
        "Outline, Shadow, Alignment, MarginL, MarginR, MarginV, Encoding\n"
        f"Style: Default,{style.font},{style.font_size},{style.primary},{style.primary},"
        f"{style.outline_colour},{style.back_colour},-1,0,0,0,100,100,0,0,{style.border_style},"
        f"{style.outline},{style.shadow},2,{style.margin_h},{style.margin_h},{margin_v},1\n\n"
        "[Events]\nFormat: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n")
    events = []
    for k, cue in enumerate(cues):
        size = font_size_for.get(k)
        prefix = f"{{\\fs{size}}}" if size and size != style.font_size else ""
        text = "\\N".join(escape_ass_text(line) for line in cue.lines)
        events.append(f"Dialogue: 0,{_ass_time(cue.start)},{_ass_time(cue.end)},Default,,0,0,0,,{prefix}{text}")
    return header + "\n".join(events) + ("\n" if events else "")


# --- fonts: coverage and fitting -----------------------------------------------------------------

def font_file(family: str, *, bold: bool = True) -> str:
    """The font file fontconfig picks for a family (what libass will use)."""
    pattern = f"{family}:bold" if bold else family
    proc = subprocess.run(["fc-match", "-f", "%{file}", pattern], capture_output=True, text=True, timeout=30)
    if proc.returncode != 0 or not proc.stdout:
        raise PermanentError(f"no font found for {pattern!r} (is fontconfig installed?)", code=ErrorCode.MISSING_FONT)
    return proc.stdout.strip()


@lru_cache(maxsize=8)
def font_charset(path: str) -> frozenset[int]:
    """Code points a font file covers, read with fc-query."""
    proc = subprocess.run(["fc-query", "--format=%{charset}", path], capture_output=True, text=True, timeout=30)
    points: set[int] = set()
    for item in proc.stdout.split():
        lo, _, hi = item.partition("-")
        points.update(range(int(lo, 16), int(hi or lo, 16) + 1))
    return frozenset(points)


def _needs_glyph(ch: str) -> bool:
    return not (ch.isspace() or unicodedata.category(ch) in ("Cf", "Cc") or 0xFE00 <= ord(ch) <= 0xFE0F)


@lru_cache(maxsize=256)
def _any_font_covers(ch: str) -> bool:
    proc = subprocess.run(["fc-list", f":charset={ord(ch):x}", "family"], capture_output=True, text=True,
                          timeout=30)
    return bool(proc.stdout.strip())


def check_font_coverage(cues: Sequence[Cue], family: str) -> list[Cue]:
    """Cues safe to burn: emoji no font has are dropped; other missing characters raise PermanentError."""
    covered = font_charset(font_file(family))
    missing = sorted({ch for c in cues for ch in c.text
                      if _needs_glyph(ch) and ord(ch) not in covered and not _any_font_covers(ch)})
    symbols = {ch for ch in missing if unicodedata.category(ch) == "So"}
    letters = [ch for ch in missing if ch not in symbols]
    if letters:
        named = ", ".join(f"{ch!r} U+{ord(ch):04X}" for ch in letters)
        raise PermanentError(f"no installed font can render subtitle characters: {named}", code=ErrorCode.MISSING_GLYPHS)
    if not symbols:
        return list(cues)
    log.warning("dropping symbols no font can render", characters="".join(sorted(symbols)))
    return [Cue(c.start, c.end, tuple(" ".join("".join(ch for ch in line if ch not in symbols).split())
                                      for line in c.lines)) for c in cues]


def fit_font_sizes(cues: Sequence[Cue], style: CaptionStyle, width: int) -> dict[int, int]:
    """Smaller font sizes for cues whose widest line would not fit between the margins."""
    from PIL import ImageFont

    path = font_file(style.font)
    room = width - 2 * style.margin_h - 2 * style.outline
    font = ImageFont.truetype(path, style.font_size)
    sizes = {}
    for k, cue in enumerate(cues):
        widest = max((font.getlength(line) for line in cue.lines), default=0.0)
        if widest > room:
            sizes[k] = max(24, int(style.font_size * room / widest))
    return sizes
