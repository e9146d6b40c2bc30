"""The streaming finish: each block's picture is finished when the block arrives; the tail only joins.

    block k arrives ─> its cues (the transcript so far) ─> make_block_segment ─> stored (key, picture checks)
    last block ─────> transcript ─> cues ─> every block's expected key ─┬─ stored and same key: reused
                                                                       └─ else: make_block_segment (same code)
                      music bed + gain ─> audio only (whole timeline) ──> concat (packet copy) + mux, moov first

Nothing here knows about Cloud Storage: the caller hands in the segments it has (shared.assembly.segment_store
stores and fetches them). Ahead-of-time work is only ever reused when its key matches what the finish
would make now, so a lost, failed or stale block costs time, never correctness.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shared.assembly.finish import (
    OUT_FPS,
    TARGET_LUFS,
    Deliverables,
    _music_path,
    _timed,
    _validate,
    render_audio,
    settle_gain,
    write_subtitles,
)
from shared.assembly.music import prepare_bed
from shared.assembly.pictures import PictureResult
from shared.assembly.segments import (
    Encoding,
    block_cues,
    join_pictures,
    mux,
    render_rendition_segment,
    render_segment,
    segment_key,
)
from shared.assembly.subtitles import Cue
from shared.assembly.transcribe import Transcript
from shared.core import log
from shared.media.ffmpeg import measure_loudness, require_tools, write_thumbnail
from shared.media.probe import probe
from shared.pricing.presets import Rendition
from shared.video.plan import VideoPlan

FINAL = "final"


@dataclass(frozen=True)
class BlockSpan:
    """Block `block`'s seconds [start, end) in the final video; its Veo segment `segment` starts at `offset`."""

    block: int
    start: float
    end: float
    offset: float
    segment: int = 0

    @property
    def seconds(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class Look:
    """What every segment of a job shares: caption style, encoder settings, renditions."""

    style: str
    encoding: Encoding
    renditions: tuple[Rendition, ...] = ()


@dataclass(frozen=True)
class BlockSegment:
    """A block's finished picture: its files by kind (final, rendition names), its checks, its key."""

    key: str
    files: dict[str, Path]
    picture: PictureResult


@dataclass
class StreamedDeliverables(Deliverables):
    """The finish's deliverables plus what the streaming path adds: per-block checks, joins, renditions."""

    pictures: list[PictureResult] = field(default_factory=list)
    joins: list[float] = field(default_factory=list)
    renditions: dict[str, Path] = field(default_factory=dict)
    segments_reused: int = 0


def spans_of_plan(plan: dict[str, Any]) -> list[BlockSpan]:
    """Every block's span from the plan stored on the job."""
    stored = VideoPlan.from_doc(plan)
    offsets = {s.index: float(sum(p.seconds for p in stored.segments[:s.index])) for s in stored.segments}
    return [BlockSpan(b.index, start, end, offsets[b.segment], b.segment)
            for b, (start, end) in zip(stored.blocks, stored.windows())]


def expected_key(span: BlockSpan, cues: Sequence[Cue], look: Look, source: str) -> str:
    """The key of the segment block `span` gets from these cues (source: the block's Veo clip)."""
    return segment_key(source=source, window=(span.start, span.end), cues=block_cues(cues, span.start, span.end),
                       style=look.style, encoding=look.encoding, renditions=look.renditions)


def make_block_segment(source: Path, source_start: float, span: BlockSpan, cues: Sequence[Cue], look: Look,
                       key: str, out_dir: Path) -> BlockSegment:
    """Encode one block's final picture (and its renditions) from `source`, which holds the block's frames
    from `source_start` seconds; `cues` are the job's cues in the final video's time."""
    out_dir.mkdir(parents=True, exist_ok=True)
    final = out_dir / f"block-{span.block:02d}-{key}-{FINAL}.mp4"
    picture = render_segment(source, start=source_start, seconds=span.seconds,
                             cues=block_cues(cues, span.start, span.end), style=look.style, encoding=look.encoding,
                             out=final, block=span.block, timeline_start=span.start)
    files = {FINAL: final}
    for rendition in look.renditions:
        files[rendition.name] = render_rendition_segment(
            final, rendition, out_dir / f"block-{span.block:02d}-{key}-{rendition.name}.mp4")
    return BlockSegment(key, files, picture)


@dataclass(frozen=True)
class StoredSegment:
    """A segment made earlier: its key and checks at hand, its files fetched only when the key still holds."""

    key: str
    picture: PictureResult
    load: Callable[[], dict[str, Path]]


@dataclass(frozen=True)
class FinishInputs:
    """What the streaming finish needs besides the segments: the job's sound, words and settings.

    A block made at the finish is cut from its own Veo segment file (`veo_segments`, default: the joined
    video as the only one), as the block's clip is when it arrives: the same frames at the same times."""

    veo_video: Path
    script: dict[str, Any]
    spans: list[BlockSpan]
    look: Look
    sources: dict[int, str]  # each block's Veo clip (its key's source)
    music_track: str | None = None
    music_volume: float = 0.2
    target_lufs: float = TARGET_LUFS
    veo_segments: tuple[Path, ...] = ()

    def source_of(self, span: BlockSpan) -> tuple[Path, float]:
        """The file holding a block's frames and where in it they start."""
        if len(self.veo_segments) > span.segment:
            return self.veo_segments[span.segment], span.start - span.offset
        return self.veo_video, span.start


def finish_streamed(inputs: FinishInputs, work_dir: Path, *, hear: Callable[[], Transcript],
                    stored: dict[int, StoredSegment] | None = None, thumbnail: Path | None = None,
                    on_made: Callable[[BlockSpan, BlockSegment], None] | None = None) -> StreamedDeliverables:
    """Deliverables from per-block segments: the stored ones whose key still holds, the rest made here."""
    started = time.monotonic()
    timings: dict[str, float] = {}
    require_tools()
    work_dir.mkdir(parents=True, exist_ok=True)
    info = _validate(inputs.veo_video, inputs.script)
    seconds = sum(s.seconds for s in inputs.spans)
    music_path, music_id = _music_path(inputs.music_track, str(inputs.script.get("style") or ""))
    bed, audio = work_dir / "music_bed.wav", work_dir / "audio.m4a"

    def sound() -> tuple[Path, float]:
        _timed(timings, "music_bed", lambda: prepare_bed(music_path, seconds, bed, volume=inputs.music_volume))
        gain = _timed(timings, "loudness_measure", lambda: settle_gain(inputs.veo_video, info, bed, inputs.target_lufs))
        _timed(timings, "audio", lambda: render_audio(inputs.veo_video, info, bed, gain, audio, seconds))
        return audio, gain

    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="finish") as pool:
        mixed = pool.submit(sound)
        transcript = _timed(timings, "transcribe", hear)
        cues, srt, vtt, _ = _timed(timings, "subtitles", lambda: write_subtitles(transcript, inputs.script, work_dir))
        segments, reused = _timed(timings, "segments", lambda: _segments(inputs, cues, stored or {}, work_dir,
                                                                         on_made))
        picture = _timed(timings, "join", lambda: join_pictures(
            [(segments[s.block].files[FINAL], s.seconds) for s in inputs.spans], work_dir / "picture.mp4", work_dir))
        thumb = thumbnail or work_dir / "thumbnail.jpg"
        if thumbnail is None:
            _timed(timings, "thumbnail", lambda: write_thumbnail(inputs.veo_video, thumb))
        audio_path, gain = mixed.result()
    final = _timed(timings, "mux", lambda: mux(picture, audio_path, work_dir / "final.mp4", seconds))
    renditions = {r.name: _rendition(r.name, inputs.spans, segments, audio_path, seconds, work_dir)
                  for r in inputs.look.renditions}
    out_info, loud = _timed(timings, "verify", lambda: (probe(final), measure_loudness(final)))
    timings["total"] = round(time.monotonic() - started, 3)
    log.info("deliverables ready", event="finish_done", streamed=True, duration=out_info.duration, cues=len(cues),
             segments_reused=reused, blocks=len(inputs.spans), lufs=loud.integrated_lufs,
             true_peak=loud.true_peak_dbtp, gain_db=round(gain, 2), timings=timings)
    return StreamedDeliverables(
        final_video=final, thumbnail=thumb, srt=srt, vtt=vtt, duration=out_info.duration,
        words_transcribed=len(transcript.words), cue_count=len(cues), loudness_lufs=loud.integrated_lufs,
        true_peak_dbtp=loud.true_peak_dbtp, timings=timings, music_track=music_id,
        pictures=[segments[s.block].picture for s in inputs.spans], joins=[s.start for s in inputs.spans[1:]],
        renditions=renditions, segments_reused=reused)


def _segments(inputs: FinishInputs, cues: list[Cue], stored: dict[int, StoredSegment], work: Path,
              on_made: Callable[[BlockSpan, BlockSegment], None] | None) -> tuple[dict[int, BlockSegment], int]:
    """Every block's segment: the stored one when its key is the expected one (and its files can be had),
    else made here from the block's Veo segment; how many stored ones were used."""
    keys = {s.block: expected_key(s, cues, inputs.look, inputs.sources.get(s.block, "")) for s in inputs.spans}
    reusable = {b: have for b, have in stored.items() if keys.get(b) == have.key}
    spans = {s.block: s for s in inputs.spans}

    def make(span: BlockSpan) -> BlockSegment:
        source, source_start = inputs.source_of(span)
        made = make_block_segment(source, source_start, span, cues, inputs.look, keys[span.block], work / "segments")
        if on_made is not None:
            on_made(span, made)
        return made

    out: dict[int, BlockSegment] = {}
    with ThreadPoolExecutor(max_workers=4, thread_name_prefix="fetch") as pool:
        loading = {b: pool.submit(have.load) for b, have in reusable.items()}
        for span in inputs.spans:
            if span.block not in reusable:
                log.info("block segment made at the finish", block=span.block, stored=span.block in stored)
                out[span.block] = make(span)
        used = 0
        for block, files in loading.items():
            try:
                out[block] = BlockSegment(reusable[block].key, files.result(), reusable[block].picture)
                used += 1
            except Exception as exc:  # noqa: BLE001 - a stored file that cannot be had is made again, as if missing
                log.warning("stored block segment unreadable; made at the finish", block=block, error=str(exc))
                out[block] = make(spans[block])
    return out, used


def _rendition(name: str, spans: list[BlockSpan], segments: dict[int, BlockSegment], audio: Path, seconds: float,
               work: Path) -> Path:
    picture = join_pictures([(segments[s.block].files[name], s.seconds) for s in spans], work / f"{name}-picture.mp4",
                            work)
    return mux(picture, audio, work / f"{name}.mp4", seconds)


def frames_expected(spans: Sequence[BlockSpan]) -> int:
    """The frame count of the delivered video: every block's seconds at 24 fps."""
    return sum(int(round(s.seconds * OUT_FPS)) for s in spans)
