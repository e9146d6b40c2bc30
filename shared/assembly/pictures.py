"""The picture checks measured on each block's segment as it is encoded (shared.assembly.segments), kept for
QA, which reads them instead of decoding the delivered picture again. No media tools here: QA imports it."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

OUT_FPS = 24  # the delivered frame rate
Span = tuple[float, float]


@dataclass(frozen=True)
class PictureResult:
    """The picture checks QA needs, measured on one segment (times in the final video's timeline)."""

    block: int
    start: float
    end: float
    width: int
    height: int
    fps: float
    frames: int
    black: tuple[Span, ...]
    freezes: tuple[Span, ...]

    def to_doc(self) -> dict[str, Any]:
        return {**asdict(self), "black": [list(s) for s in self.black], "freezes": [list(s) for s in self.freezes]}

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> PictureResult:
        return cls(block=int(doc["block"]), start=float(doc["start"]), end=float(doc["end"]),
                   width=int(doc["width"]), height=int(doc["height"]), fps=float(doc["fps"]),
                   frames=int(doc["frames"]), black=tuple((float(a), float(b)) for a, b in doc["black"]),
                   freezes=tuple((float(a), float(b)) for a, b in doc["freezes"]))


def merged_freezes(results: Sequence[PictureResult], fps: float = OUT_FPS) -> list[Span]:
    """Frozen stretches of the whole video: a freeze running into a join and one starting there are one."""
    spans: list[list[float]] = []
    for start, end in sorted(s for r in results for s in r.freezes):
        if spans and start <= spans[-1][1] + 1.5 / fps:
            spans[-1][1] = max(spans[-1][1], end)
        else:
            spans.append([start, end])
    return [(a, b) for a, b in spans]
