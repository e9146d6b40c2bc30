"""The media adapter: every ffmpeg run in shared/ goes through this module (probes: shared.media.probe).

    run / run_output   run an ffmpeg command (argument list or ffmpeg-python stream): the pinned wheel's
                       binary, clear PermanentError / TransientError with a short stderr tail, timeout
    source             a source filter (gradients, anoisesrc...) for graphs built with ffmpeg-python
    (probing — MediaInfo, probe, duration, has_faststart — is shared.media.probe)
    concat_copy        join files with the concat demuxer, copying every packet
    loudness           EBU R128 measurement and parsing; filter-value escaping; thumbnails

Filter graphs are built with the ffmpeg-python package (imported as `ffmpeg_python`: this module is
`shared.media.ffmpeg`, the package is the top-level `ffmpeg`). Note two traits of ffmpeg-python 0.2.0:
filter options are written in sorted order, and two filters with the same options fed by the same
streams are treated as ONE node (its hash ignores the filter name).
Every helper works on local files; nothing here knows about GCS or Firestore.
"""
from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ffmpeg as ffmpeg_python  # the ffmpeg-python package (graph building), not this module
import numpy as np
from PIL import Image

from shared.core import log
from shared.core.errors import ErrorCode, PermanentError, TransientError
from shared.media.binaries import FFMPEG, MissingToolError, ffmpeg_binary
from shared.media.probe import probe

_STDERR_TAIL_CHARS = 1500
DEFAULT_TIMEOUT_S = 1800
CONCAT_TIMEOUT_S = 300
# No metadata, bit-exact muxing and no edit lists: every stream starts at 0, so files joined later with
# concat_copy land exactly at their offsets.
EXACT_MUX_ARGS = ["-map_metadata", "-1", "-fflags", "+bitexact", "-use_editlist", "0", "-movflags", "+faststart"]

Command = Any  # an argument list (everything after the binary) or an ffmpeg-python output stream


@dataclass(frozen=True)
class Output:
    """What an ffmpeg run wrote: stdout as bytes (e.g. decoded samples), stderr as text."""

    stdout: bytes
    stderr: str


@dataclass(frozen=True)
class Loudness:
    """EBU R128 measurement: integrated loudness (LUFS), true peak (dBTP), loudness range (LU)."""

    integrated_lufs: float
    true_peak_dbtp: float
    lra: float


def require_tools() -> None:
    """Fail with a clear error (MissingToolError, a ConfigError) when ffmpeg is missing."""
    ffmpeg_binary()


# --- running ffmpeg ------------------------------------------------------------------------------

def command_line(command: Command, *, loglevel: str | None = None) -> list[str]:
    """The full argv of a command: binary, `-hide_banner -nostdin [-loglevel L] -y`, then its arguments."""
    args = [str(arg) for arg in (command if isinstance(command, (list, tuple)) else graph_args(command))]
    level = ["-loglevel", loglevel] if loglevel else []
    return [ffmpeg_binary(), "-hide_banner", "-nostdin", *level, "-y", *args]


def graph_args(stream: Any) -> list[str]:
    """The arguments of an ffmpeg-python command: `ffmpeg.compile(stream)` without the binary.

    The same steps as ffmpeg-python 0.2.0's get_args, which fails on a graph that reads no file (only
    source filters: it joins the input arguments with reduce() and there are none).
    """
    internals, nodes = ffmpeg_python._run, ffmpeg_python.nodes
    ordered, outgoing = ffmpeg_python.dag.topo_sort(nodes.get_stream_spec_nodes(stream))
    inputs = [node for node in ordered if isinstance(node, nodes.InputNode)]
    names = {(node, None): str(i) for i, node in enumerate(inputs)}
    graph = internals._get_filter_arg([node for node in ordered if isinstance(node, nodes.FilterNode)], outgoing,
                                      names)
    args = [arg for node in inputs for arg in internals._get_input_args(node)]
    if graph:
        args += ["-filter_complex", graph]
    args += [arg for node in ordered if isinstance(node, nodes.OutputNode)
             for arg in internals._get_output_args(node, names)]
    return args + [arg for node in ordered if isinstance(node, nodes.GlobalNode)
                   for arg in internals._get_global_args(node)]


def run(command: Command, *, what: str, cwd: Path | None = None, timeout: float = DEFAULT_TIMEOUT_S,
        loglevel: str | None = None, failure: type[PermanentError] = PermanentError) -> str:
    """Run an ffmpeg command; return its stderr (where filters such as ebur128 report).

    `command` is an argument list (without the binary) or an ffmpeg-python output stream. A non-zero
    exit raises `failure` (PermanentError, code ffmpeg_failed, unless a subclass brings its own code)
    naming `what` with the end of stderr; a timeout raises TransientError.
    """
    return run_output(command, what=what, cwd=cwd, timeout=timeout, loglevel=loglevel, failure=failure).stderr


def run_output(command: Command, *, what: str, cwd: Path | None = None, timeout: float = DEFAULT_TIMEOUT_S,
               loglevel: str | None = None, failure: type[PermanentError] = PermanentError) -> Output:
    """`run`, also returning what ffmpeg wrote to stdout (`pipe:1`, `-`) as bytes."""
    cmd = command_line(command, loglevel=loglevel)
    log.debug("ffmpeg run", what=what, cmd=" ".join(cmd))
    proc = _execute(cmd, tool=FFMPEG, what=what, cwd=cwd, timeout=timeout)
    stderr = _text(proc.stderr)
    if proc.returncode != 0:
        tail = stderr[-_STDERR_TAIL_CHARS:].strip()
        code = ErrorCode.FFMPEG_FAILED if failure.code == PermanentError.code else None
        raise failure(f"ffmpeg {what} failed (exit {proc.returncode}): {tail}", code=code)
    return Output(stdout=proc.stdout, stderr=stderr)


# The name callers used before `run`.
run_ffmpeg = run


def _execute(cmd: list[str], *, tool: str, what: str, cwd: Path | None,
             timeout: float) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(cmd, check=False, cwd=cwd, capture_output=True, timeout=timeout)
    except FileNotFoundError as exc:
        raise MissingToolError(f"{tool} cannot be started: {cmd[0]}", tool=tool) from exc
    except subprocess.TimeoutExpired as exc:
        raise TransientError(f"{tool} {what} timed out after {timeout:.0f} s", code=ErrorCode.FFMPEG_TIMEOUT) from exc


def _text(data: bytes) -> str:
    """Process output as text, newlines normalised (as subprocess's text mode does)."""
    return data.decode("utf-8", errors="replace").replace("\r\n", "\n").replace("\r", "\n")


class _SourceNode(ffmpeg_python.nodes.FilterNode):  # type: ignore[misc]
    """A filter with no input: ffmpeg-python 0.2.0 only makes filters that are fed a stream."""

    def __init__(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        nodes = ffmpeg_python.nodes
        nodes.Node.__init__(self, None, name, {nodes.FilterableStream}, nodes.FilterableStream, 0, 0,
                            args=list(args), kwargs=kwargs)


def source(name: str, *args: Any, **options: Any) -> Any:
    """An ffmpeg-python stream from a source filter inside the graph, e.g. source("anoisesrc", c="brown")."""
    return _SourceNode(name, args, options).stream()


# --- joining -------------------------------------------------------------------------------------

def concat_copy(parts: list[tuple[Path, float]], out: Path, work: Path, *,
                failure: type[PermanentError] = PermanentError) -> None:
    """Join (file, duration) parts with the concat demuxer, copying every packet (nothing is re-encoded)."""
    listing = ["ffconcat version 1.0"]
    for path, seconds in parts:
        quoted = str(path).replace("'", "'\\''")
        listing += [f"file '{quoted}'", f"duration {seconds:.3f}"]
    list_file = work / "parts.ffconcat"
    list_file.write_text("\n".join(listing) + "\n", encoding="utf-8")
    # auto_convert=0: otherwise the demuxer rewrites H.264 packets (Annex B, in-band SPS/PPS).
    run(["-f", "concat", "-safe", "0", "-auto_convert", "0", "-i", str(list_file), "-map", "0",
         "-c", "copy", *EXACT_MUX_ARGS, str(out)], what="concat_copy", cwd=work, timeout=CONCAT_TIMEOUT_S,
        loglevel="error", failure=failure)


# --- loudness ------------------------------------------------------------------------------------

_EBUR128_SUMMARY = re.compile(
    r"Integrated loudness:\s*I:\s*(?P<i>-?[\d.]+|-inf)\s*LUFS.*?LRA:\s*(?P<lra>-?[\d.]+)\s*LU"
    r".*?(?:True|Sample) peak:\s*Peak:\s*(?P<tp>-?[\d.]+|-inf)\s*dBFS", re.S)


def parse_ebur128(stderr: str) -> Loudness:
    """Parse the summary the ebur128 filter prints at the end of a run."""
    start = stderr.rfind("Summary:")
    match = _EBUR128_SUMMARY.search(stderr, start if start >= 0 else 0)
    if not match:
        raise PermanentError("ebur128 printed no summary", code=ErrorCode.LOUDNESS_UNMEASURED)
    return Loudness(integrated_lufs=_db(match["i"]), true_peak_dbtp=_db(match["tp"]), lra=float(match["lra"]))


def _db(text: str) -> float:
    return float("-inf") if text == "-inf" else float(text)


def ebur128_filter(*, true_peak: bool = True) -> str:
    """The ebur128 measurement filter, no per-frame logging; sample peak is cheaper than true peak."""
    return f"ebur128=peak={'true' if true_peak else 'sample'}:framelog=verbose"


def measure_loudness(path: Path) -> Loudness:
    """Measure a file's audio loudness and true peak with one audio-only decode."""
    stderr = run(["-i", str(path), "-vn", "-map", "0:a:0", "-af", ebur128_filter(), "-f", "null", "-"],
                 what="measure_loudness")
    return parse_ebur128(stderr)


def escape_filter_value(value: str) -> str:
    """Escape a value (e.g. a file path) for use inside an ffmpeg -filter_complex graph.

    Two levels: first the filter's option parser (`\\`, `'`, `:`), then the graph parser
    (`\\`, `'`, `[`, `]`, `,`, `;`). Quoting is avoided because a `'` cannot appear inside quotes.
    """
    level1 = re.sub(r"([\\':])", r"\\\1", value)
    return re.sub(r"([\\'\[\],;])", r"\\\1", level1)


# --- frames and thumbnails -----------------------------------------------------------------------

def decode_frames(src: Path, *, start: float, seconds: float, fps: float, width: int, height: int) -> Any:
    """Decode frames of [start, start+seconds) at `fps`, scaled to width x height, as an (N,H,W,3) uint8 array."""
    decoded = run_output(["-ss", f"{max(0.0, start):.3f}", "-i", str(src), "-t", f"{seconds:.3f}",
                          "-vf", f"fps={fps},scale={width}:{height}:flags=lanczos",
                          "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                         what="decode_frames", timeout=300, loglevel="error")
    frame_bytes = width * height * 3
    count = len(decoded.stdout) // frame_bytes
    return np.frombuffer(decoded.stdout[: count * frame_bytes], dtype=np.uint8).reshape(count, height, width, 3)


def sharpness(frame: Any) -> float:
    """Variance of the Laplacian of the luma: higher is sharper."""
    luma = frame.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    lap = (-4 * luma[1:-1, 1:-1] + luma[:-2, 1:-1] + luma[2:, 1:-1] + luma[1:-1, :-2] + luma[1:-1, 2:])
    return float(lap.var())


def is_black(frame: Any, *, threshold: float = 20.0) -> bool:
    """True when a frame is (nearly) black: mean luma below threshold of 255, or almost no contrast."""
    luma = frame.mean(axis=2)
    return float(luma.mean()) < threshold or float(luma.std()) < 2.0


def write_thumbnail(src: Path, dst: Path, *, around: float = 2.0, width: int = 540, height: int = 960) -> Path:
    """Save the sharpest non-black frame near `around` seconds as a JPEG of width x height."""
    seconds = probe(src).duration
    start = max(0.0, min(around - 0.75, seconds - 1.5))
    frames = decode_frames(src, start=start, seconds=1.5, fps=4, width=width, height=height)
    if len(frames) == 0:
        frames = decode_frames(src, start=0.0, seconds=min(seconds, 3.0), fps=4, width=width, height=height)
    if len(frames) == 0:
        raise PermanentError(f"no frame to make a thumbnail from in {src}", code=ErrorCode.NO_FRAMES)
    candidates = [f for f in frames if not is_black(f)] or list(frames)
    best = max(candidates, key=sharpness)
    Image.fromarray(best).save(dst, "JPEG", quality=88, optimize=True, progressive=True)
    return dst
