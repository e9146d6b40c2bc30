"""How burned-in captions look: the ASS file libass draws, per visual style, and the fonts it needs.

The caption fonts are files in the repository (assets/fonts/, DejaVu from Debian's fonts-dejavu-core,
licence beside them): the burn filter gets FONTS_DIR as libass's `fontsdir`, and the coverage check and
the size fitting read the same files. No system font, no fontconfig query: the runtime image has none.
"""
from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from fontTools.ttLib import TTFont
from PIL import ImageFont

from shared.assembly.subtitles import Cue
from shared.core import log
from shared.core.errors import ErrorCode, PermanentError

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
              font_size_for: dict[int, int] | None = None) -> str:
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

FONTS_DIR = Path(__file__).resolve().parent / "assets" / "fonts"
# (family, bold) -> the vendored file libass uses for it. Every style is bold (ASS Bold=-1 in build_ass).
FONT_FILES: dict[tuple[str, bool], str] = {("DejaVu Sans", True): "DejaVuSans-Bold.ttf"}


def font_file(family: str, *, bold: bool = True) -> Path:
    """The vendored font file libass draws `family` with (PermanentError missing_font when there is none)."""
    name = FONT_FILES.get((family, bold))
    path = FONTS_DIR / name if name else None
    if path is None or not path.is_file():
        face = f"{family} {'Bold' if bold else 'Regular'}"
        raise PermanentError(f"no caption font file for {face!r} in {FONTS_DIR}", code=ErrorCode.MISSING_FONT)
    return path


@lru_cache(maxsize=8)
def font_charset(path: Path) -> frozenset[int]:
    """Code points a font file has glyphs for (its best Unicode cmap, read with fontTools)."""
    with TTFont(str(path), lazy=True) as font:
        return frozenset(font.getBestCmap() or {})


def _needs_glyph(ch: str) -> bool:
    return not (ch.isspace() or unicodedata.category(ch) in ("Cf", "Cc") or 0xFE00 <= ord(ch) <= 0xFE0F)


def check_font_coverage(cues: Sequence[Cue], family: str) -> list[Cue]:
    """Cues safe to burn with the vendored font: symbols it lacks (emoji) are dropped, missing letters raise.

    Only the vendored file counts: libass is given no other font in production, so a character it lacks
    would be burned as an empty box.
    """
    covered = font_charset(font_file(family))
    missing = sorted({ch for c in cues for ch in c.text if _needs_glyph(ch) and ord(ch) not in covered})
    symbols = {ch for ch in missing if unicodedata.category(ch) == "So"}
    letters = [ch for ch in missing if ch not in symbols]
    if letters:
        named = ", ".join(f"{ch!r} U+{ord(ch):04X}" for ch in letters)
        raise PermanentError(f"the caption font ({family}) cannot render subtitle characters: {named}",
                             code=ErrorCode.MISSING_GLYPHS)
    if not symbols:
        return list(cues)
    log.warning("dropping symbols the caption font cannot render", characters="".join(sorted(symbols)))
    return [Cue(c.start, c.end, tuple(" ".join("".join(ch for ch in line if ch not in symbols).split())
                                      for line in c.lines)) for c in cues]


def fit_font_sizes(cues: Sequence[Cue], style: CaptionStyle, width: int) -> dict[int, int]:
    """Smaller font sizes for cues whose widest line would not fit between the margins."""
    path = font_file(style.font)
    room = width - 2 * style.margin_h - 2 * style.outline
    font = ImageFont.truetype(str(path), style.font_size)
    sizes = {}
    for k, cue in enumerate(cues):
        widest = max((font.getlength(line) for line in cue.lines), default=0.0)
        if widest > room:
            sizes[k] = max(24, int(style.font_size * room / widest))
    return sizes
