"""Per-block picture segments: each block's final picture, encoded on its own and joined by packet copy.

    block clip ─> [its window] fps 24 ─ lanczos 1080x1920 ─ burn its cues ─ pad to N frames ─┬─> x264 (closed GOP)
                                                                                            └─> black/freeze detect

Every block is encoded with the same parameters (CRF, rate caps, profile, GOP), so its SPS/PPS match
the others and the segments join with the concat demuxer without re-encoding: the first frame of each
is an IDR frame and no frame refers across a join (closed GOP). A cue that crosses a block boundary
is cut there: each segment burns only the part of the cue inside its own window, which draws the
same pixels the whole cue would.

The segment key names every input of a segment (source block, window, cues, encoder settings): a
stored segment whose key differs from the one the finish expects is produced again.
"""
from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from shared.assembly.caption_style import build_ass, caption_style, check_font_coverage
from shared.assembly.finish import OUT_HEIGHT, OUT_WIDTH, X264_PRESET, video_chain
from shared.assembly.pictures import OUT_FPS, PictureResult, Span
from shared.assembly.subtitles import Cue
from shared.media.ffmpeg import EXACT_MUX_ARGS, concat_copy, run
from shared.media.probe import probe
from shared.pricing.presets import Rendition

# Bump when the segment's encode changes: stored segments with an older key are produced again.
SEGMENT_FORMAT = 1
GOP_FRAMES = OUT_FPS * 2
_MIN_CUE_PART = 1.0 / OUT_FPS  # a cue part shorter than a frame draws nothing
_DETECT_SIZE = "180:320"
BLACK_MIN_SECONDS = 0.1
FREEZE_NOISE = 0.003
FREEZE_MIN_SECONDS = 0.5


@dataclass(frozen=True)
class Encoding:
    """The encoder settings shared by every segment of a job (and of a rendition)."""

    crf: int
    max_bitrate_kbps: int | None
    width: int = OUT_WIDTH
    height: int = OUT_HEIGHT


# --- cues --------------------------------------------------------------------------------------------

def block_cues(cues: Sequence[Cue], start: float, end: float) -> list[Cue]:
    """The parts of `cues` inside [start, end), in the block's own time (0 = start): cut at the boundary."""
    parts = []
    for cue in cues:
        a, b = max(cue.start, start), min(cue.end, end)
        if b - a >= _MIN_CUE_PART:
            parts.append(Cue(round(a - start, 3), round(b - start, 3), cue.lines))
    return parts


def segment_key(*, source: str, window: Span, cues: Sequence[Cue], style: str, encoding: Encoding,
                renditions: Sequence[Rendition] = ()) -> str:
    """A digest of everything a segment depends on."""
    value = {"format": SEGMENT_FORMAT, "source": source, "window": [round(window[0], 3), round(window[1], 3)],
             "cues": [[c.start, c.end, list(c.lines)] for c in cues], "style": style,
             "encoding": asdict(encoding), "preset": X264_PRESET, "renditions": [asdict(r) for r in renditions]}
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:20]


# --- encoding ------------------------------------------------------------------------------------------

def segment_encode_args(encoding: Encoding, preset: str = X264_PRESET) -> list[str]:
    """Picture-only H.264 settings, the same for every segment: closed GOP, IDR first, constant 24 fps."""
    kbps = encoding.max_bitrate_kbps
    cap = ["-maxrate", f"{kbps}k", "-bufsize", f"{2 * kbps}k"] if kbps else []
    return ["-c:v", "libx264", "-preset", preset, "-crf", str(encoding.crf), *cap, "-profile:v", "high",
            "-pix_fmt", "yuv420p", "-r", str(OUT_FPS), "-fps_mode", "cfr", "-g", str(GOP_FRAMES),
            "-flags", "+cgop", "-an", *EXACT_MUX_ARGS]


def _write_ass(cues: Sequence[Cue], style: str, path: Path) -> Path | None:
    if not cues:
        return None
    look = caption_style(style)
    path.write_text(build_ass(check_font_coverage(cues, look.font), look, width=OUT_WIDTH, height=OUT_HEIGHT),
                    encoding="utf-8")
    return path


def _detect_intervals(stderr: str, key: str, seconds: float) -> list[Span]:
    starts = [float(x) for x in re.findall(rf"{key}_start:\s*(-?[\d.]+)", stderr)]
    ends = [float(x) for x in re.findall(rf"{key}_end:\s*(-?[\d.]+)", stderr)]
    ends += [seconds] * (len(starts) - len(ends))
    return [(max(0.0, s), min(seconds, e)) for s, e in zip(starts, ends)]


def render_segment(source: Path, *, start: float, seconds: float, cues: Sequence[Cue], style: str,
                   encoding: Encoding, out: Path, block: int = 0, timeline_start: float = 0.0) -> PictureResult:
    """Encode [start, start+seconds) of `source` as a final picture segment of exactly seconds x 24 frames.

    `cues` are in the segment's own time. The same graph measures black and frozen stretches on a small
    copy of the picture, so the checks cost no second decode."""
    frames = int(round(seconds * OUT_FPS))
    ass = _write_ass(cues, style, out.with_suffix(".ass"))
    chain = video_chain(probe(source), ass)
    graph = (f"{chain};[vout]tpad=stop_mode=clone:stop_duration={seconds:.3f},split=2[enc][det];"
             f"[det]scale={_DETECT_SIZE},blackdetect=d={BLACK_MIN_SECONDS}:pix_th=0.10,"
             f"freezedetect=n={FREEZE_NOISE}:d={FREEZE_MIN_SECONDS}[detected]")
    stderr = run(["-ss", f"{start:.3f}", "-i", str(source), "-filter_complex", graph,
                  "-map", "[enc]", "-frames:v", str(frames), *segment_encode_args(encoding), str(out),
                  "-map", "[detected]", "-frames:v", str(frames), "-f", "null", "-"], what=f"segment_{block}")
    info = probe(out)
    shift = timeline_start
    black = [(float(s) + shift, float(e) + shift)
             for s, e in re.findall(r"black_start:\s*([\d.]+)\s+black_end:\s*([\d.]+)", stderr)]
    freezes = [(s + shift, e + shift) for s, e in _detect_intervals(stderr, "lavfi.freezedetect.freeze", seconds)]
    return PictureResult(block=block, start=timeline_start, end=timeline_start + seconds, width=info.width,
                         height=info.height, fps=info.fps, frames=_frame_count(info, seconds),
                         black=tuple(black), freezes=tuple(freezes))


def _frame_count(info: Any, seconds: float) -> int:
    counted = (info.video_stream or {}).get("nb_frames")
    return int(counted) if counted else int(round(seconds * OUT_FPS))


def render_rendition_segment(segment: Path, rendition: Rendition, out: Path) -> Path:
    """A block's segment of a smaller rendition, scaled from its final segment with the same GOP rules."""
    encoding = Encoding(rendition.crf, rendition.max_bitrate_kbps, rendition.width, rendition.height)
    run(["-i", str(segment), "-vf", f"scale={rendition.width}:{rendition.height}:flags=lanczos,setsar=1,"
         "format=yuv420p", *segment_encode_args(encoding), str(out)], what=f"segment_{rendition.name}")
    return out


# --- joining -------------------------------------------------------------------------------------------

def join_pictures(segments: Sequence[tuple[Path, float]], out: Path, work: Path) -> Path:
    """The segments joined by packet copy (concat demuxer): one picture-only file."""
    if len(segments) == 1:
        out.write_bytes(segments[0][0].read_bytes())
        return out
    concat_copy([(p.resolve(), seconds) for p, seconds in segments], out, work)
    return out


def mux(picture: Path, audio: Path, out: Path, seconds: float) -> Path:
    """Picture and sound into the delivered MP4 (both copied), moov first."""
    run(["-i", str(picture), "-i", str(audio), "-map", "0:v:0", "-map", "1:a:0", "-c", "copy",
         "-t", f"{seconds:.3f}", "-movflags", "+faststart", str(out)], what="mux")
    return out
