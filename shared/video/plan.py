"""The video plan: which block is a first clip and which an extension, grouped into Veo segments.

A Veo chain starts with an 8 s clip and grows by 7 s per extension, up to a per-API limit (data
below). When the script needs more than one chain can reach, the plan splits the blocks into
segments of balanced size: segment 2+ starts image-to-video from the last frame of the previous
segment (again 8 s) and is extended from there; the assembler joins the segments.

    blocks:   0    1    2    3    4  |  5    6    7    8
    seconds:  8    7    7    7    7  |  8    7    7    7      (Vertex AI, 9 blocks → 36 s + 29 s)

The plan depends on the job's Veo model too (shared.core.veo_models): a model that cannot extend in the
API mode (Veo 3.1 Lite on the Gemini API, contract V3) gets chains of one block each, every block an 8 s
image-to-video clip from the previous block's last frame (visual continuity; the audio restarts):

    blocks:   0 | 1 | 2 | 3
    seconds:  8 | 8 | 8 | 8                                (Lite on the Gemini API, 4 blocks → 32 s)

A running job may split a chain further (`VideoPlan.split_at`: a Gemini API video about to expire, R1–R3);
the stored plan (`to_doc`) is the one the job and the assembler follow.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.core.config import GEMINI_API, VERTEX
from shared.core.errors import ErrorCode, InvalidInputError
from shared.core.veo_models import can_extend, default_veo_model, model_for_mode

FIRST_CLIP_SECONDS = 8
EXTENSION_SECONDS = 7


@dataclass(frozen=True)
class ModeLimits:
    """How long one Veo chain may get in an API mode."""

    max_total_seconds: float  # the extended video may not be longer than this
    max_input_seconds: float  # an extension's input must be shorter than this


LIMITS: dict[str, ModeLimits] = {
    GEMINI_API: ModeLimits(max_total_seconds=148, max_input_seconds=141),
    VERTEX: ModeLimits(max_total_seconds=37, max_input_seconds=30.01),  # documented input 1–30 s
}


@dataclass(frozen=True)
class PlannedBlock:
    """One block: its segment, whether it extends the segment's chain, its length and start time."""

    index: int
    segment: int
    seconds: int
    start: int

    @property
    def extension(self) -> bool:
        return self.seconds == EXTENSION_SECONDS


@dataclass(frozen=True)
class Segment:
    """One Veo chain: blocks first..last (inclusive)."""

    index: int
    first_block: int
    last_block: int
    seconds: int


@dataclass(frozen=True)
class VideoPlan:
    """Blocks and segments of a job's Veo video."""

    mode: str
    blocks: tuple[PlannedBlock, ...]
    segments: tuple[Segment, ...]
    model: str | None = None  # the Veo model planned for (None: a plan stored before plans named it)

    @property
    def total_seconds(self) -> int:
        return sum(s.seconds for s in self.segments)

    def sizes(self) -> list[int]:
        """Blocks per segment, in order."""
        return [s.last_block - s.first_block + 1 for s in self.segments]

    def starts_segment(self, index: int) -> bool:
        """Whether block `index` opens a segment (a new clip, not an extension)."""
        return self.segments[self.blocks[index].segment].first_block == index

    def split_at(self, index: int) -> VideoPlan:
        """This plan with block `index` opening a new segment (8 s from the previous block's last frame) and
        the blocks after it planned again by the mode and model's rules; itself when `index` already opens one."""
        if index <= 0 or self.starts_segment(index):
            return self
        segment = self.segments[self.blocks[index].segment]
        kept = [*self.sizes()[:segment.index], index - segment.first_block]
        rest = len(self.blocks) - index
        model = self.model or default_veo_model(self.mode)
        return _plan_of_sizes(self.mode, kept + segment_sizes(rest, blocks_per_chain(self.mode, model)), self.model)

    def windows(self) -> list[tuple[float, float]]:
        """Every block's seconds [start, end) in the joined video (segments follow one another)."""
        return [(float(b.start), float(b.start + b.seconds)) for b in self.blocks]

    def to_doc(self) -> dict[str, Any]:
        """The plan as stored on the status document."""
        return {"mode": self.mode, "model": self.model, "total_seconds": self.total_seconds,
                "segments": [{"index": s.index, "first_block": s.first_block, "last_block": s.last_block,
                              "seconds": s.seconds} for s in self.segments]}

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> VideoPlan:
        """The plan stored on a status document (`to_doc`)."""
        sizes = [int(s["last_block"]) - int(s["first_block"]) + 1 for s in doc.get("segments") or []]
        return _plan_of_sizes(str(doc.get("mode") or GEMINI_API), sizes, doc.get("model"))


def chain_seconds(blocks: int) -> int:
    """Length of one chain of `blocks` blocks: 8 s, then +7 s per extension."""
    return FIRST_CLIP_SECONDS + EXTENSION_SECONDS * (blocks - 1) if blocks else 0


def max_blocks_per_chain(limits: ModeLimits) -> int:
    """The most blocks one chain can hold within the mode's limits."""
    blocks = 1
    while (chain_seconds(blocks + 1) <= limits.max_total_seconds
           and chain_seconds(blocks) < limits.max_input_seconds):
        blocks += 1
    return blocks


def segment_sizes(blocks: int, per_chain: int) -> list[int]:
    """Balanced segment sizes (largest first) for `blocks` blocks, each at most `per_chain`."""
    count = -(-blocks // per_chain)
    base, extra = divmod(blocks, count)
    return [base + 1 if i < extra else base for i in range(count)]


def blocks_per_chain(mode: str, model: str) -> int:
    """The most blocks one chain of `model` holds in API mode `mode`: 1 when the model cannot extend there."""
    if not can_extend(model, mode):
        return 1
    return max_blocks_per_chain(LIMITS[mode])


def plan_video(blocks: int, mode: str, model: str | None = None) -> VideoPlan:
    """The plan of a `blocks`-block script made by Veo model `model` (default: the mode's standard model)
    in API mode `mode`."""
    if blocks < 1:
        raise InvalidInputError("a video needs at least one block", code=ErrorCode.INVALID_PLAN)
    if mode not in LIMITS:
        raise InvalidInputError(f"unknown API mode {mode!r}", code=ErrorCode.INVALID_PLAN)
    model = model_for_mode(model, mode) if model else default_veo_model(mode)
    return _plan_of_sizes(mode, segment_sizes(blocks, blocks_per_chain(mode, model)), model)


def single_chain(blocks: int) -> VideoPlan:
    """One chain of `blocks` blocks whatever the limits: the plan of a video made before plans were stored."""
    return _plan_of_sizes(GEMINI_API, [blocks] if blocks > 0 else [])


def _plan_of_sizes(mode: str, sizes: list[int], model: str | None = None) -> VideoPlan:
    planned: list[PlannedBlock] = []
    segments: list[Segment] = []
    start = 0
    for seg_index, size in enumerate(sizes):
        first = len(planned)
        for position in range(size):
            seconds = EXTENSION_SECONDS if position else FIRST_CLIP_SECONDS
            planned.append(PlannedBlock(first + position, seg_index, seconds, start))
            start += seconds
        segments.append(Segment(seg_index, first, first + size - 1, chain_seconds(size)))
    return VideoPlan(mode, tuple(planned), tuple(segments), model)


def video_seconds(blocks: int, mode: str, model: str | None = None) -> int:
    """Length of the video a `blocks`-block script gets from `model` in API mode `mode`."""
    return plan_video(blocks, mode, model).total_seconds


MAX_BLOCKS = 40  # far beyond any preset's window; bounds the searches below


def block_range(min_seconds: int, max_seconds: int, mode: str, model: str | None = None) -> tuple[int, int]:
    """The smallest and largest block counts whose video length lies in [min_seconds, max_seconds]."""
    fitting = [n for n in range(1, MAX_BLOCKS + 1) if min_seconds <= video_seconds(n, mode, model) <= max_seconds]
    if not fitting:
        raise InvalidInputError(f"no block count gives {min_seconds}-{max_seconds} s",
                                code=ErrorCode.INVALID_DURATION)
    return fitting[0], fitting[-1]


def blocks_for(min_seconds: int, max_seconds: int, mode: str, target_seconds: int | None = None,
               model: str | None = None) -> int:
    """Block count of a video in a length window: the shortest, or the one whose length is nearest the target."""
    low, high = block_range(min_seconds, max_seconds, mode, model)
    if target_seconds is None:
        return low
    return min(range(low, high + 1), key=lambda n: (abs(video_seconds(n, mode, model) - target_seconds), n))


def script_windows(script: dict[str, Any]) -> list[tuple[float, float]]:
    """The blocks' windows from the plan the script document carries, else one Veo chain of its blocks."""
    blocks = len(script.get("blocks") or [])
    stored = VideoPlan.from_doc(script["plan"]) if script.get("plan") else single_chain(blocks)
    return stored.windows()
