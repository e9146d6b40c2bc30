"""The Veo block state machine: every state a block of the chain can be in, and every legal move.

    new ──claim──▶ submitting ──accepted──▶ running ──▶ done | filtered | failed
                    │  ▲   │                     │
                    │  │   │                     └──▶ abandoned  (still running at VEO_OPERATION_DEADLINE_SECONDS)
                    │  │   └─ released (Veo refused, or the request never left; nothing billed) → back to what it was
                    │  └───── resubmitted (orphaned claim past its timeout; Vertex output prefix empty)
                    └──────── adopted (Vertex: the orphan's output was found) → done | filtered | failed
    filtered ──retry──▶ submitting     audio block: the same prompt, at most VEO_AUDIO_RETRIES times;
                                       then (or for any other safety block) one rephrase; a further block fails the job
    abandoned ──retry──▶ submitting    attempt n+1, at most MAX_DEADLINE_RESUBMISSIONS (shared.video.chain) times
    done, failed: final

Only `done` is billed (contract B6, B7): filtered, failed and abandoned attempts are recorded on the block
(`past_attempts`) and counted in the ledger as not billed.

`new` is a block with no entry on the job document yet. Transitions are applied by
shared.video.step inside the job's Firestore transaction, which also checks the block is still the
one this invocation read (so a concurrent invocation's change is never overwritten).
"""
from __future__ import annotations

from enum import StrEnum
from typing import Any

from shared.core.errors import Conflict


class BlockState(StrEnum):
    NEW = "new"
    SUBMITTING = "submitting"
    RUNNING = "running"
    DONE = "done"
    FILTERED = "filtered"
    FAILED = "failed"
    ABANDONED = "abandoned"


B = BlockState
RESULTS = frozenset({B.DONE, B.FILTERED, B.FAILED})
BLOCK_TRANSITIONS: dict[BlockState, frozenset[BlockState]] = {
    B.NEW: frozenset({B.SUBMITTING}),
    # running (accepted), back to new, filtered or abandoned (released), itself (resubmitted), a result (adopted)
    B.SUBMITTING: frozenset({B.RUNNING, B.NEW, B.FILTERED, B.ABANDONED, B.SUBMITTING} | RESULTS),
    B.RUNNING: RESULTS | {B.ABANDONED},
    B.FILTERED: frozenset({B.SUBMITTING}),
    B.ABANDONED: frozenset({B.SUBMITTING}),
    B.DONE: frozenset(),
    B.FAILED: frozenset(),
}
FINAL: frozenset[BlockState] = frozenset(s for s, nxt in BLOCK_TRANSITIONS.items() if not nxt)


class IllegalBlockTransition(Conflict):
    """A block move the state machine forbids (a bug, or a stale invocation acting on an old read)."""

    def __init__(self, index: int, current: BlockState, target: BlockState) -> None:
        super().__init__(f"block {index}: cannot go from {current} to {target}")
        self.current, self.target = current, target


def state_of(block: dict[str, Any] | None) -> BlockState:
    """The state of a block entry on the job document (`new` when there is none)."""
    return BlockState(block["state"]) if block else BlockState.NEW


def check_block_transition(index: int, current: dict[str, Any] | None, new: dict[str, Any] | None) -> None:
    """Raise IllegalBlockTransition unless moving block `index` from `current` to `new` is legal."""
    source, target = state_of(current), state_of(new)
    if target not in BLOCK_TRANSITIONS[source]:
        raise IllegalBlockTransition(index, source, target)
