"""Caption fonts are files in the repository: what libass draws with, what coverage and fitting read."""
from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fontTools.ttLib import TTFont

from shared.assembly.caption_style import (
    FONTS_DIR,
    build_ass,
    caption_style,
    check_font_coverage,
    fit_font_sizes,
    font_charset,
    font_file,
)
from shared.assembly.finish import OUT_HEIGHT, OUT_WIDTH, video_chain
from shared.assembly.subtitles import Cue
from shared.core.errors import PermanentError
from shared.media import render
from shared.media.binaries import ffmpeg_binary
from shared.media.probe import MediaInfo

pytestmark = pytest.mark.timeout(120)


def test_every_style_font_is_a_vendored_bold_file_with_its_licence() -> None:
    families = {style.font for style in (caption_style(s) for s in ("cinematic", "anime", "sketch", "vintage"))}
    for family in families:
        path = font_file(family)
        assert path.parent == FONTS_DIR and path.is_file()
        with TTFont(str(path)) as font:  # libass matches the name table and weight, not the file name
            assert font["name"].getDebugName(1) == family
            assert font["name"].getDebugName(2) == "Bold" and font["OS/2"].usWeightClass == 700
    assert "Bitstream Vera" in (FONTS_DIR / "LICENSE").read_text(encoding="utf-8")


def test_the_stand_in_renderer_draws_with_the_vendored_regular_face() -> None:
    """shared.media.render (storyboard previews, the simulator) uses the repository's file, not /usr/share."""
    path = Path(render.FONT_FILE)
    assert path.parent == FONTS_DIR and path.is_file()
    with TTFont(str(path)) as font:
        assert font["name"].getDebugName(1) == "DejaVu Sans" and font["OS/2"].usWeightClass == 400


def test_the_library_names_no_system_font() -> None:
    shared = FONTS_DIR.parents[2]
    offenders = [str(p.relative_to(shared)) for p in shared.rglob("*.py") if "/usr/share/fonts" in p.read_text("utf-8")]
    assert offenders == [], "fonts come from shared/assembly/assets/fonts"


def test_an_unknown_family_is_a_missing_font_error() -> None:
    with pytest.raises(PermanentError, match="no caption font file") as caught:
        font_file("Comic Sans MS")
    assert caught.value.code == "missing_font"


def test_coverage_is_read_from_the_vendored_file() -> None:
    covered = font_charset(font_file("DejaVu Sans"))
    assert {ord("A"), ord("é"), ord("ש"), ord("م"), ord("☺")} <= covered
    assert not {0x4E16, 0x1F680} & covered  # CJK and emoji: not in DejaVu Sans


def test_fonts_are_read_without_any_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """No fc-match / fc-query / fc-list (nor anything else) is run to find or measure a font."""
    def no_process(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"a process was started: {args[0] if args else kwargs}")
    monkeypatch.setattr(subprocess, "Popen", no_process)
    monkeypatch.setattr(subprocess, "run", no_process)
    font_charset.cache_clear()
    cues = [Cue(0.0, 1.0, ("Hello \U0001F680 world",)), Cue(1.0, 2.0, ("W" * 60,))]
    burnable = check_font_coverage(cues, "DejaVu Sans")
    assert burnable[0].lines == ("Hello world",)
    sizes = fit_font_sizes(burnable, caption_style("cinematic"), OUT_WIDTH)
    assert list(sizes) == [1] and 24 <= sizes[1] < caption_style("cinematic").font_size
    assert "\\fs" in build_ass(burnable, caption_style("cinematic"))


def _burn(tmp_path: Path, chain: str) -> Any:
    """One 1080x1920 frame of black with the finish's video chain applied, as gray pixels, where fontconfig
    knows no font at all (as on the runtime image)."""
    empty = tmp_path / "fonts.conf"
    empty.write_text('<?xml version="1.0"?>\n<fontconfig></fontconfig>\n', encoding="utf-8")
    env = {"FONTCONFIG_FILE": str(empty), "HOME": str(tmp_path), "PATH": "/nonexistent"}
    out = subprocess.run([ffmpeg_binary(), "-hide_banner", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i",
                          f"color=black:s={OUT_WIDTH}x{OUT_HEIGHT}:r=24:d=1", "-filter_complex", chain,
                          "-map", "[vout]", "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "gray", "-"],
                         capture_output=True, env=env, timeout=60, check=True)
    return np.frombuffer(out.stdout, dtype=np.uint8).reshape(OUT_HEIGHT, OUT_WIDTH)


def test_the_burn_draws_with_the_vendored_font_when_the_machine_has_none(tmp_path: Path) -> None:
    ass = tmp_path / "captions.ass"
    ass.write_text(build_ass([Cue(0.0, 5.0, ("Hello harbour",))], caption_style("cinematic")), encoding="utf-8")
    info = MediaInfo(duration=1.0, width=OUT_WIDTH, height=OUT_HEIGHT, fps=24.0, video_codec="h264",
                     profile="High", pix_fmt="yuv420p", audio_codec=None, sample_rate=0, audio_channels=0,
                     faststart=True)
    chain = video_chain(info, ass)
    assert ":fontsdir=" in chain
    drawn = _burn(tmp_path, chain)
    assert np.count_nonzero(drawn > 200) > 2000, "the caption was drawn"
    without = _burn(tmp_path, chain.split(":fontsdir=")[0] + ",format=yuv420p[vout]")
    assert np.count_nonzero(without > 200) == 0, "control: with no fontsdir nothing can be drawn here"
