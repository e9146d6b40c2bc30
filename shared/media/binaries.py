"""Where the ffmpeg executable comes from: the one place in shared/ that names it.

ffmpeg is the static build inside the pinned `imageio-ffmpeg` wheel (shared/requirements.txt), found
by its file name in the installed package: never PATH, never an environment variable. imageio-ffmpeg's
own `get_ffmpeg_exe()` is NOT used: it honours IMAGEIO_FFMPEG_EXE and falls back to a conda or a
system ffmpeg, so a stray variable or a missing wheel would silently pick another build.
There is no ffprobe: files are probed in-process with PyAV (shared.media.probe).
See docs/decisions/0005-media-binaries.md.

Test seam: `resolve` is the function ffmpeg_binary() asks; tests replace it (monkeypatch) to run a
stand-in executable.
"""
from __future__ import annotations

import importlib.resources
import os
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from imageio_ffmpeg import _definitions as imageio_ffmpeg_build

from shared.core.errors import ConfigError, ErrorCode

FFMPEG = "ffmpeg"
WHEEL = "imageio-ffmpeg"
_BINARIES_PACKAGE = "imageio_ffmpeg.binaries"


class MissingToolError(ConfigError):
    """ffmpeg cannot be found (the pinned wheel is not installed, or holds no binary for this platform)."""

    code = ErrorCode.MISSING_TOOL

    def __init__(self, message: str, *, tool: str) -> None:
        super().__init__(message)
        self.tool = tool


def packaged_folder() -> Path:
    """The folder of the installed imageio-ffmpeg wheel that holds its ffmpeg binaries."""
    return Path(str(importlib.resources.files(_BINARIES_PACKAGE)))


@lru_cache(maxsize=1)
def packaged_ffmpeg() -> str:
    """Path of the ffmpeg binary inside the installed imageio-ffmpeg wheel (MissingToolError if absent)."""
    platform = imageio_ffmpeg_build.get_platform()
    name = imageio_ffmpeg_build.FNAME_PER_PLATFORM.get(platform)
    folder = packaged_folder()
    if name is None:
        raise MissingToolError(f"{WHEEL} {imageio_ffmpeg_build.__version__} has no ffmpeg for {platform}",
                               tool=FFMPEG)
    exe = folder / name
    if not exe.is_file() or not os.access(exe, os.X_OK):
        raise MissingToolError(f"ffmpeg is missing from the {WHEEL} wheel ({exe} is not an executable file): "
                               "pip install -r shared/requirements.txt", tool=FFMPEG)
    return str(exe)


# What ffmpeg_binary() asks; tests replace it to run a stand-in executable.
resolve: Callable[[], str] = packaged_ffmpeg


def ffmpeg_binary() -> str:
    """Path of the ffmpeg executable; MissingToolError (a ConfigError) when there is none."""
    return resolve()
