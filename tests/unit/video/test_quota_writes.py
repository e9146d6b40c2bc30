"""The Veo quota's retries (tenacity): compare-and-set writes re-decide after a lost race, WRITE_ATTEMPTS times
at most; a caller waits for a slot within POLL_SECONDS pauses until granted or max_wait passes (QuotaWait)."""
from __future__ import annotations

import datetime as dt
import time
from types import SimpleNamespace
from typing import Any

import pytest
from google.api_core import exceptions as gexc

from shared.core.errors import QuotaWait
from shared.video import quota
from shared.video.quota import Decision


class FakeQuotaDoc:
    """The quota document with Firestore's precondition: an update must name the update time it read.

    `races` writers (or `race_error`s) get in before each of our first writes."""

    def __init__(self, state: dict[str, Any] | None = None, races: int = 0,
                 race_error: type[Exception] = gexc.FailedPrecondition) -> None:
        self.state, self.version, self.races, self.race_error = state, 0, races, race_error
        self.writes = 0

    # the client, collection and document reference in one
    def collection(self, name: str) -> FakeQuotaDoc:
        return self

    def document(self, doc_id: str) -> FakeQuotaDoc:
        return self

    def write_option(self, last_update_time: int) -> int:
        return last_update_time

    def get(self) -> Any:
        return SimpleNamespace(exists=self.state is not None, update_time=self.version, reference=self,
                               to_dict=lambda state=self.state: dict(state) if state is not None else None)

    def _race(self) -> None:
        if self.races:
            self.races -= 1
            self.version += 1
            raise self.race_error("another writer came first")

    def update(self, state: dict[str, Any], option: int) -> None:
        self._race()
        if option != self.version:
            raise gexc.FailedPrecondition("stale")
        self.state, self.version, self.writes = state, self.version + 1, self.writes + 1

    def create(self, state: dict[str, Any]) -> None:
        self._race()
        if self.state is not None:
            raise gexc.AlreadyExists("exists")
        self.state, self.version, self.writes = state, self.version + 1, self.writes + 1


class Counting:
    """A rule that counts its calls and writes one more grant each time."""

    def __init__(self, granted: bool = True) -> None:
        self.calls = 0
        self.granted = granted

    def __call__(self, state: dict[str, Any], now: dt.datetime) -> Decision:
        self.calls += 1
        return Decision(self.granted, {**state, "n": state.get("n", 0) + 1}, True)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """A fake monotonic clock that sleeping advances; the sleeps taken."""
    now, slept = [1000.0], []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    monkeypatch.setattr(time, "sleep", sleep)
    return slept


@pytest.mark.parametrize("races", [0, 1, 5])
def test_a_lost_race_reads_and_decides_again(clock, races):
    doc, rule = FakeQuotaDoc({"n": 0}, races=races), Counting()
    decision = quota._apply(doc, rule)
    assert decision.granted and rule.calls == races + 1 and doc.writes == 1
    assert doc.state == {"n": 1}, "decided on the state it read last"
    assert len(clock) == races and all(0 <= pause <= 0.02 for pause in clock)


@pytest.mark.parametrize("race_error", [gexc.FailedPrecondition, gexc.Aborted, gexc.AlreadyExists])
def test_every_kind_of_lost_race_is_retried(clock, race_error):
    doc, rule = FakeQuotaDoc(None, races=2, race_error=race_error), Counting()
    assert quota._apply(doc, rule).granted and rule.calls == 3


def test_after_write_attempts_lost_races_it_looks_again_later(clock, capsys):
    doc, rule = FakeQuotaDoc({"n": 0}, races=1000), Counting()
    decision = quota._apply(doc, rule)
    assert rule.calls == quota.WRITE_ATTEMPTS and doc.writes == 0
    assert decision == Decision(False, {}, False, quota.POLL_SECONDS[0])
    assert "too many concurrent writers" in capsys.readouterr().out


def test_other_errors_are_not_retried(clock):
    doc, rule = FakeQuotaDoc({"n": 0}, races=3, race_error=gexc.ServiceUnavailable), Counting()
    with pytest.raises(gexc.ServiceUnavailable):
        quota._apply(doc, rule)
    assert rule.calls == 1


def test_an_unchanged_decision_is_not_written(clock):
    doc = FakeQuotaDoc({"n": 0}, races=3)
    decision = quota._apply(doc, lambda state, now: Decision(False, state, False, 0.5))
    assert not decision.granted and doc.writes == 0 and clock == []


def test_waiting_looks_again_until_granted_within_poll_bounds(clock):
    answers = [Decision(False, {}, False, 0.01), Decision(False, {}, False, 30.0), Decision(True, {}, False)]
    looks: list[int] = []

    def rule(state: dict[str, Any], now: dt.datetime) -> Decision:
        looks.append(1)
        return answers[len(looks) - 1]

    quota._wait(FakeQuotaDoc({}), rule, max_wait=60, what="slot")
    assert len(looks) == 3
    low, high = quota.POLL_SECONDS
    assert low * 0.8 <= clock[0] <= low * 1.2, "at least the lower bound"
    assert high * 0.8 <= clock[1] <= high * 1.2, "at most the upper bound"


def test_waiting_gives_up_with_quota_wait_after_max_wait(clock):
    with pytest.raises(QuotaWait, match="no Veo slot free within 5 s"):
        quota._wait(FakeQuotaDoc({}), lambda state, now: Decision(False, state, False, 1.0), max_wait=5, what="slot")
    assert 5 - 1e-9 <= sum(clock) <= 5 + 0.2, "no pause runs past the deadline by more than its jitter"
    assert all(pause <= 1.0 * 1.2 for pause in clock)


def test_a_zero_wait_looks_once(clock):
    looks: list[int] = []

    def rule(state: dict[str, Any], now: dt.datetime) -> Decision:
        looks.append(1)
        return Decision(False, state, False, 1.0)

    with pytest.raises(QuotaWait):
        quota._wait(FakeQuotaDoc({}), rule, max_wait=0, what="slot")
    assert looks == [1] and clock == []
