"""The Veo block state machine: the table, and the moves the video step makes."""
import pytest

from shared.core.errors import Conflict
from shared.video.blocks import (
    BLOCK_TRANSITIONS,
    FINAL,
    BlockState,
    IllegalBlockTransition,
    check_block_transition,
    state_of,
)

B = BlockState


def test_every_state_has_a_row_and_only_done_and_failed_are_final():
    assert set(BLOCK_TRANSITIONS) == set(BlockState)
    assert FINAL == {B.DONE, B.FAILED}


@pytest.mark.parametrize("source,target", [
    (None, "submitting"),                 # claim
    ("submitting", "running"),            # Veo accepted, operation stored
    ("submitting", None),                 # released: Veo refused, nothing billed
    ("submitting", "filtered"),           # a released rephrase goes back to the filtered block
    ("submitting", "submitting"),         # an orphaned claim resubmitted as attempt n+1
    ("submitting", "done"),               # Vertex: the orphan's output adopted
    ("running", "done"), ("running", "filtered"), ("running", "failed"),
    ("filtered", "submitting"),           # the one rephrase, or an audio block's plain retry
    ("running", "abandoned"),             # still running at VEO_OPERATION_DEADLINE_SECONDS
    ("abandoned", "submitting"),          # attempt n+1 after the deadline
    ("submitting", "abandoned"),          # that resubmission released (Veo refused it)
])
def test_the_moves_the_video_step_makes_are_legal(source, target):
    check_block_transition(3, {"state": source} if source else None, {"state": target} if target else None)


@pytest.mark.parametrize("source,target", [
    (None, "running"), (None, "done"),    # no result without a claim: a block is never billed unclaimed
    ("running", "submitting"),            # a running operation is never submitted again (Veo bills per second)
    ("done", "submitting"), ("done", "filtered"), ("failed", "submitting"),
    ("filtered", "done"), ("running", None),
    ("abandoned", "done"), (None, "abandoned"),  # an abandoned attempt never becomes a result
])
def test_moves_that_would_pay_twice_or_lose_a_result_are_refused(source, target):
    with pytest.raises(IllegalBlockTransition) as err:
        check_block_transition(3, {"state": source} if source else None, {"state": target} if target else None)
    assert isinstance(err.value, Conflict) and "block 3" in err.value.message


def test_a_missing_entry_is_new_and_an_unknown_state_is_refused():
    assert state_of(None) is B.NEW and state_of({}) is B.NEW
    with pytest.raises(ValueError):
        state_of({"state": "dancing"})
