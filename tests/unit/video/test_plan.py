"""The video plan: chain lengths per API mode, balanced segments, and totals consistent with billing."""
import pytest

from shared.core.config import GEMINI_API, VERTEX
from shared.video.plan import (
    EXTENSION_SECONDS,
    FIRST_CLIP_SECONDS,
    LIMITS,
    VideoPlan,
    block_range,
    chain_seconds,
    max_blocks_per_chain,
    plan_video,
    segment_sizes,
    single_chain,
    video_seconds,
)


def test_chain_limits_per_mode():
    assert max_blocks_per_chain(LIMITS[GEMINI_API]) == 20  # 8 + 19 x 7 = 141 s: input 134 s < 141, total <= 148
    assert max_blocks_per_chain(LIMITS[VERTEX]) == 5  # 8 + 4 x 7 = 36 s <= 37


@pytest.mark.parametrize("mode", [GEMINI_API, VERTEX])
@pytest.mark.parametrize("blocks", range(1, 25))
def test_every_segment_fits_its_mode_and_blocks_are_contiguous(mode, blocks):
    plan = plan_video(blocks, mode)
    limits = LIMITS[mode]
    assert [b.index for b in plan.blocks] == list(range(blocks))
    for segment in plan.segments:
        size = segment.last_block - segment.first_block + 1
        assert segment.seconds == chain_seconds(size) <= limits.max_total_seconds
        assert chain_seconds(size - 1) < limits.max_input_seconds  # the last extension's input
        members = [b for b in plan.blocks if b.segment == segment.index]
        assert [b.seconds for b in members] == [FIRST_CLIP_SECONDS] + [EXTENSION_SECONDS] * (size - 1)
    sizes = [s.last_block - s.first_block + 1 for s in plan.segments]
    assert max(sizes) - min(sizes) <= 1, "segments are balanced"
    starts = [b.start for b in plan.blocks]
    assert starts == sorted(starts) and starts[0] == 0
    assert plan.total_seconds == sum(b.seconds for b in plan.blocks) == plan.blocks[-1].start + plan.blocks[-1].seconds


def test_gemini_api_plans_one_chain_for_the_60_to_90_s_window():
    low, high = block_range(60, 90, GEMINI_API)
    assert (low, high) == (9, 12)
    for blocks in range(low, high + 1):
        plan = plan_video(blocks, GEMINI_API)
        assert len(plan.segments) == 1 and plan.total_seconds == 8 + 7 * (blocks - 1)


def test_vertex_splits_a_nine_block_script_into_two_segments():
    plan = plan_video(9, VERTEX)
    assert [(s.first_block, s.last_block, s.seconds) for s in plan.segments] == [(0, 4, 36), (5, 8, 29)]
    assert plan.total_seconds == 65 == video_seconds(9, VERTEX) == 64 + (FIRST_CLIP_SECONDS - EXTENSION_SECONDS)
    assert plan.blocks[5].extension is False and plan.blocks[6].extension is True
    assert plan.to_doc()["segments"][1] == {"index": 1, "first_block": 5, "last_block": 8, "seconds": 29}


def test_a_90_s_vertex_job_needs_three_segments():
    blocks = block_range(60, 90, VERTEX)[1]
    plan = plan_video(blocks, VERTEX)
    assert len(plan.segments) == 3 and 60 <= plan.total_seconds <= 90


def test_segment_sizes_are_balanced_and_bounded():
    assert segment_sizes(9, 5) == [5, 4]
    assert segment_sizes(12, 5) == [4, 4, 4]
    assert segment_sizes(5, 5) == [5]


def test_vertex_block_range_counts_the_8_s_start_of_every_segment():
    low, high = block_range(60, 90, VERTEX)
    assert video_seconds(low, VERTEX) >= 60 > video_seconds(low - 1, VERTEX)
    assert video_seconds(high, VERTEX) <= 90 < video_seconds(high + 1, VERTEX)
    assert video_seconds(6, VERTEX) == 44 != video_seconds(6, GEMINI_API) == 43, "one more second per segment start"


def test_windows_of_a_three_segment_vertex_plan_follow_each_segment_start():
    plan = plan_video(12, VERTEX)
    assert [(s.first_block, s.last_block) for s in plan.segments] == [(0, 3), (4, 7), (8, 11)]
    windows = plan.windows()
    # each segment opens with an 8 s clip: blocks 4 and 8 are 8 s long, the others 7 s
    assert [round(e - s) for s, e in windows] == [8, 7, 7, 7, 8, 7, 7, 7, 8, 7, 7, 7]
    assert windows[4] == (29.0, 37.0) and windows[8] == (58.0, 66.0) and windows[-1][1] == plan.total_seconds == 87
    assert [w[0] for w in windows[1:]] == [w[1] for w in windows[:-1]], "contiguous"


def test_a_stored_plan_comes_back_from_the_document():
    for mode, blocks in ((VERTEX, 12), (VERTEX, 9), (GEMINI_API, 10)):
        plan = plan_video(blocks, mode)
        assert VideoPlan.from_doc(plan.to_doc()) == plan


def test_single_chain_is_8_s_then_7_s_per_block():
    assert single_chain(10).windows()[:3] == [(0.0, 8.0), (8.0, 15.0), (15.0, 22.0)]
    assert single_chain(10).total_seconds == 71 and single_chain(0).windows() == []


LITE_G, LITE_V = "veo-3.1-lite-generate-preview", "veo-3.1-lite-generate-001"


def test_lite_on_the_gemini_api_gets_one_block_chains_of_8_s():
    """Contract V3: Veo 3.1 Lite cannot extend on the Gemini API: every block is an 8 s image-to-video clip."""
    plan = plan_video(4, GEMINI_API, LITE_G)
    assert plan.sizes() == [1, 1, 1, 1] and plan.total_seconds == 32 and plan.model == LITE_G
    assert not any(b.extension for b in plan.blocks) and all(plan.starts_segment(i) for i in range(4))
    assert [round(e - s) for s, e in plan.windows()] == [8, 8, 8, 8]
    assert VideoPlan.from_doc(plan.to_doc()) == plan


def test_lite_on_vertex_extends_like_the_other_models():
    assert plan_video(4, VERTEX, LITE_V).sizes() == [4] and video_seconds(4, VERTEX, LITE_V) == 29
    assert plan_video(4, VERTEX, LITE_G).sizes() == [4], "the Gemini API id is read as its Vertex AI twin"


def test_quick_social_window_in_each_mode_follows_the_model():
    assert block_range(29, 50, GEMINI_API, LITE_G) == (4, 6)  # 32, 40, 48 s
    assert block_range(29, 50, VERTEX, LITE_V) == (4, 6)  # 29, 36 (one chain), 44 s (two segments)
    assert block_range(29, 50, GEMINI_API) == (4, 7), "the standard model extends: 29 … 50 s"


def test_a_split_opens_a_segment_and_replans_the_rest():
    plan = plan_video(12, GEMINI_API)  # one chain
    split = plan.split_at(5)
    assert split.sizes() == [5, 7] and split.blocks[5].seconds == 8 and split.starts_segment(5)
    assert split.total_seconds == plan.total_seconds + 1, "the new segment starts with an 8 s clip"
    assert split.windows()[:5] == plan.windows()[:5], "blocks already made keep their windows"
    assert plan.split_at(0) is plan and split.split_at(5) is split
    assert plan_video(9, VERTEX).split_at(2).sizes() == [2, 4, 3]
    assert VideoPlan.from_doc(split.to_doc()) == split
