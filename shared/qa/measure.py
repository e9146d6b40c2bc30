"""QA measurements of a delivered file: one probe (PyAV) and ONE decode running every detection filter.

    probe ────────────────> container, codecs, profile, frame rates, stream durations, bitrate, size
    ffmpeg -i final.mp4
      [0:v] scale down → blackdetect → freezedetect → null
      [0:a] ebur128 (true peak) → silencedetect → f32le to a pipe → clipped-sample ratio (numpy)

Nothing here decides pass or fail: shared.qa.checks compares these numbers with a preset.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from shared.core.errors import ErrorCode, PermanentError
from shared.media.ffmpeg import parse_ebur128, run_output
from shared.media.probe import MediaInfo, probe, rate

# A decoded sample at or above this magnitude counts as clipped (AAC overshoots a clipped flat top).
CLIP_LEVEL = 0.98
SILENCE_NOISE_DB = -50
SILENCE_MIN_SECONDS = 0.5
BLACK_MIN_SECONDS = 0.1
FREEZE_NOISE = 0.003
FREEZE_MIN_SECONDS = 0.5
_PCM_RATE = 48000
_DETECT_SIZE = "180:320"  # detection works on a small picture: same verdicts, far less work


@dataclass(frozen=True)
class Measurements:
    """Everything QA measured on one file."""

    format_name: str
    video_codec: str | None
    video_profile: str | None
    audio_codec: str | None
    width: int
    height: int
    avg_fps: float
    real_fps: float
    duration: float
    video_duration: float
    audio_duration: float
    video_bitrate_kbps: float
    size_mb: float
    faststart: bool
    integrated_lufs: float | None = None
    true_peak_dbtp: float | None = None
    clipped_ratio: float | None = None
    longest_silence: float | None = None
    black_seconds: float = 0.0
    longest_freeze: float = 0.0

    @property
    def has_audio(self) -> bool:
        return self.audio_codec is not None


def _stream_bitrate(stream: dict[str, Any], fmt: dict[str, Any], other: dict[str, Any]) -> float:
    """Video bitrate in kb/s: the stream's own, or the container's minus the audio's."""
    if stream.get("bit_rate"):
        return float(stream["bit_rate"]) / 1000
    total = float(fmt.get("bit_rate") or 0)
    return max(0.0, total - float(other.get("bit_rate") or 0)) / 1000


def probe_fields(path: Path, info: MediaInfo) -> dict[str, Any]:
    """The container-level measurements (no decoding), from the adapter's probe of the file."""
    fmt, video, audio = info.container, info.video_stream, info.audio_stream
    return dict(
        format_name=str(fmt.get("format_name") or ""), video_codec=info.video_codec,
        video_profile=info.profile, audio_codec=info.audio_codec, width=info.width, height=info.height,
        avg_fps=rate(video.get("avg_frame_rate")), real_fps=rate(video.get("r_frame_rate")),
        duration=info.duration, video_duration=float(video.get("duration") or info.duration),
        audio_duration=float(audio.get("duration") or 0.0),
        video_bitrate_kbps=round(_stream_bitrate(video, fmt, audio), 1),
        size_mb=round(Path(path).stat().st_size / 1e6, 3), faststart=info.faststart,
    )


def _decode_args(path: Path, has_video: bool, has_audio: bool) -> list[str]:
    graphs, maps = [], []
    if has_video:
        graphs.append(f"[0:v]scale={_DETECT_SIZE},blackdetect=d={BLACK_MIN_SECONDS}:pix_th=0.10,"
                      f"freezedetect=n={FREEZE_NOISE}:d={FREEZE_MIN_SECONDS}[v]")
        maps += ["-map", "[v]", "-f", "null", "-"]
    if has_audio:
        graphs.append(f"[0:a]ebur128=peak=true,silencedetect=n={SILENCE_NOISE_DB}dB:d={SILENCE_MIN_SECONDS},"
                      f"aformat=sample_fmts=flt:sample_rates={_PCM_RATE}[a]")
        maps += ["-map", "[a]", "-f", "f32le", "pipe:1"]
    return ["-i", str(path), "-filter_complex", ";".join(graphs), *maps]


def _intervals(stderr: str, key: str, duration: float) -> list[tuple[float, float]]:
    """(start, end) pairs a detect filter logged as `<key>_start` / `<key>_end` (open ones end at EOF)."""
    starts = [float(x) for x in re.findall(rf"{key}_start:\s*(-?[\d.]+)", stderr)]
    ends = [float(x) for x in re.findall(rf"{key}_end:\s*(-?[\d.]+)", stderr)]
    ends += [duration] * (len(starts) - len(ends))
    return [(max(0.0, s), e) for s, e in zip(starts, ends)]


def _black_intervals(stderr: str) -> list[tuple[float, float]]:
    return [(float(s), float(e)) for s, e in re.findall(r"black_start:\s*([\d.]+)\s+black_end:\s*([\d.]+)", stderr)]


def clipped_ratio(pcm: bytes) -> float:
    """Share of decoded samples at or above full scale."""
    samples = np.frombuffer(pcm, dtype=np.float32)
    if samples.size == 0:
        return 0.0
    return float(np.count_nonzero(np.abs(samples) >= CLIP_LEVEL)) / samples.size


def decode_measurements(path: Path, duration: float, *, has_video: bool, has_audio: bool) -> dict[str, Any]:
    """Black, freeze, loudness, true peak, silences and clipping from a single decode of the file."""
    if not (has_video or has_audio):
        return {}
    decoded = run_output(_decode_args(path, has_video, has_audio), what="qa_decode", timeout=1800)
    stderr = decoded.stderr
    found: dict[str, Any] = {}
    if has_video:
        found["black_seconds"] = round(sum(e - s for s, e in _black_intervals(stderr)), 3)
        freezes = _intervals(stderr, "lavfi.freezedetect.freeze", duration)
        found["longest_freeze"] = round(max((e - s for s, e in freezes), default=0.0), 3)
    if has_audio:
        loudness = parse_ebur128(stderr)
        silences = _intervals(stderr, "silence", duration)
        found.update(integrated_lufs=loudness.integrated_lufs, true_peak_dbtp=loudness.true_peak_dbtp,
                     clipped_ratio=clipped_ratio(decoded.stdout),
                     longest_silence=round(max((e - s for s, e in silences), default=0.0), 3))
    return found


def measure(path: Path) -> Measurements:
    """One probe + one decode of a delivered file."""
    if not Path(path).is_file():
        raise PermanentError(f"no such media file: {path}", code=ErrorCode.MISSING_MEDIA)
    fields = probe_fields(path, probe(path))
    decoded = decode_measurements(path, fields["duration"], has_video=fields["video_codec"] is not None,
                                  has_audio=fields["audio_codec"] is not None)
    return Measurements(**fields, **decoded)
