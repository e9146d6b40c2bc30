"""The streaming finish on real ffmpeg: a multi-block, multi-segment (Vertex-shaped) job, its blocks' pictures
made ahead, at the finish, or again when stale, then joined by packet copy and checked with ffprobe/ffmpeg.

Plan: segment 0 = blocks 0-1 (8 s + 7 s), segment 1 = block 2 (8 s, its own clip) → 23 s, joins at 8 s and 15 s.
"""
from __future__ import annotations

import dataclasses
import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from shared.assembly.finish import cues_of
from shared.assembly.segments import Encoding
from shared.assembly.streaming import (
    BlockSegment,
    FinishInputs,
    Look,
    StoredSegment,
    expected_key,
    finish_streamed,
    make_block_segment,
    spans_of_plan,
)
from shared.assembly.transcribe import Transcript, Word
from shared.core.config import VERTEX
from shared.media.ffmpeg import concat_copy, run_ffmpeg
from shared.pricing.presets import Rendition
from shared.qa.measure import measure_streamed
from shared.video.segments import join_segments

pytestmark = pytest.mark.timeout(900)

PLAN = {"mode": VERTEX, "segments": [{"index": 0, "first_block": 0, "last_block": 1, "seconds": 15},
                                     {"index": 1, "first_block": 2, "last_block": 2, "seconds": 8}]}
SECONDS, FRAMES = 23, 23 * 24
CAP_KBPS = 6000
PREVIEW = Rendition("preview", 720, 1280, 26, 2500)
BLOCKS = ["Waves roll in slowly", "Gulls circle above", "Night falls"]
# The first block's words end at 7.9 s: their cue (held 0.25 s after the last word) crosses the join at 8 s.
HEARD = [Word("Waves", 5.6, 6.1), Word("roll", 6.2, 6.6), Word("in", 6.7, 7.0), Word("slowly", 7.1, 7.9),
         Word("Gulls", 9.5, 10.0), Word("circle", 10.1, 10.6), Word("above", 10.7, 11.2),
         Word("Night", 16.5, 17.0), Word("falls", 17.1, 17.6)]


def _clip(path: Path, source: str, seconds: int, tone: int) -> Path:
    run_ffmpeg(["-f", "lavfi", "-i", f"{source}=s=720x1280:r=24:d={seconds}", "-f", "lavfi", "-i",
                f"sine=f={tone}:d={seconds}:sample_rate=48000", "-c:v", "libx264", "-preset", "ultrafast",
                "-pix_fmt", "yuv420p", "-g", "24", "-c:a", "aac", "-ac", "2", str(path)], what="fixture")
    return path


def _frame(path: Path, at: float) -> np.ndarray:
    """The frame a 24 fps player shows at `at` seconds (numbered after ffmpeg's fps filter, the one-pass
    finish's frame choice, not found by seeking), as 1080x1920 luma."""
    number = int(round(at * 24))
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-vf",
                          f"fps=24,select=eq(n\\,{number}),scale=1080:1920:flags=lanczos", "-frames:v", "1",
                          "-f", "rawvideo", "-pix_fmt", "gray", "-"], check=True, capture_output=True).stdout
    return np.frombuffer(raw, dtype=np.uint8).astype(np.float64).reshape(1920, 1080)


def _ffprobe(path: Path, *args: str) -> dict:
    out = subprocess.run(["ffprobe", "-v", "error", "-of", "json", *args, str(path)], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out)


@pytest.fixture(scope="module")
def job(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Block 0 made ahead (reused), block 1 never announced (made at the finish), block 2 stored stale."""
    folder = tmp_path_factory.mktemp("streaming")
    segment0 = _clip(folder / "veo-0.mp4", "testsrc2", 15, 300)
    segment1 = _clip(folder / "veo-1.mp4", "smptehdbars", 8, 500)
    veo = folder / "veo.mp4"
    assert join_segments([segment0, segment1], veo) == "copy"
    spans = spans_of_plan(PLAN)
    script = {"style": "cinematic", "language": "en", "plan": PLAN,
              "blocks": [{"index": k, "dialogue": line} for k, line in enumerate(BLOCKS)]}
    look = Look("cinematic", Encoding(23, CAP_KBPS), (PREVIEW,))
    sources = {0: "gs://b/block-0.mp4", 1: "gs://b/block-1.mp4", 2: "gs://b/block-2.mp4"}
    transcript = Transcript(words=HEARD, speech_spans=[(5.6, 7.9), (9.5, 11.2), (16.5, 17.6)], language="en")
    inputs = FinishInputs(veo, script, spans, look, sources, veo_segments=(segment0, segment1))
    # what the finish burns: block 0's stored key equals the expected one only with these cues
    cues = cues_of(transcript, script)
    ahead = make_block_segment(segment0, 0.0, spans[0], cues, look, expected_key(spans[0], cues, look, sources[0]),
                               folder / "ahead")
    stale = make_block_segment(segment1, 0.0, spans[2], [], look, "stale", folder / "ahead")
    made: list[int] = []
    result = finish_streamed(
        inputs, folder / "out", hear=lambda: transcript,
        stored={0: _stored(ahead), 2: _stored(stale)},
        on_made=lambda span, segment: made.append(span.block))
    return {"result": result, "made": made, "cues": cues, "veo": veo, "segments": (segment0, segment1),
            "folder": folder, "ahead": ahead, "inputs": inputs, "transcript": transcript}


def _stored(segment: BlockSegment) -> StoredSegment:
    return StoredSegment(segment.key, segment.picture, lambda: segment.files)


def test_only_missing_and_stale_blocks_are_made_at_the_finish(job) -> None:
    assert job["made"] == [1, 2]
    assert job["result"].segments_reused == 1


def test_joined_file_is_constant_rate_with_every_frame_and_decodes_without_error(job) -> None:
    final = job["result"].final_video
    counted = _ffprobe(final, "-count_frames", "-select_streams", "v:0", "-show_entries",
                       "stream=nb_read_frames,avg_frame_rate,r_frame_rate,width,height,profile")["streams"][0]
    assert int(counted["nb_read_frames"]) == FRAMES
    assert (counted["avg_frame_rate"], counted["r_frame_rate"]) == ("24/1", "24/1")
    assert (counted["width"], counted["height"], counted["profile"]) == (1080, 1920, "High")
    decode = subprocess.run(["ffmpeg", "-v", "error", "-xerror", "-i", str(final), "-f", "null", "-"],
                            capture_output=True, text=True)
    assert decode.returncode == 0 and not decode.stderr.strip(), decode.stderr


def test_timestamps_run_on_across_the_joins_and_sound_matches_picture(job) -> None:
    final = job["result"].final_video
    packets = _ffprobe(final, "-select_streams", "v:0", "-show_entries", "packet=pts_time,flags")["packets"]
    times = sorted(float(p["pts_time"]) for p in packets)
    steps = np.diff(times)
    assert times[0] == 0.0 and np.allclose(steps, 1 / 24, atol=1e-3), (steps.min(), steps.max())
    # every block starts on a sync sample (IDR): a player can start, and the joins cut, there
    sync = {round(float(p["pts_time"]), 3) for p in packets if "K" in p["flags"]}
    assert {0.0, 8.0, 15.0} <= sync, sorted(sync)
    streams = {s["codec_type"]: s for s in _ffprobe(final, "-show_streams")["streams"]}
    assert float(streams["audio"]["start_time"]) == pytest.approx(0.0, abs=0.001)
    assert abs(float(streams["audio"]["duration"]) - float(streams["video"]["duration"])) < 0.04
    assert float(streams["video"]["duration"]) == pytest.approx(SECONDS, abs=0.01)


def test_the_preset_rate_cap_holds_and_moov_comes_first(job) -> None:
    final = job["result"].final_video
    video = _ffprobe(final, "-select_streams", "v:0", "-show_entries", "stream=bit_rate")["streams"][0]
    assert int(video["bit_rate"]) <= CAP_KBPS * 1000
    head = final.read_bytes()[:4096]
    assert head.find(b"moov") != -1 and (head.find(b"mdat") == -1 or head.find(b"moov") < head.find(b"mdat"))


def test_each_block_shows_its_own_window_of_its_own_veo_segment(job) -> None:
    final, (segment0, segment1) = job["result"].final_video, job["segments"]
    # caption-free moments of block 0 (made ahead), block 1 (made at the finish) and block 2 (made again):
    # each is its Veo segment's frame at the same time in that segment (block 2 starts segment 1 at 15 s)
    assert [_drawn(final, segment0, t) for t in (3.0, 12.5)] == [0, 0]
    assert _drawn(final, segment1, 20.0, shift=-15.0) == 0
    assert _drawn(final, segment0, 20.0, shift=-15.0) > 10000  # the check can tell the segments apart


def _drawn(final: Path, source: Path, at: float, shift: float = 0.0) -> int:
    """Pixels of the final frame at `at` far brighter or darker than the source's at `at + shift` (caption
    text and outline, or another picture altogether)."""
    return int((np.abs(_frame(final, at) - _frame(source, at + shift)) > 80).sum())


def test_a_cue_crossing_a_join_is_burned_on_both_sides_and_ends_where_it_ends(job) -> None:
    crossing = next(c for c in job["cues"] if c.start < 8.0 < c.end)
    final, segment0 = job["result"].final_video, job["segments"][0]
    shown = [_drawn(final, segment0, t) for t in (8.0 - 2 / 24, 8.0 + 1 / 24, crossing.end - 1 / 24)]
    gone = _drawn(final, segment0, crossing.end + 0.2)
    assert min(shown) > 2000 and gone < 200, (shown, gone)


def test_qa_measures_the_joined_file_without_decoding_its_picture(job) -> None:
    result = job["result"]
    picture = {"blocks": [p.to_doc() for p in result.pictures], "joins": result.joins}
    measured = measure_streamed(result.final_video, picture)
    assert measured.picture_from == "segments"
    assert [j["decoded"] and j["frames"] == j["expected"] for j in measured.joins] == [True, True]
    assert (measured.width, measured.height, measured.avg_fps, measured.real_fps) == (1080, 1920, 24.0, 24.0)
    assert measured.black_seconds == 0 and abs(measured.video_duration - measured.audio_duration) < 0.04


def test_qa_catches_a_block_that_lost_frames(job, tmp_path) -> None:
    result, folder = job["result"], job["folder"]
    short = tmp_path / "short.mp4"  # block 0's segment without its last 24 frames, joined as if whole
    run_ffmpeg(["-i", str(job["ahead"].files["final"]), "-c", "copy", "-frames:v", "168", str(short)], what="cut")
    picture_only = tmp_path / "picture.mp4"
    segments = sorted((folder / "out" / "segments").glob("block-01-*-final.mp4")) + \
        sorted((folder / "out" / "segments").glob("block-02-*-final.mp4"))
    concat_copy([(short, 7.0), (segments[0], 7.0), (segments[1], 8.0)], picture_only, tmp_path)
    broken = tmp_path / "broken.mp4"
    run_ffmpeg(["-i", str(picture_only), "-i", str(result.final_video), "-map", "0:v", "-map", "1:a", "-c", "copy",
                "-shortest", str(broken)], what="broken")
    picture = {"blocks": [p.to_doc() for p in result.pictures], "joins": result.joins}
    measured = measure_streamed(broken, picture)
    assert measured.avg_fps != pytest.approx(24.0, abs=0.01)


def test_a_rendition_follows_the_same_path(job) -> None:
    rendition = job["result"].renditions["preview"]
    counted = _ffprobe(rendition, "-count_frames", "-select_streams", "v:0", "-show_entries",
                       "stream=nb_read_frames,width,height,avg_frame_rate,bit_rate")["streams"][0]
    assert (counted["width"], counted["height"], counted["avg_frame_rate"]) == (720, 1280, "24/1")
    assert int(counted["nb_read_frames"]) == FRAMES and int(counted["bit_rate"]) <= PREVIEW.max_bitrate_kbps * 1000
    streams = {s["codec_type"]: s for s in _ffprobe(rendition, "-show_streams")["streams"]}
    assert abs(float(streams["audio"]["duration"]) - float(streams["video"]["duration"])) < 0.04


def test_a_new_loudness_target_reuses_every_block_and_only_remixes_the_sound(job, tmp_path) -> None:
    """The remedial loudness fix: the same segments, a new target; nothing of the picture is encoded again."""
    first = job["result"]
    folder = first.final_video.parent / "segments"
    files = {p.block: {"final": next(folder.glob(f"block-{p.block:02d}-*-final.mp4")),
                       "preview": next(folder.glob(f"block-{p.block:02d}-*-preview.mp4"))}
             for p in first.pictures if p.block != 0}
    files[0] = job["ahead"].files
    keys = {b: v["final"].name.split("-")[2] for b, v in files.items() if b != 0} | {0: job["ahead"].key}
    stored = {p.block: StoredSegment(keys[p.block], p, lambda b=p.block: files[b]) for p in first.pictures}
    made: list[int] = []
    again = finish_streamed(dataclasses.replace(job["inputs"], target_lufs=-18.0), tmp_path / "out",
                            hear=lambda: job["transcript"], stored=stored,
                            on_made=lambda span, segment: made.append(span.block))
    assert made == [] and again.segments_reused == 3
    assert again.loudness_lufs == pytest.approx(-18.0, abs=1.0)
    assert abs(again.loudness_lufs - first.loudness_lufs) > 2


def test_a_stored_segment_whose_files_are_gone_is_made_again(job, tmp_path) -> None:
    """The manifest says block 0 is ready but its files expired: the finish makes it, it does not fail."""
    def gone() -> dict:
        raise FileNotFoundError("segments/block-00 expired")

    first, ahead = job["result"], job["ahead"]
    made: list[int] = []
    again = finish_streamed(job["inputs"], tmp_path / "out", hear=lambda: job["transcript"],
                            stored={0: StoredSegment(ahead.key, ahead.picture, gone)},
                            on_made=lambda span, segment: made.append(span.block))
    assert sorted(made) == [0, 1, 2] and again.segments_reused == 0
    counted = _ffprobe(again.final_video, "-count_frames", "-select_streams", "v:0", "-show_entries",
                       "stream=nb_read_frames")["streams"][0]
    assert int(counted["nb_read_frames"]) == FRAMES
    assert first.pictures[0].frames == again.pictures[0].frames == 192
