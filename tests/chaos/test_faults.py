"""Faults suite: Veo faults and infrastructure outages at once, on jobs run end to end by Pub/Sub pushes.

tests/integration/video/test_veo_faults.py checks each Veo fault alone, one agent at a time. Here the suite
starts one job per Veo fault (5xx, a slow operation, safety filtering once and twice, a 400, 429s;
the sample two of them), adds a 429 burst on top of every job's calls and, while they run, takes
the infrastructure away: the
storage emulator is killed and restarted (writes fail meanwhile), the Firestore emulator is frozen
(SIGSTOP: it keeps its data only in memory), and the Pub/Sub emulator is restarted, losing its topics,
subscriptions and every message in flight; the local cloud provisions them again and the monitor,
run every few seconds, must re-publish what was lost.

Each job must complete, or fail with the reason its Veo fault implies, within the retry budget. Each outage
must have overlapped a job that was still running (not terminal when it began, nor when it ended), or it
tested nothing. A 5xx answer to a push or a monitor call (seen by the harness, tests.chaos.harness) counts
unless it overlapped an outage, or came from the video agent while Veo answered the injected 429s/5xx.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from tests.chaos import report
from tests.chaos.harness import (
    MONITOR_AFTER_SECONDS,
    TERMINAL,
    InjectedFault,
    MonitorTicker,
    billing_mismatches,
    duplicate_veo_calls,
    read_all,
    request_video,
    short_job,
    suite_result,
    unexpected_outcomes,
    unexplained_5xx,
    wait_terminal,
)
from tests.support import scene_of

pytestmark = [pytest.mark.usefixtures("chaos_stack"), pytest.mark.timeout(1800)]
# name: (rule for the job's last block, blocks, expected end: "completed" or the failure code)
VEO_FAULTS: dict[str, tuple[dict[str, Any], int, str]] = {
    "5xx": ({"kind": "500", "times": 2}, 1, "completed"),
    "safety_twice": ({"kind": "safety", "times": 2}, 1, "veo_safety_filtered"),
    "slow": ({"kind": "slow", "delay_seconds": 25}, 1, "completed"),  # outlives an invocation (20 s)
    "safety_once": ({"kind": "safety"}, 2, "completed"),
    "rejected": ({"kind": "400"}, 1, "veo_rejected"),
    "429": ({"kind": "429", "times": 3}, 2, "completed"),
}
OUTAGE_SECONDS = 5.0
BURST_PER_JOB = 2  # extra 429s any job's call may get
VIDEO_AGENT = "agent-video-veo31"
TRANSIENT_VEO_FAULTS = {"500", "429", "slow"}  # the video agent may answer 5xx for a redelivery meanwhile


@dataclass
class Outage:
    """One outage: when it began and ended, and which jobs were running (not terminal) at both ends."""

    kind: str
    started: float = 0.0
    ended: float = 0.0
    running_at_start: frozenset[str] = frozenset()
    running_at_end: frozenset[str] = frozenset()

    @property
    def overlapped(self) -> frozenset[str]:
        """Jobs running throughout the outage."""
        return self.running_at_start & self.running_at_end

    def as_fault(self) -> InjectedFault:
        return InjectedFault(self.kind, self.started, self.ended)


def _start_jobs(clients, simulator, names: list[str]) -> dict[str, str]:
    """One job per named Veo fault, plus a 429 burst; video id -> expected end."""
    expected = {}
    for name in names:
        rule, blocks, outcome = VEO_FAULTS[name]
        video_id = short_job(clients, blocks, MONITOR_AFTER_SECONDS)
        simulator.set_faults([{**rule, "match": f"Scene: {scene_of(video_id, blocks - 1)}"}])
        expected[video_id] = outcome
    simulator.set_faults([{"kind": "429", "times": BURST_PER_JOB * len(names)}])
    for video_id in expected:
        request_video(clients, video_id)
    return expected


def _wait_for_any(clients, video_ids: list[str], statuses: set[str], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(d.get("status") in statuses for d in read_all(clients, video_ids).values()):
            return
        time.sleep(0.5)


def _storage_outage(cloud) -> None:
    """Kill the storage emulator (its files persist on disk) and bring it back after a while."""
    cloud.kill_agent("gcs")
    try:
        time.sleep(OUTAGE_SECONDS)
    finally:  # the tests that follow need it back even if this one is interrupted
        cloud.start_agent("gcs")


def _firestore_freeze(cloud) -> None:
    cloud.pause("firestore")
    try:
        time.sleep(OUTAGE_SECONDS)
    finally:
        cloud.resume("firestore")


def _pubsub_restart(cloud) -> None:
    """Restart the Pub/Sub emulator: topics, subscriptions and pending messages are gone; provision again."""
    cloud.kill_agent("pubsub")
    cloud.start_agent("pubsub")
    cloud.provision()


def _running(clients, video_ids: list[str]) -> frozenset[str]:
    """The jobs not terminal now (read by the harness, outside any outage of Firestore)."""
    docs = read_all(clients, video_ids)
    return frozenset(v for v in video_ids if (docs.get(v) or {}).get("status") not in TERMINAL)


def _outage(clients, video_ids: list[str], kind: str, make: Callable[[], None]) -> Outage:
    """Run one outage, noting when it began and ended and which jobs were running at both ends."""
    outage = Outage(kind, running_at_start=_running(clients, video_ids))
    outage.started = time.time()
    make()
    outage.ended = time.time()
    outage.running_at_end = _running(clients, video_ids)
    return outage


def _outages(cloud, clients, relay, video_ids: list[str]) -> list[Outage]:
    """Each outage once the jobs reach the step it hurts most; the outages made."""
    _wait_for_any(clients, video_ids, {"video_generated", "assembling"})
    made = [_outage(clients, video_ids, "gcs_down", lambda: _storage_outage(cloud)),
            _outage(clients, video_ids, "firestore_frozen", lambda: _firestore_freeze(cloud))]
    _wait_for_any(clients, video_ids, {"video_generated", "assembling", "assembled"})

    def pubsub_restart() -> None:
        _pubsub_restart(cloud)
        relay.repoint()  # provisioning pointed the subscriptions at the agents: back through the relay

    made.append(_outage(clients, video_ids, "pubsub_restarted", pubsub_restart))
    return made


def test_jobs_complete_or_fail_with_their_reason_under_faults(local_cloud, clients, simulator, push_relay):
    names = list(VEO_FAULTS) if report.full_run() else ["5xx", "safety_twice"]
    simulator.clear_ledger()
    seen, began = push_relay.exchanges.mark(), time.time()
    with MonitorTicker(local_cloud.url_of("agent-monitor"), 3.0, push_relay.exchanges).running() as monitor:
        expected = _start_jobs(clients, simulator, names)
        outages = _outages(local_cloud, clients, push_relay, list(expected))
        docs = wait_terminal(clients, list(expected), timeout=report.scale(360, 480))
    simulator.clear_faults()
    # Veo answered 429s to any job's calls all along (the burst), and 5xx/slow to the jobs named for them.
    veo = [InjectedFault("veo_429_burst", began, time.time(), agents=frozenset({VIDEO_AGENT}))]
    veo += [InjectedFault(f"veo_{name}", began, time.time(), agents=frozenset({VIDEO_AGENT}), video_ids=frozenset({v}))
            for v, name in zip(expected, names) if VEO_FAULTS[name][0]["kind"] in TRANSIENT_VEO_FAULTS]
    faults = [o.as_fault() for o in outages] + veo
    exchanges = push_relay.exchanges.since(seen)
    ledger = simulator.ledger()
    duplicates = duplicate_veo_calls(ledger, expected)
    result = suite_result("faults", len(expected) + len(outages), list(expected), docs, duplicates,
                          expected=expected, exchanges=exchanges, faults=faults, outages=len(outages),
                          outages_overlapping_jobs={o.kind: len(o.overlapped) for o in outages},
                          monitor=dict(monitor.passes))
    report.record(result)
    print(f"\nfaults: {result}")
    assert {o.kind: sorted(o.running_at_start) for o in outages if not o.overlapped} == {}, \
        "an outage that overlapped no running job tested nothing"
    assert unexpected_outcomes(docs, expected) == {}
    assert result.lost == 0
    assert sum(e.source == "push" for e in exchanges) >= len(expected), "the relay saw the pushes"
    assert unexplained_5xx(exchanges, faults) == []
    assert duplicates == 0
    assert billing_mismatches(ledger, docs) == {}
