"""QA measurements of a delivered file: one probe (PyAV) and ONE decode running every detection filter.

    probe ────────────────> container, codecs, profile, frame rates, stream durations, bitrate, size
    ffmpeg -i final.mp4
      [0:v] scale down → blackdetect → freezedetect → null
      [0:a] ebur128 (true peak) → silencedetect → f32le to a pipe → clipped-sample ratio (numpy)

A file the assembler joined from per-block segments (`measure_streamed`) is not decoded again: its
picture checks come from the blocks' segments, measured when each was encoded, and only the sound, the
packets' timestamps and a short window around every join are read (shared.qa.joins).

Nothing here decides pass or fail: shared.qa.checks compares these numbers with a preset.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from shared.assembly.pictures import PictureResult, merged_freezes
from shared.core.errors import ErrorCode, PermanentError
from shared.media.ffmpeg import parse_ebur128, run_output
from shared.media.probe import MediaInfo, probe, rate
from shared.qa.joins import JOIN_WINDOW_SECONDS, check_joins, video_timeline

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
    picture_from: str = "decode"  # or "segments": measured per block when the streaming finish encoded them
    joins: tuple[dict[str, Any], ...] = ()

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


# --- a file joined from per-block segments -----------------------------------------------------------------

_STEP_TOLERANCE = 0.002  # seconds a packet's step may differ from 1/fps (timestamps are rounded to the timescale)


def picture_fields(fields: dict[str, Any], blocks: list[PictureResult], path: Path,
                   joins: list[float]) -> dict[str, Any]:
    """Picture measurements of a joined file from its blocks' results, its timestamps and its joins.

    A block of another size or rate, a timestamp step that is not 1/fps, a frame count other than the
    blocks' total, or a join window that fails to decode shows up in the check it breaks: resolution,
    constant frame rate, or black (a window that does not decode shows nothing)."""
    fps = fields["real_fps"] or 24.0
    odd = [b for b in blocks if (b.width, b.height) != (fields["width"], fields["height"])]
    if odd:
        fields.update(width=odd[0].width, height=odd[0].height)
    timeline = video_timeline(path, fps)
    expected = sum(b.frames for b in blocks)
    off_rate = [b.fps for b in blocks if abs(b.fps - fps) >= 0.01]
    if off_rate or timeline.frames != expected:
        fields["avg_fps"] = off_rate[0] if off_rate else fps * timeline.frames / max(1, expected)
    if timeline.worst_step_error > _STEP_TOLERANCE:
        fields["real_fps"] = 1 / (1 / fps + timeline.worst_step_error)
    results = check_joins(path, joins, fps)
    undecoded = sum(2 * JOIN_WINDOW_SECONDS for r in results if not r.ok)
    black = sum(e - s for b in blocks for s, e in b.black) + undecoded
    freezes = merged_freezes(blocks)
    return dict(black_seconds=round(black, 3), longest_freeze=round(max((e - s for s, e in freezes), default=0.0), 3),
                picture_from="segments",
                joins=tuple({"at": r.at, "decoded": r.decoded, "frames": r.frames, "expected": r.expected}
                            for r in results))


def measure_streamed(path: Path, picture: dict[str, Any]) -> Measurements:
    """One probe, one audio-only decode, the packets' timestamps and the joins: no full picture decode.
    `picture` is what the streaming finish recorded: every block's results and the join times."""
    if not Path(path).is_file():
        raise PermanentError(f"no such media file: {path}", code=ErrorCode.MISSING_MEDIA)
    fields = probe_fields(path, probe(path))
    blocks = [PictureResult.from_doc(b) for b in picture.get("blocks") or []]
    sound = decode_measurements(path, fields["duration"], has_video=False, has_audio=fields["audio_codec"] is not None)
    seen = picture_fields(fields, blocks, path, [float(t) for t in picture.get("joins") or []])
    return Measurements(**fields, **sound, **seen)
