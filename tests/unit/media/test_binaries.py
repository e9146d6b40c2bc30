"""shared.media.binaries: ffmpeg is the pinned imageio-ffmpeg wheel's binary, whatever PATH or the environment say."""
from __future__ import annotations

import re
import stat
from collections.abc import Iterator
from pathlib import Path

import imageio_ffmpeg
import pytest

from shared.core.errors import ConfigError, PermanentError, TransientError
from shared.media import binaries
from shared.media import ffmpeg as media
from shared.media.binaries import MissingToolError, ffmpeg_binary

REPO = Path(__file__).resolve().parents[3]
WHEEL_FFMPEG = "9.0.2"  # the ffmpeg inside imageio-ffmpeg==0.8.1 (shared/requirements.txt)


def _executable(path: Path, body: str) -> Path:
    path.write_text(f"#!/bin/sh\n{body}\n", encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


@pytest.fixture
def fresh_lookup() -> Iterator[None]:
    """The packaged lookup recomputed for this test, and again afterwards (it is cached per process)."""
    binaries.packaged_ffmpeg.cache_clear()
    yield
    binaries.packaged_ffmpeg.cache_clear()


def test_ffmpeg_is_the_binary_inside_the_pinned_wheel() -> None:
    exe = Path(ffmpeg_binary())
    package = Path(imageio_ffmpeg.__file__).resolve().parent
    assert exe.resolve().is_relative_to(package / "binaries")
    version = media.run_output(["-version"], what="version").stdout.decode()
    assert re.match(rf"ffmpeg version n{re.escape(WHEEL_FFMPEG)}\b", version), version.splitlines()[0]
    assert "--enable-libass" in version and "--enable-libx264" in version


def test_path_and_environment_cannot_redirect_ffmpeg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      fresh_lookup: None) -> None:
    """A stray IMAGEIO_FFMPEG_EXE (honoured by imageio-ffmpeg's own lookup), the retired FFMPEG_BINARY
    override and an ffmpeg first on PATH are all ignored."""
    decoy = _executable(tmp_path / "ffmpeg", "echo decoy; exit 0")
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    monkeypatch.setenv("IMAGEIO_FFMPEG_EXE", str(decoy))
    monkeypatch.setenv("FFMPEG_BINARY", str(decoy))
    assert imageio_ffmpeg.get_ffmpeg_exe() == str(decoy), "imageio-ffmpeg's public lookup would be redirected"
    exe = ffmpeg_binary()
    assert exe != str(decoy) and Path(exe).is_relative_to(binaries.packaged_folder())
    assert media.command_line(["-version"])[0] == exe


def test_a_missing_wheel_binary_is_a_clear_config_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         fresh_lookup: None) -> None:
    monkeypatch.setattr(binaries, "packaged_folder", lambda: tmp_path)  # an install without the binary
    with pytest.raises(MissingToolError, match="missing from the imageio-ffmpeg wheel") as caught:
        ffmpeg_binary()
    assert isinstance(caught.value, ConfigError) and caught.value.tool == "ffmpeg"
    assert caught.value.code == "missing_tool"
    with pytest.raises(MissingToolError):
        media.require_tools()


def test_run_uses_the_resolved_binary_and_reports_stderr(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "argv.txt"
    fake = _executable(tmp_path / "fake-ffmpeg", f'echo "$@" > {log}; echo "first line" >&2; '
                                                 'echo "Invalid argument" >&2; exit 3')
    monkeypatch.setattr(binaries, "resolve", lambda: str(fake))
    with pytest.raises(PermanentError, match=r"(?s)ffmpeg probe_test failed \(exit 3\):.*Invalid argument") as caught:
        media.run(["-i", "in.mp4", "out.mp4"], what="probe_test", loglevel="error")
    assert caught.value.code == "ffmpeg_failed"
    assert log.read_text().split() == ["-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-i", "in.mp4",
                                       "out.mp4"]


def test_run_timeout_is_transient(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(binaries, "resolve", lambda: str(_executable(tmp_path / "slow-ffmpeg", "exec sleep 5")))
    with pytest.raises(TransientError, match="timed out") as caught:
        media.run(["-version"], what="slow", timeout=0.3)
    assert caught.value.code == "ffmpeg_timeout"


# binaries.py resolves ffmpeg; environment.py names the tools only to take them off the bare runtime's PATH.
MAY_NAME_THE_TOOLS = {"shared/media/binaries.py", "infra/local/environment.py"}


def _quoted_tool_names(root: Path, pattern: str) -> list[str]:
    tools = ("ffmpeg", "ffprobe", "fc-match", "fc-query", "fc-list")
    return [str(p.relative_to(REPO)) for p in sorted(root.glob(pattern))
            if str(p.relative_to(REPO)) not in MAY_NAME_THE_TOOLS and "__pycache__" not in p.parts
            and any(f"{q}{tool}{q}" in p.read_text(encoding="utf-8") for tool in tools for q in "\"'")]


def test_no_other_code_names_a_system_media_or_font_tool() -> None:
    """Nothing but binaries.py names ffmpeg/ffprobe as an executable (nor the fontconfig tools) in the
    deployed library, the agents, the tools and the local cloud: they all go through the adapter."""
    offenders = [name for root, pattern in ((REPO / "shared", "**/*.py"), (REPO / "tools", "**/*.py"),
                                            (REPO / "infra", "**/*.py"), (REPO, "agent-*/*.py"))
                 for name in _quoted_tool_names(root, pattern)]
    assert offenders == [], "run ffmpeg through shared.media.ffmpeg, probe with shared.media.ffmpeg.probe"
