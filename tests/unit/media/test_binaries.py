"""shared.media.binaries: the one place ffmpeg and ffprobe are found (PATH, or an environment override)."""
from __future__ import annotations

import stat
from pathlib import Path

import pytest

from shared.core.errors import ConfigError, PermanentError, TransientError
from shared.media import ffmpeg as media
from shared.media.binaries import MissingToolError, ffmpeg_binary, ffprobe_binary


def _executable(path: Path, body: str) -> Path:
    path.write_text(f"#!/bin/sh\n{body}\n", encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


@pytest.fixture
def no_tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A PATH holding nothing, and no override."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.delenv("FFMPEG_BINARY", raising=False)
    monkeypatch.delenv("FFPROBE_BINARY", raising=False)
    return empty


def test_override_by_path_is_honoured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = _executable(tmp_path / "my-ffmpeg", "exit 0")
    monkeypatch.setenv("FFMPEG_BINARY", str(fake))
    assert ffmpeg_binary() == str(fake)


def test_override_by_name_is_looked_up_on_path(no_tools: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = _executable(no_tools / "ffprobe-7", "exit 0")
    monkeypatch.setenv("FFPROBE_BINARY", "ffprobe-7")
    assert ffprobe_binary() == str(fake)


def test_tools_are_found_on_path(no_tools: Path) -> None:
    ffmpeg = _executable(no_tools / "ffmpeg", "exit 0")
    ffprobe = _executable(no_tools / "ffprobe", "exit 0")
    assert (ffmpeg_binary(), ffprobe_binary()) == (str(ffmpeg), str(ffprobe))


def test_missing_tool_is_a_clear_config_error(no_tools: Path) -> None:
    _executable(no_tools / "ffmpeg", "exit 0")
    with pytest.raises(MissingToolError, match="ffprobe is not installed") as caught:
        ffprobe_binary()
    assert isinstance(caught.value, ConfigError) and caught.value.tool == "ffprobe"
    assert caught.value.code == "missing_tool"
    with pytest.raises(MissingToolError, match="ffprobe"):
        media.require_tools()


def test_bad_override_names_the_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FFMPEG_BINARY", str(tmp_path / "nowhere" / "ffmpeg"))
    with pytest.raises(MissingToolError, match="FFMPEG_BINARY=") as caught:
        ffmpeg_binary()
    assert caught.value.tool == "ffmpeg"


def test_run_uses_the_resolved_binary_and_reports_stderr(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "argv.txt"
    fake = _executable(tmp_path / "fake-ffmpeg", f'echo "$@" > {log}; echo "first line" >&2; '
                                                 'echo "Invalid argument" >&2; exit 3')
    monkeypatch.setenv("FFMPEG_BINARY", str(fake))
    with pytest.raises(PermanentError, match=r"(?s)ffmpeg probe_test failed \(exit 3\):.*Invalid argument") as caught:
        media.run(["-i", "in.mp4", "out.mp4"], what="probe_test", loglevel="error")
    assert caught.value.code == "ffmpeg_failed"
    assert log.read_text().split() == ["-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-i", "in.mp4",
                                       "out.mp4"]


def test_run_timeout_is_transient(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FFMPEG_BINARY", str(_executable(tmp_path / "slow-ffmpeg", "exec sleep 5")))
    with pytest.raises(TransientError, match="timed out") as caught:
        media.run(["-version"], what="slow", timeout=0.3)
    assert caught.value.code == "ffmpeg_timeout"


def test_no_other_module_in_shared_names_the_executables() -> None:
    shared = Path(media.__file__).resolve().parents[1]
    offenders = [str(p.relative_to(shared)) for p in shared.rglob("*.py")
                 if p.name != "binaries.py" and any(f"{q}{tool}{q}" in p.read_text(encoding="utf-8")
                                                   for tool in ("ffmpeg", "ffprobe") for q in "\"'")]
    assert offenders == [], "resolve ffmpeg/ffprobe through shared.media.binaries"
