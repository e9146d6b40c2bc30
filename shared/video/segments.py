"""Veo segments as files: the last frame that starts the next segment, and the lossless join of segments.

Segments made by the same model share their encoding, so they are joined with the concat demuxer
copying every packet; if their codec parameters differ the join re-encodes once instead.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

from shared.core import log
from shared.core.errors import GenerationError
from shared.media.ffmpeg import concat_copy, run
from shared.media.probe import duration, probe

_MATCHING_FIELDS = ("codec_name", "profile", "width", "height", "pix_fmt", "r_frame_rate", "sample_rate",
                    "channels", "time_base")
FFMPEG_TIMEOUT_S = 300


def _ffmpeg(args: list[str], *, what: str) -> None:
    run(args, what=what, timeout=FFMPEG_TIMEOUT_S, loglevel="error", failure=GenerationError)


def last_frame(video: Path, out_png: Path) -> Path:
    """The final frame of `video` as a PNG (the opening image of the next segment)."""
    _ffmpeg(["-sseof", "-0.5", "-i", str(video), "-update", "1", "-frames:v", "100", str(out_png)],
            what="last_frame")
    if not out_png.is_file() or out_png.stat().st_size == 0:
        raise GenerationError(f"no last frame could be read from {video}")
    return out_png


def stream_signature(video: Path) -> list[dict[str, object]]:
    """The codec parameters that must match for a packet-copy join, per stream."""
    return [{k: s.get(k) for k in _MATCHING_FIELDS} for s in probe(video).streams]


def join_segments(parts: list[Path], out: Path) -> str:
    """Join segment files in order into `out`; returns "copy" (lossless) or "reencode"."""
    if len(parts) == 1:
        out.write_bytes(parts[0].read_bytes())
        return "copy"
    signatures = [stream_signature(p) for p in parts]
    with tempfile.TemporaryDirectory(prefix="join-") as tmp:
        if all(sig == signatures[0] for sig in signatures):
            concat_copy([(p.resolve(), duration(p)) for p in parts], out, Path(tmp), failure=GenerationError)
            log.info("segments joined", parts=len(parts), method="copy")
            return "copy"
    _reencode_join(parts, out)
    log.warning("segments joined by re-encoding: codec parameters differ", parts=len(parts))
    return "reencode"


def _reencode_join(parts: list[Path], out: Path) -> None:
    inputs = [arg for p in parts for arg in ("-i", str(p))]
    streams = "".join(f"[{i}:v:0][{i}:a:0]" for i in range(len(parts)))
    graph = f"{streams}concat=n={len(parts)}:v=1:a=1[v][a]"
    _ffmpeg([*inputs, "-filter_complex", graph, "-map", "[v]", "-map", "[a]", "-c:v", "libx264", "-preset",
             "veryfast", "-crf", "18", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "192k", "-movflags", "+faststart",
             str(out)], what="reencode_join")
