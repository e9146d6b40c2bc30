"""Benchmark the assembler's finish against a bare encode and the naive two-encode recipe.

    .venv/bin/python tools/bench_assembler.py [--seconds 75] [--keep DIR] [--presets] [--whole]

Builds one synthetic 720x1280 24 fps clip with espeak speech in every 7 s block, then measures:
  * the Whisper cold start of a new instance (import + model load, in a fresh process),
  * every block but the last transcribed while Veo generated the next one (timed apart),
  * the streaming finish as production runs it (shared.assembly.streaming): each block but the last gets
    its final picture segment as it "arrives" (summed, off the critical path), then the tail from the
    last block's arrival to the final file (its transcript, its segment, audio, join, mux, verify),
  * the one-pass finish (produce_deliverables, one decode + encode of the whole video) for comparison,
    and with --whole the same finish transcribing the whole video itself,
  * a bare libx264 encode with the same output settings (upscale only: the floor for any finish),
  * the naive recipe: burn subtitles, then re-encode to compress with music + loudnorm, both encodes at
    the assembler's x264 preset,
  * peak RSS of this process and its children after the streaming finish (ru_maxrss of self + children).
The last line is machine-readable (assembler = the streaming finish's total work, all blocks + tail):
  assembler_vs_bare_encode=<ratio> assembler_vs_naive=<ratio> peak_rss_mb=<n> tail_vs_bare_encode=<ratio>
Its ratios are of CPU seconds (this process's threads + its children, user + system): on a machine other
work shares, wall-clock ratios swing with the load of the moment, while the work done does not; with
every step keeping both cores busy, as x264 and Whisper do, the two agree on a quiet machine. The line
before gives the same ratios in wall-clock seconds.
"""
from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from shared.assembly import block_transcripts  # noqa: E402
from shared.assembly.block_transcripts import Window  # noqa: E402
from shared.assembly.finish import X264_PRESET, cues_of, encode_args, produce_deliverables  # noqa: E402
from shared.assembly.music import choose_track  # noqa: E402
from shared.assembly.segments import Encoding  # noqa: E402
from shared.assembly.streaming import (  # noqa: E402
    BlockSpan,
    FinishInputs,
    Look,
    StoredSegment,
    StreamedDeliverables,
    expected_key,
    finish_streamed,
    make_block_segment,
    spans_of_plan,
)
from shared.assembly.transcribe import Transcript, get_model, load_audio  # noqa: E402
from shared.core.config import GEMINI_API  # noqa: E402
from shared.media.ffmpeg import escape_filter_value, run_ffmpeg, write_thumbnail  # noqa: E402
from shared.media.probe import probe  # noqa: E402
from shared.video.plan import plan_video, single_chain  # noqa: E402

LINES = [
    "The ocean wakes up before the city does.",
    "Fishermen pull their nets under a silver sky.",
    "A girl runs along the pier with a red kite.",
    "The market opens, full of colour and noise.",
    "Old friends share bread and stories by the water.",
    "At noon the light turns the harbour into gold.",
    "A storm gathers slowly beyond the lighthouse.",
    "Rain falls, and everyone laughs under the awnings.",
    "The clouds break apart into a wide evening glow.",
    "And the ocean goes back to sleep, waiting for tomorrow.",
]


def make_input(folder: Path, seconds: float) -> tuple[Path, dict[str, Any]]:
    """A synthetic Veo-like clip (moving test pattern, espeak line per block) and its script."""
    blocks: list[dict[str, Any]] = []
    inputs: list[str] = []
    chains: list[str] = []
    windows = single_chain(len(LINES)).windows()
    for k, line in enumerate(LINES):
        start, _ = windows[k]
        if start + 4 > seconds:
            break
        wav = folder / f"line{k}.wav"
        subprocess.run(["espeak-ng", "-v", "en", "-s", "160", "-w", str(wav), line], check=True)
        inputs += ["-i", str(wav)]
        chains.append(f"[{len(chains) + 1}:a]adelay={int((start + 0.8) * 1000)}:all=1[s{k}]")
        blocks.append({"index": k, "visual": "harbour", "dialogue": line, "sound_effects": "waves"})
    labels = "".join(f"[s{k}]" for k in range(len(chains)))
    graph = (";".join(chains) + f";{labels}amix=inputs={len(chains)}:normalize=0,apad,aresample=48000[a];"
             "[0:v]format=yuv420p[v]")
    clip = folder / "veo.mp4"
    run_ffmpeg(["-f", "lavfi", "-i", f"testsrc2=s=720x1280:r=24:d={seconds}", *inputs,
                "-filter_complex", graph, "-map", "[v]", "-map", "[a]", "-t", str(seconds),
                "-c:v", "libx264", "-preset", "ultrafast", "-crf", "18", "-c:a", "aac", "-b:a", "192k",
                str(clip)], what="bench_input")
    script = {"title": "Harbour day", "theme": "a day at the harbour", "style": "cinematic",
              "language": "en", "blocks": blocks}
    return clip, script


def timed(fn: Callable[[], object]) -> float:
    """Wall seconds of fn()."""
    started = time.monotonic()
    fn()
    return time.monotonic() - started


def cpu_seconds() -> float:
    """CPU seconds (user + system) used so far by this process's threads and its finished children."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


class Cost:
    """Wall and CPU seconds of everything run inside `with Cost() as cost:` (CPU: this process + children)."""

    def __init__(self) -> None:
        self.wall = self.cpu = 0.0

    def __enter__(self) -> Cost:
        self._wall, self._cpu = time.monotonic(), cpu_seconds()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall += time.monotonic() - self._wall
        self.cpu += cpu_seconds() - self._cpu

    def __str__(self) -> str:
        return f"{self.wall:.2f} s wall, {self.cpu:.2f} s CPU"


def costed(fn: Callable[[], object]) -> Cost:
    """The Cost of fn()."""
    with Cost() as cost:
        fn()
    return cost


def bare_encode(clip: Path, out: Path, crf: int, preset: str | None = None) -> None:
    """Upscale + encode with the finish's output settings and nothing else."""
    args = encode_args(crf) if preset is None else encode_args(crf, preset)
    run_ffmpeg(["-i", str(clip), "-vf", "fps=24,scale=1080:1920:flags=lanczos,setsar=1,format=yuv420p",
                *args, str(out)], what="bare_encode")


def naive_recipe(clip: Path, srt: Path, music: Path, work: Path, crf: int) -> None:
    """What a first version does: burn subtitles in one encode, then re-encode to mix music and compress."""
    burned = work / "naive_burned.mp4"
    style = "FontName=DejaVu Sans,Bold=1,FontSize=16,Outline=2,MarginV=60"
    subs = f"subtitles=filename={escape_filter_value(str(srt))}:force_style='{style}'"
    run_ffmpeg(["-i", str(clip), "-vf", f"scale=1080:1920:flags=lanczos,{subs}", "-c:v", "libx264",
                "-preset", X264_PRESET, "-crf", "18", "-c:a", "copy", str(burned)], what="naive_burn")
    run_ffmpeg(["-i", str(burned), "-stream_loop", "-1", "-i", str(music), "-filter_complex",
                "[1:a]volume=0.2[m];[0:a][m]amix=inputs=2:duration=first,loudnorm=I=-14:TP=-1[a]",
                "-map", "0:v", "-map", "[a]", "-c:v", "libx264", "-preset", X264_PRESET, "-crf", str(crf),
                "-pix_fmt", "yuv420p",
                "-c:a", "aac", "-b:a", "128k", "-ar", "48000", "-movflags", "+faststart",
                str(work / "naive_final.mp4")], what="naive_compress")


def peak_rss_mb() -> int:
    """ru_maxrss of this process plus the largest child so far, in MiB (Linux reports KiB)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return int(round((own + children) / 1024))


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the figures; the last line is the summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=75.0)
    parser.add_argument("--crf", type=int, default=23)
    parser.add_argument("--keep", type=Path, help="keep the outputs in this folder")
    parser.add_argument("--presets", action="store_true", help="also time bare encodes at other x264 presets")
    parser.add_argument("--whole", action="store_true", help="also time the one-pass finish transcribing it all")
    args = parser.parse_args(argv)
    folder = args.keep or Path(tempfile.mkdtemp(prefix="bench-assembler-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        return run(folder, args)
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)


def whisper_cold_start() -> float:
    """Seconds a new instance spends importing faster-whisper and loading the model (fresh process)."""
    code = "from shared.assembly.transcribe import get_model; get_model()"
    root = Path(__file__).resolve().parent.parent
    return timed(lambda: subprocess.run([sys.executable, "-c", code], cwd=root, check=True))


def transcribe_ahead(clip: Path, script: dict[str, Any]) -> tuple[dict[int, Transcript], list[Window], float]:
    """What the assembler does while Veo generates: every block but the last, each on its own."""
    windows = block_transcripts.windows_of_plan(plan_video(len(script["blocks"]), GEMINI_API).to_doc())
    audio = load_audio(clip)
    stored: dict[int, Transcript] = {}

    def each_block() -> None:
        for window in windows[:-1]:
            stored[window.block] = block_transcripts.hear_window(audio, window, script["language"])
    return stored, windows, timed(each_block)


def bench_spans(clip: Path, blocks: int) -> list[BlockSpan]:
    """The blocks' spans of a one-chain plan, the last running to the clip's end (the output is as long as
    the bare encode's)."""
    spans = spans_of_plan(single_chain(blocks).to_doc())
    last = spans[-1]
    return [*spans[:-1], BlockSpan(last.block, last.start, probe(clip).duration, last.offset)]


def segments_ahead(clip: Path, script: dict[str, Any], spans: list[BlockSpan], stored: dict[int, Transcript],
                   look: Look, folder: Path) -> tuple[dict[int, StoredSegment], Cost]:
    """What the assembler does as each block but the last arrives: its segment, with the cues heard so far."""
    made: dict[int, StoredSegment] = {}
    cost = Cost()
    for span in spans[:-1]:
        heard = block_transcripts.merge([t for b, t in stored.items() if b <= span.block], script["language"])
        with cost:
            cues = cues_of(heard, {**script, "blocks": script["blocks"][:span.block + 1]})
            key = expected_key(span, cues, look, f"block-{span.block}")
            segment = make_block_segment(clip, span.start, span, cues, look, key, folder)
            if span.block == 0:  # the thumbnail comes from block 0 when it arrives
                write_thumbnail(clip, folder / "thumbnail.jpg")
        made[span.block] = StoredSegment(key, segment.picture, partial(lambda files: files, segment.files))
    return made, cost


def streaming_finish(clip: Path, script: dict[str, Any], stored: dict[int, Transcript], windows: list[Window],
                     folder: Path, crf: int) -> tuple[StreamedDeliverables, Cost, Cost]:
    """The streaming path: segments as blocks arrive (seconds summed), then the tail; (result, ahead, tail)."""
    spans = bench_spans(clip, len(script["blocks"]))
    look = Look(script["style"], Encoding(crf, None))
    segments, ahead = segments_ahead(clip, script, spans, stored, look, folder / "ahead")
    inputs = FinishInputs(clip, script, spans, look, {s.block: f"block-{s.block}" for s in spans})
    result: list[StreamedDeliverables] = []
    tail = costed(lambda: result.append(finish_streamed(
        inputs, folder / "streamed", stored=segments, thumbnail=folder / "ahead" / "thumbnail.jpg",
        hear=lambda: block_transcripts.complete(stored, windows, load_audio(clip), script["language"]))))
    return result[0], ahead, tail


def run(folder: Path, args: argparse.Namespace) -> int:
    """The measurements, in an order that keeps the assembler's RSS figure its own."""
    clip, script = make_input(folder, args.seconds)
    print(f"input: {clip.name} {probe(clip).duration:.1f} s 720x1280, {len(script['blocks'])} spoken blocks")
    print(f"whisper cold start (once per instance): {whisper_cold_start():.2f} s")
    get_model()
    stored, windows, ahead_s = transcribe_ahead(clip, script)
    print(f"blocks transcribed during generation: {len(stored)} in {ahead_s:.2f} s "
          f"({ahead_s / max(1, len(stored)):.2f} s per block, off the critical path)")
    streamed, segments, tail = streaming_finish(clip, script, stored, windows, folder, args.crf)
    rss_mb = peak_rss_mb()
    print(f"streaming: {len(stored)} block segments as they arrived: {segments} "
          f"({segments.wall / max(1, len(stored)):.2f} s per block, off the critical path)")
    print(f"streaming tail (last block's arrival -> final file): {tail}  steps={streamed.timings}")
    print(f"  output {streamed.duration:.2f} s, {streamed.loudness_lufs} LUFS, {streamed.true_peak_dbtp} dBTP, "
          f"{streamed.cue_count} cues, segments reused {streamed.segments_reused}")
    result = None

    def assemble(hear: Callable[[], Transcript] | None = None) -> None:
        nonlocal result
        result = produce_deliverables(clip, script, folder / "work", music_track=None, crf=args.crf, hear=hear)

    if args.whole:
        whole_s = timed(assemble)
        print(f"one-pass finish transcribing the whole video itself: {whole_s:.2f} s")
    one_pass_s = timed(lambda: assemble(lambda: block_transcripts.complete(
        stored, windows, load_audio(clip), script["language"])))
    assert result is not None  # assemble() set it
    print(f"one-pass finish (the whole picture after the last block): {one_pass_s:.2f} s  steps={result.timings}")
    bare = costed(lambda: bare_encode(clip, folder / "bare.mp4", args.crf))
    print(f"bare libx264 encode (same output settings): {bare}")
    print(f"  (one-pass finish: {one_pass_s / bare.wall:.3f}x the bare encode's wall time, all after the last block)")
    music = choose_track(None, script["style"]).path
    naive = costed(lambda: naive_recipe(clip, streamed.srt, music, folder, args.crf))
    print(f"naive recipe (burn, then re-encode, preset {X264_PRESET}): {naive}")
    if args.presets:
        for preset in ("superfast", "veryfast", "faster", "fast"):
            secs = timed(partial(bare_encode, clip, folder / f"bare_{preset}.mp4", args.crf, preset))
            size = (folder / f"bare_{preset}.mp4").stat().st_size / 1e6
            print(f"  bare encode preset={preset}: {secs:.2f} s, {size:.1f} MB")
    total_wall, total_cpu = segments.wall + tail.wall, segments.cpu + tail.cpu
    print(f"wall-clock ratios (noisy on a shared machine): assembler_vs_bare_encode={total_wall / bare.wall:.3f} "
          f"assembler_vs_naive={total_wall / naive.wall:.3f} tail_vs_bare_encode={tail.wall / bare.wall:.3f}")
    print(f"assembler_vs_bare_encode={total_cpu / bare.cpu:.3f} assembler_vs_naive={total_cpu / naive.cpu:.3f} "
          f"peak_rss_mb={rss_mb} tail_vs_bare_encode={tail.cpu / bare.cpu:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
