"""Checks of a file joined from per-block segments, without decoding its whole picture.

    timestamps   every video packet's time, read from the container (no decoding): a constant 1/24 s
                 step from the first frame to the last means no frame lost, doubled or shifted at a join
    join windows a short window around every join decoded with -xerror: the frames at the seams decode
                 and there are as many as the window's length says
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import av

from shared.core.errors import PermanentError
from shared.media.ffmpeg import run_output

JOIN_WINDOW_SECONDS = 0.5  # decoded on each side of a join
_TINY = (18, 32)  # decoded frames are scaled to this: only their count matters


@dataclass(frozen=True)
class Timeline:
    """The video packets' presentation times: how many, their steps, the largest deviation from 1/fps."""

    frames: int
    first: float
    last: float
    worst_step_error: float


def video_timeline(path: Path, fps: float) -> Timeline:
    """Every video packet's presentation time (demuxed, not decoded) against a constant 1/fps step."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        times = sorted(float(p.pts * p.time_base) for p in container.demux(stream) if p.pts is not None)
    if not times:
        return Timeline(0, 0.0, 0.0, float("inf"))
    steps = [b - a for a, b in zip(times, times[1:])]
    worst = max((abs(s - 1 / fps) for s in steps), default=0.0)
    return Timeline(len(times), times[0], times[-1], worst)


@dataclass(frozen=True)
class JoinResult:
    """One join's window: whether it decoded cleanly, and how many frames it gave of how many expected."""

    at: float
    decoded: bool
    frames: int
    expected: int

    @property
    def ok(self) -> bool:
        return self.decoded and abs(self.frames - self.expected) <= 1


def decode_join(path: Path, at: float, fps: float, seconds: float = JOIN_WINDOW_SECONDS) -> JoinResult:
    """Decode [at - seconds, at + seconds) with -xerror (any decoding error fails) and count its frames."""
    start = max(0.0, at - seconds)
    expected = int(round((at + seconds - start) * fps))
    width, height = _TINY
    try:
        out = run_output(["-xerror", "-ss", f"{start:.3f}", "-i", str(path), "-t", f"{at + seconds - start:.3f}",
                          "-map", "0:v:0", "-vf", f"scale={width}:{height}", "-f", "rawvideo", "-pix_fmt", "gray",
                          "-"], what="qa_join", timeout=120, loglevel="error")
    except PermanentError:
        return JoinResult(at, False, 0, expected)
    return JoinResult(at, True, len(out.stdout) // (width * height), expected)


def check_joins(path: Path, joins: Sequence[float], fps: float) -> list[JoinResult]:
    """Every join's window decoded and counted."""
    return [decode_join(path, at, fps) for at in joins]
