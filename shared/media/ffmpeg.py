"""ffmpeg/ffprobe helpers: probe a file, run ffmpeg with clear errors, measure loudness, escape paths.

Every helper works on local files; nothing here knows about GCS or Firestore.
"""
from __future__ import annotations

import json
import re
import shutil
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from shared.core import log
from shared.core.errors import PermanentError, TransientError

_STDERR_TAIL_CHARS = 1500


@dataclass(frozen=True)
class MediaInfo:
    """What ffprobe says about a media file (video fields are None/0 for audio-only files)."""

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

    @property
    def has_audio(self) -> bool:
        return self.audio_codec is not None

    @property
    def has_video(self) -> bool:
        return self.video_codec is not None


@dataclass(frozen=True)
class Loudness:
    """EBU R128 measurement: integrated loudness (LUFS), true peak (dBTP), loudness range (LU)."""

    integrated_lufs: float
    true_peak_dbtp: float
    lra: float


def require_tools() -> None:
    """Fail with a clear error when ffmpeg or ffprobe is not installed."""
    for tool in ("ffmpeg", "ffprobe"):
        if shutil.which(tool) is None:
            raise PermanentError(f"{tool} is not installed (apt-get install ffmpeg)", code="missing_tool")


def run_ffmpeg(args: Sequence[str], *, what: str, cwd: Path | None = None, timeout: float = 1800) -> str:
    """Run `ffmpeg -hide_banner -nostdin <args>`; return stderr; raise PermanentError naming `what`."""
    cmd = ["ffmpeg", "-hide_banner", "-nostdin", "-y", *args]
    log.debug("ffmpeg", what=what, cmd=" ".join(cmd))
    try:
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, errors="replace",
                              timeout=timeout)
    except FileNotFoundError as exc:
        raise PermanentError("ffmpeg is not installed", code="missing_tool") from exc
    except subprocess.TimeoutExpired as exc:
        raise TransientError(f"ffmpeg {what} timed out after {timeout:.0f} s", code="ffmpeg_timeout") from exc
    if proc.returncode != 0:
        tail = proc.stderr[-_STDERR_TAIL_CHARS:].strip()
        raise PermanentError(f"ffmpeg {what} failed (exit {proc.returncode}): {tail}", code="ffmpeg_failed")
    return proc.stderr


def probe(path: Path) -> MediaInfo:
    """ffprobe a file into MediaInfo (first video and first audio stream)."""
    if not Path(path).is_file():
        raise PermanentError(f"no such media file: {path}", code="missing_media")
    cmd = ["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams", str(path)]
    proc = subprocess.run(cmd, capture_output=True, text=True, errors="replace", timeout=120)
    if proc.returncode != 0:
        raise PermanentError(f"ffprobe cannot read {path}: {proc.stderr.strip()[-500:]}", code="bad_media")
    data = json.loads(proc.stdout or "{}")
    streams = data.get("streams", [])
    video = next((s for s in streams if s.get("codec_type") == "video"), {})
    audio = next((s for s in streams if s.get("codec_type") == "audio"), {})
    return MediaInfo(
        duration=float(data.get("format", {}).get("duration") or video.get("duration") or 0.0),
        width=int(video.get("width") or 0),
        height=int(video.get("height") or 0),
        fps=_rate(video.get("avg_frame_rate") or video.get("r_frame_rate")),
        video_codec=video.get("codec_name"),
        profile=video.get("profile"),
        pix_fmt=video.get("pix_fmt"),
        audio_codec=audio.get("codec_name"),
        sample_rate=int(audio.get("sample_rate") or 0),
        audio_channels=int(audio.get("channels") or 0),
        faststart=has_faststart(Path(path)),
    )


def _rate(text: str | None) -> float:
    if not text or text == "0/0":
        return 0.0
    num, _, den = text.partition("/")
    return float(num) / float(den or 1)


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


def extract_audio(src: Path, dst: Path, *, sample_rate: int = 16000) -> Path:
    """Decode the first audio stream to mono 16-bit WAV (silence of the same length if there is none)."""
    info = probe(src)
    if info.has_audio:
        args = ["-i", str(src), "-map", "0:a:0", "-vn"]
    else:
        args = ["-f", "lavfi", "-i", f"anullsrc=r={sample_rate}:cl=mono", "-t", f"{info.duration:.3f}"]
    run_ffmpeg([*args, "-ac", "1", "-ar", str(sample_rate), "-c:a", "pcm_s16le", str(dst)],
               what="extract_audio")
    return dst


_EBUR128_SUMMARY = re.compile(
    r"Integrated loudness:\s*I:\s*(?P<i>-?[\d.]+|-inf)\s*LUFS.*?LRA:\s*(?P<lra>-?[\d.]+)\s*LU"
    r".*?(?:True|Sample) peak:\s*Peak:\s*(?P<tp>-?[\d.]+|-inf)\s*dBFS", re.S)


def parse_ebur128(stderr: str) -> Loudness:
    """Parse the summary the ebur128 filter prints at the end of a run."""
    start = stderr.rfind("Summary:")
    match = _EBUR128_SUMMARY.search(stderr, start if start >= 0 else 0)
    if not match:
        raise PermanentError("ebur128 printed no summary", code="loudness_unmeasured")
    return Loudness(integrated_lufs=_db(match["i"]), true_peak_dbtp=_db(match["tp"]), lra=float(match["lra"]))


def _db(text: str) -> float:
    return float("-inf") if text == "-inf" else float(text)


def ebur128_filter(*, true_peak: bool = True) -> str:
    """The ebur128 measurement filter, no per-frame logging; sample peak is cheaper than true peak."""
    return f"ebur128=peak={'true' if true_peak else 'sample'}:framelog=verbose"


def measure_loudness(path: Path) -> Loudness:
    """Measure a file's audio loudness and true peak with one audio-only decode."""
    stderr = run_ffmpeg(["-i", str(path), "-vn", "-map", "0:a:0", "-af", ebur128_filter(), "-f", "null", "-"],
                        what="measure_loudness")
    return parse_ebur128(stderr)


def escape_filter_value(value: str) -> str:
    """Escape a value (e.g. a file path) for use inside an ffmpeg -filter_complex graph.

    Two levels: first the filter's option parser (`\\`, `'`, `:`), then the graph parser
    (`\\`, `'`, `[`, `]`, `,`, `;`). Quoting is avoided because a `'` cannot appear inside quotes.
    """
    level1 = re.sub(r"([\\':])", r"\\\1", value)
    return re.sub(r"([\\'\[\],;])", r"\\\1", level1)


def decode_frames(src: Path, *, start: float, seconds: float, fps: float, width: int, height: int) -> Any:
    """Decode frames of [start, start+seconds) at `fps`, scaled to width x height, as an (N,H,W,3) uint8 array."""
    import numpy as np

    cmd = ["ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-ss", f"{max(0.0, start):.3f}", "-i", str(src),
           "-t", f"{seconds:.3f}", "-vf", f"fps={fps},scale={width}:{height}:flags=lanczos",
           "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
    proc = subprocess.run(cmd, capture_output=True, timeout=300)
    if proc.returncode != 0:
        raise PermanentError(f"cannot decode frames of {src}: {proc.stderr.decode(errors='replace')[-500:]}",
                             code="ffmpeg_failed")
    frame_bytes = width * height * 3
    count = len(proc.stdout) // frame_bytes
    return np.frombuffer(proc.stdout[: count * frame_bytes], dtype=np.uint8).reshape(count, height, width, 3)


def sharpness(frame: Any) -> float:
    """Variance of the Laplacian of the luma: higher is sharper."""
    import numpy as np

    luma = frame.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    lap = (-4 * luma[1:-1, 1:-1] + luma[:-2, 1:-1] + luma[2:, 1:-1] + luma[1:-1, :-2] + luma[1:-1, 2:])
    return float(lap.var())


def is_black(frame: Any, *, threshold: float = 20.0) -> bool:
    """True when a frame is (nearly) black: mean luma below threshold of 255, or almost no contrast."""
    luma = frame.mean(axis=2)
    return float(luma.mean()) < threshold or float(luma.std()) < 2.0


def write_thumbnail(src: Path, dst: Path, *, around: float = 2.0, width: int = 540, height: int = 960) -> Path:
    """Save the sharpest non-black frame near `around` seconds as a JPEG of width x height."""
    from PIL import Image

    duration = probe(src).duration
    start = max(0.0, min(around - 0.75, duration - 1.5))
    frames = decode_frames(src, start=start, seconds=1.5, fps=4, width=width, height=height)
    if len(frames) == 0:
        frames = decode_frames(src, start=0.0, seconds=min(duration, 3.0), fps=4, width=width, height=height)
    if len(frames) == 0:
        raise PermanentError(f"no frame to make a thumbnail from in {src}", code="no_frames")
    candidates = [f for f in frames if not is_black(f)] or list(frames)
    best = max(candidates, key=sharpness)
    Image.fromarray(best).save(dst, "JPEG", quality=88, optimize=True, progressive=True)
    return dst
