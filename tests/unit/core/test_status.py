"""The state machine's table: legal paths, terminal states, no way backwards."""
import pytest

from shared.core import status
from shared.core.status import ORDER, TERMINAL, TRANSITIONS, Status, can_transition, is_past


def test_every_status_has_a_row():
    assert set(TRANSITIONS) == set(Status)


def test_happy_path_is_legal_step_by_step():
    for current, target in zip(ORDER, ORDER[1:]):
        assert can_transition(current, target), (current, target)


@pytest.mark.parametrize("current", [s for s in Status if s not in TERMINAL])
def test_every_non_terminal_status_can_fail(current):
    assert can_transition(current, Status.FAILED)


@pytest.mark.parametrize("terminal", sorted(TERMINAL))
def test_terminal_statuses_go_nowhere(terminal):
    assert not any(can_transition(terminal, s) for s in Status)


def test_no_transition_goes_backwards_on_the_happy_path():
    for i, current in enumerate(ORDER):
        for earlier in ORDER[: i + 1]:
            assert not can_transition(current, earlier), (current, earlier)


def test_qa_failure_may_only_reassemble_or_fail():
    assert TRANSITIONS[Status.QA_FAILED] == {Status.ASSEMBLING, Status.FAILED}


def test_completed_requires_qa():
    sources = {s for s, targets in TRANSITIONS.items() if Status.COMPLETED in targets}
    assert sources == {Status.QA_PASSED}


def test_is_past():
    assert is_past(Status.ASSEMBLED, Status.VIDEO_GENERATING)
    assert not is_past(Status.VIDEO_GENERATING, Status.VIDEO_GENERATING)
    assert is_past(Status.FAILED, Status.SCRIPT_READY)


def test_review_statuses_join_the_state_machine_without_changing_the_old_paths():
    assert status.can_transition(Status.AWAITING_APPROVAL, Status.SCRIPT_READY)
    assert status.can_transition(Status.AWAITING_APPROVAL, Status.CANCELLED)
    assert not status.can_transition(Status.SCRIPT_READY, Status.CANCELLED)
    assert not status.can_transition(Status.AWAITING_APPROVAL, Status.VIDEO_GENERATING)
    assert Status.CANCELLED in status.TERMINAL and Status.AWAITING_APPROVAL not in status.TERMINAL
    assert status.TRANSITIONS[Status.SCRIPT_READY] == frozenset({Status.VIDEO_GENERATING, Status.FAILED})
