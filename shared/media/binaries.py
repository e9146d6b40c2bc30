"""Where the ffmpeg and ffprobe executables come from: the one place in shared/ that names them.

A tool is found on PATH, unless FFMPEG_BINARY / FFPROBE_BINARY names another executable (a path, or a
name looked up on PATH). Pinning the tools to a packaged build later means changing `_installed` only.
"""
from __future__ import annotations

import os
import shutil

from shared.core.errors import ConfigError, ErrorCode

FFMPEG = "ffmpeg"
FFPROBE = "ffprobe"
OVERRIDE_VARIABLES = {FFMPEG: "FFMPEG_BINARY", FFPROBE: "FFPROBE_BINARY"}


class MissingToolError(ConfigError):
    """ffmpeg or ffprobe cannot be found (not installed, or a bad override)."""

    code = ErrorCode.MISSING_TOOL

    def __init__(self, message: str, *, tool: str) -> None:
        super().__init__(message)
        self.tool = tool


def _override(tool: str) -> str | None:
    """The executable the environment asks for, if any."""
    return os.environ.get(OVERRIDE_VARIABLES[tool]) or None


def _installed(tool: str) -> str | None:
    """The tool as installed on this machine."""
    return shutil.which(tool)


def _resolve(tool: str) -> str:
    wanted = _override(tool)
    if wanted is not None:
        found = shutil.which(wanted)
        if found is None:
            raise MissingToolError(f"{tool} not found: {OVERRIDE_VARIABLES[tool]}={wanted!r} is not an executable",
                                   tool=tool)
        return found
    found = _installed(tool)
    if found is None:
        raise MissingToolError(f"{tool} is not installed (apt-get install ffmpeg, or set {OVERRIDE_VARIABLES[tool]})",
                               tool=tool)
    return found


def ffmpeg_binary() -> str:
    """Path of the ffmpeg executable; MissingToolError (a ConfigError) when there is none."""
    return _resolve(FFMPEG)


def ffprobe_binary() -> str:
    """Path of the ffprobe executable; MissingToolError (a ConfigError) when there is none."""
    return _resolve(FFPROBE)
