"""Per-block segments: cues cut at block boundaries, segment keys, block spans of a plan (no media here)."""
from __future__ import annotations

from shared.assembly.pictures import PictureResult, merged_freezes
from shared.assembly.segments import Encoding, block_cues, segment_key
from shared.assembly.streaming import Look, expected_key, spans_of_plan
from shared.assembly.subtitles import Cue
from shared.core.config import GEMINI_API, VERTEX
from shared.pricing.presets import Rendition
from shared.video.plan import plan_video

CROSSING = Cue(6.5, 9.5, ("Across the", "boundary"))


def test_a_cue_crossing_a_boundary_is_cut_there_and_each_part_lands_in_its_blocks_time() -> None:
    before, after = block_cues([CROSSING], 0.0, 8.0), block_cues([CROSSING], 8.0, 15.0)
    assert before == [Cue(6.5, 8.0, CROSSING.lines)]
    assert after == [Cue(0.0, 1.5, CROSSING.lines)]
    # the two parts, put back on the timeline, show the same lines for exactly the cue's time
    assert before[0].end - before[0].start + after[0].end - after[0].start == CROSSING.end - CROSSING.start


def test_a_sliver_shorter_than_a_frame_is_not_burned_and_cues_outside_the_block_are_left_out() -> None:
    cues = [Cue(1.0, 8.01, ("late",)), Cue(9.0, 10.0, ("next",))]
    assert block_cues(cues, 8.0, 15.0) == [Cue(1.0, 2.0, ("next",))]
    assert block_cues(cues, 0.0, 8.0) == [Cue(1.0, 8.0, ("late",))]


def test_segment_key_names_every_input() -> None:
    base = dict(source="gs://b/block0.mp4", window=(0.0, 8.0), cues=[CROSSING], style="cinematic",
                encoding=Encoding(23, 8000))
    key = segment_key(**base)
    assert key == segment_key(**base)
    changed = [dict(base, source="gs://b/block0-retry.mp4"), dict(base, window=(8.0, 15.0)),
               dict(base, cues=[Cue(6.5, 9.0, CROSSING.lines)]), dict(base, style="anime"),
               dict(base, encoding=Encoding(20, 8000)), dict(base, encoding=Encoding(23, 6000)),
               dict(base, renditions=[Rendition("preview", 720, 1280, 26, 2500)])]
    assert len({segment_key(**c) for c in changed} | {key}) == len(changed) + 1


def test_a_later_cue_outside_the_block_does_not_change_its_key() -> None:
    span = spans_of_plan(plan_video(3, GEMINI_API).to_doc())[0]
    look = Look("cinematic", Encoding(23, 8000))
    assert expected_key(span, [CROSSING], look, "s") == expected_key(span, [CROSSING, Cue(20.0, 21.0, ("x",))],
                                                                     look, "s")
    assert expected_key(span, [CROSSING], look, "s") != expected_key(span, [], look, "s")


def test_spans_of_a_vertex_plan_follow_each_other_and_know_their_segments_start() -> None:
    plan = plan_video(9, VERTEX)  # 5 + 4 blocks: 36 s + 29 s
    spans = spans_of_plan(plan.to_doc())
    assert [s.block for s in spans] == list(range(9))
    assert spans[0].start == 0 and spans[-1].end == plan.total_seconds == 65
    assert all(a.end == b.start for a, b in zip(spans, spans[1:]))
    second = plan.segments[1].first_block
    assert (spans[second].start, spans[second].offset, spans[second].seconds) == (36, 36, 8)
    assert all(s.offset == 0 for s in spans[:second])


def _result(block: int, start: float, end: float, freezes: tuple) -> PictureResult:
    return PictureResult(block, start, end, 1080, 1920, 24.0, int((end - start) * 24), (), freezes)


def test_a_freeze_running_into_a_join_and_one_starting_there_count_as_one() -> None:
    results = [_result(0, 0, 8, ((6.0, 8.0),)), _result(1, 8, 15, ((8.0, 8.7), (12.0, 12.6)))]
    assert merged_freezes(results) == [(6.0, 8.7), (12.0, 12.6)]
    assert PictureResult.from_doc(results[1].to_doc()) == results[1]
