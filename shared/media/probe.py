"""THE probe of a media file: PyAV reads the container in-process (there is no ffprobe in the deployed image).

`MediaInfo.raw` holds the fields in ffprobe's JSON shape (`streams`, `format`) for callers that need more
of them; a test compares them with ffprobe's own output on the same files.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from shared.core.errors import ErrorCode, PermanentError


@dataclass(frozen=True)
class MediaInfo:
    """What a probe says about a media file (video fields are None/0 for audio-only files).

    `raw` has ffprobe's JSON shape (`streams` and `format`, see `probe`) for fields MediaInfo does not name.
    """

    duration: float
    width: int
    height: int
    fps: float
    video_codec: str | None
    profile: str | None
    pix_fmt: str | None
    audio_codec: str | None
    sample_rate: int
    audio_channels: int
    faststart: bool
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def has_audio(self) -> bool:
        return self.audio_codec is not None

    @property
    def has_video(self) -> bool:
        return self.video_codec is not None

    @property
    def streams(self) -> list[dict[str, Any]]:
        """Every stream of the file, in file order."""
        return list(self.raw.get("streams") or [])

    @property
    def container(self) -> dict[str, Any]:
        """ffprobe's `format` section (format_name, duration, bit_rate, size...)."""
        return dict(self.raw.get("format") or {})

    @property
    def video_stream(self) -> dict[str, Any]:
        """The first video stream's fields ({} when there is none)."""
        return next((s for s in self.streams if s.get("codec_type") == "video"), {})

    @property
    def audio_stream(self) -> dict[str, Any]:
        """The first audio stream's fields ({} when there is none)."""
        return next((s for s in self.streams if s.get("codec_type") == "audio"), {})

    @property
    def nominal_duration(self) -> float:
        """Seconds of the first video stream: frame count / frame rate, else the stream's duration."""
        stream = self.video_stream
        if not stream:
            raise PermanentError("no video stream", code=ErrorCode.BAD_MEDIA)
        num, _, den = str(stream.get("r_frame_rate", "0/1")).partition("/")
        rate = float(num) / float(den or 1) if float(den or 1) else 0.0
        # The container duration of a joined clip is off by the AAC priming delay; frames are exact.
        if str(stream.get("nb_frames", "")).isdigit() and rate > 0:
            return round(int(stream["nb_frames"]) / rate, 3)
        return round(float(stream["duration"]), 3)


def probe(path: Path) -> MediaInfo:
    """Probe a file into MediaInfo (first video and first audio stream; `raw` keeps every stream).

    PyAV opens the file as ffprobe does (avformat_open_input + avformat_find_stream_info) and `raw`
    repeats ffprobe's JSON for the fields below, with its types and its rule that an unknown value is
    left out (ffprobe's optional "N/A"):
      format:  format_name, duration, bit_rate, size
      streams: index, codec_type, codec_name, profile, time_base, r_frame_rate, avg_frame_rate ("num/den",
               "0/0" when unknown), duration, bit_rate, nb_frames; video: width, height, pix_fmt;
               audio: sample_rate, channels
    """
    if not Path(path).is_file():
        raise PermanentError(f"no such media file: {path}", code=ErrorCode.MISSING_MEDIA)
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            data: dict[str, Any] = {"streams": [_stream_fields(s) for s in container.streams],
                                    "format": _format_fields(container)}
    except av.FFmpegError as exc:
        raise PermanentError(f"cannot read media file {path}: {exc}", code=ErrorCode.BAD_MEDIA) from exc
    streams = data["streams"]
    video: dict[str, Any] = next((s for s in streams if s.get("codec_type") == "video"), {})
    audio: dict[str, Any] = next((s for s in streams if s.get("codec_type") == "audio"), {})
    return MediaInfo(
        duration=float(data["format"].get("duration") or video.get("duration") or 0.0),
        width=int(video.get("width") or 0),
        height=int(video.get("height") or 0),
        fps=rate(video.get("avg_frame_rate") or video.get("r_frame_rate")),
        video_codec=video.get("codec_name"),
        profile=video.get("profile"),
        pix_fmt=video.get("pix_fmt"),
        audio_codec=audio.get("codec_name"),
        sample_rate=int(audio.get("sample_rate") or 0),
        audio_channels=int(audio.get("channels") or 0),
        faststart=has_faststart(Path(path)),
        raw=data,
    )


def _seconds(ticks: int | None, unit: Fraction | None) -> str | None:
    """ffprobe's time text: ticks x time base printed with %f (None when unknown, as ffprobe's N/A)."""
    if ticks is None or unit is None:
        return None
    return f"{ticks * (unit.numerator / unit.denominator):f}"


def _ratio(value: Fraction | None) -> str:
    """ffprobe's rational text "num/den"; "0/0" when unknown (PyAV gives None for a zero part)."""
    return f"{value.numerator}/{value.denominator}" if value else "0/0"


def _positive(value: int | None) -> str | None:
    """An ffprobe count or bitrate as text; None (left out) unless positive."""
    return str(value) if value and value > 0 else None


def _format_fields(container: Any) -> dict[str, Any]:
    """ffprobe's `format` section: what the container says."""
    size = container.size
    fields = {"format_name": container.format.name,
              # AV_TIME_BASE units (microseconds), None when unknown
              "duration": _seconds(container.duration, Fraction(1, av.time_base)),
              "bit_rate": _positive(container.bit_rate), "size": str(size) if size >= 0 else None}
    return {k: v for k, v in fields.items() if v is not None}


def _stream_fields(stream: Any) -> dict[str, Any]:
    """ffprobe's fields of one stream (its codec parameters, frame rates, duration and counts)."""
    context = stream.codec_context
    kind = stream.type
    fields: dict[str, Any] = {
        "index": stream.index,
        "codec_type": kind,
        "codec_name": context.codec.canonical_name if context is not None else None,
        "profile": context.profile if context is not None else None,
    }
    if kind == "video" and context is not None:
        fields.update(width=context.width, height=context.height, pix_fmt=context.pix_fmt)
    elif kind == "audio" and context is not None:
        fields.update(sample_rate=str(context.sample_rate), channels=context.channels)
    is_video = kind == "video"
    fields.update(
        r_frame_rate=_ratio(stream.base_rate if is_video else None),
        avg_frame_rate=_ratio(stream.average_rate if is_video else None),
        time_base=_ratio(stream.time_base),
        duration=_seconds(stream.duration, stream.time_base),
        bit_rate=_positive(context.bit_rate if context is not None else None),
        nb_frames=_positive(stream.frames),
    )
    return {k: v for k, v in fields.items() if v is not None}


def rate(text: str | None) -> float:
    """An ffprobe rational ("24/1", "0/0") as a number (0 when unknown)."""
    if not text or text == "0/0":
        return 0.0
    num, _, den = text.partition("/")
    return float(num) / float(den or 1)


def duration(path: str | Path) -> float:
    """Nominal duration in seconds of the first video stream: frame count / frame rate."""
    info = probe(Path(path))
    if not info.video_stream:
        raise PermanentError(f"no video stream in {path}", code=ErrorCode.BAD_MEDIA)
    return info.nominal_duration


def has_faststart(path: Path) -> bool:
    """True when an MP4's `moov` atom comes before its `mdat` (playable while downloading)."""
    order: list[bytes] = []
    with open(path, "rb") as fh:
        while len(order) < 32:
            header = fh.read(8)
            if len(header) < 8:
                break
            size, kind = struct.unpack(">I4s", header)
            if size == 1:
                size = struct.unpack(">Q", fh.read(8))[0] - 8
            if kind in (b"moov", b"mdat"):
                order.append(kind)
            if size == 0:
                break
            fh.seek(size - 8, 1)
    return bool(order) and order[0] == b"moov"
