"""Quality checks of a delivered file against a spec: each check has a measured value, a threshold and a verdict."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from shared.media import MediaInfo, measure_loudness, probe


@dataclass(frozen=True)
class QaSpec:
    """What a delivered short must be."""

    width: int = 1080
    height: int = 1920
    fps: float = 24.0
    min_seconds: float = 60.0
    max_seconds: float = 90.0
    video_codec: str = "h264"
    audio_codec: str = "aac"
    loudness_lufs: float = -14.0
    loudness_tolerance: float = 2.0
    true_peak_max: float = -1.0


@dataclass(frozen=True)
class Check:
    name: str
    measured: Any
    threshold: Any
    passed: bool
    blocking: bool = True


def _checks(info: MediaInfo, spec: QaSpec) -> list[Check]:
    return [
        Check("resolution", f"{info.width}x{info.height}", f"{spec.width}x{spec.height}",
              (info.width, info.height) == (spec.width, spec.height)),
        Check("frame_rate", round(info.fps, 3), spec.fps, abs(info.fps - spec.fps) < 0.01),
        Check("duration_seconds", round(info.duration, 3), [spec.min_seconds, spec.max_seconds],
              spec.min_seconds <= info.duration <= spec.max_seconds),
        Check("video_codec", info.video_codec, spec.video_codec, info.video_codec == spec.video_codec),
        Check("audio_present", info.has_audio, True, info.has_audio),
        Check("audio_codec", info.audio_codec, spec.audio_codec, info.audio_codec == spec.audio_codec),
        Check("faststart", info.faststart, True, info.faststart),
    ]


def _loudness_checks(path: Path, spec: QaSpec) -> list[Check]:
    loudness = measure_loudness(path)
    low, high = spec.loudness_lufs - spec.loudness_tolerance, spec.loudness_lufs + spec.loudness_tolerance
    return [
        Check("integrated_loudness_lufs", loudness.integrated_lufs, [low, high],
              low <= loudness.integrated_lufs <= high, blocking=False),
        Check("true_peak_dbtp", loudness.true_peak_dbtp, spec.true_peak_max,
              loudness.true_peak_dbtp <= spec.true_peak_max, blocking=False),
    ]


def check_file(path: Path, spec: QaSpec) -> dict[str, Any]:
    """Run every check on a local file; the JSON report."""
    info = probe(path)
    checks = _checks(info, spec) + (_loudness_checks(path, spec) if info.has_audio else [])
    failures = [c.name for c in checks if c.blocking and not c.passed]
    return {
        "passed": not failures,
        "blocking_failures": failures,
        "warnings": [c.name for c in checks if not c.blocking and not c.passed],
        "checks": [asdict(c) for c in checks],
        "spec": asdict(spec),
    }
