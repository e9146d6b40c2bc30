"""Crash suite: kill -9 the agents at random points of real jobs, restart them; every job still ends.

A trial is one SIGKILL. A seeded random generator (CHAOS_SEED) picks which in-flight job's current
step to hit, among the steps no kill has hit yet, and when within it; that step's agent is killed,
with whatever else it was doing. Now and then the monitor or the front door is killed instead.
Jobs flow continuously (a few in flight), some with an injected permanent Veo fault (a 400).
Recovery comes from Pub/Sub redelivery and from the monitor, run every few seconds as Cloud
Scheduler would. The video agent runs in Vertex AI mode here: there a
crash between Veo accepting a block and the operation name being stored is recoverable (the block's
own output prefix); Gemini API mode fails such a job safely instead (tests/integration/video/test_veo_faults.py).

Every job must end `completed` (or `failed` with veo_rejected when its fault was injected), the
simulator's ledger must show each block billed once, and each job's recorded seconds what was billed.
No push delivery or monitor call may be answered 5xx (the harness sees them: tests.chaos.harness.PushRelay)
unless it overlapped the kill of that agent.

A seeded test kills the assembler while it holds a job's lease: while the lease is live, redeliveries leave
the job alone; once it has expired, the monitor's re-published message takes the job over and finishes it.
"""
from __future__ import annotations

import datetime as dt
import os
import random
import signal
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pytest

from shared.core import status
from shared.core.config import VERTEX
from shared.core.messages import AssemblyRequest
from shared.core.topics import ASSEMBLY_REQUESTS
from tests.chaos import report
from tests.chaos.harness import (
    MONITOR_AFTER_SECONDS,
    RECOVERY_SETTINGS,
    InjectedFault,
    MonitorTicker,
    billing_mismatches,
    duplicate_veo_calls,
    read_all,
    request_video,
    set_agent_env,
    short_job,
    start_job,
    suite_result,
    timed_delivery,
    unexpected_outcomes,
    unexplained_5xx,
    wait_terminal,
)
from tests.support import scene_of

pytestmark = [pytest.mark.usefixtures("chaos_stack"), pytest.mark.timeout(1800)]
VIDEO_AGENT = "agent-video-veo31"
AGENT_OF_STATUS = {"script_ready": VIDEO_AGENT, "video_generating": VIDEO_AGENT,
                   "video_generated": "agent-assembler", "assembling": "agent-assembler",
                   "assembled": "agent-qa", "qa_passed": "agent-qa"}
BYSTANDERS = ("agent-monitor", "agent-script")
BYSTANDER_SHARE = 0.1
FRESH_TARGET_WAIT_SECONDS = 60.0
PERMANENT_FAULT_SHARE = 0.1


@dataclass
class CrashRun:
    """The jobs started, the kills made and what each job was expected to end as."""

    rng: random.Random
    expected: dict[str, str] = field(default_factory=dict)
    kills: Counter[str] = field(default_factory=Counter)
    hits: Counter[tuple[str, str]] = field(default_factory=Counter)  # (video id, status) -> kills
    faults: list[InjectedFault] = field(default_factory=list)  # each kill, from SIGKILL until serving again

    @property
    def video_ids(self) -> list[str]:
        return list(self.expected)


@pytest.fixture(scope="module")
def vertex_video_agent(local_cloud):  # type: ignore[no-untyped-def]
    """The video agent in Vertex AI mode for this module (the other agents do not call Veo)."""
    saved = local_cloud.extra_env.get("GENAI_MODE")
    set_agent_env(local_cloud, {"GENAI_MODE": VERTEX}, [VIDEO_AGENT])
    yield
    set_agent_env(local_cloud, {"GENAI_MODE": saved}, [VIDEO_AGENT])


def _top_up(run: CrashRun, clients, simulator, in_flight: int, docs: dict[str, dict[str, Any]]) -> None:
    """Start jobs until `in_flight` are unfinished; about one in ten gets a permanent Veo fault."""
    unfinished = [v for v in run.video_ids if docs.get(v, {}).get("status") not in ("completed", "failed")]
    for _ in range(in_flight - len(unfinished)):
        blocks = run.rng.choice((1, 2))
        faulty = run.rng.random() < PERMANENT_FAULT_SHARE
        video_id = short_job(clients, blocks, MONITOR_AFTER_SECONDS)
        if faulty:
            # A rejected prompt is rejected every time (a kill between Veo's 400 and its recording leaves the block
            # claimed, and the resubmission must meet the same refusal, as it would at Google).
            simulator.set_faults([{"kind": "400", "match": f"Scene: {scene_of(video_id, blocks - 1)}", "times": 100}])
        request_video(clients, video_id)
        run.expected[video_id] = "veo_rejected" if faulty else "completed"


def _fresh_targets(run: CrashRun, docs: dict[str, dict[str, Any]]) -> list[tuple[str, str]]:
    """(job, status) pairs of in-flight jobs in a step that no kill has hit yet."""
    return [(v, d["status"]) for v, d in docs.items()
            if d.get("status") in AGENT_OF_STATUS and not run.hits[(v, d["status"])]]


def _pick_target(run: CrashRun, clients) -> str:
    """The agent to kill: the one working on a fresh step of an in-flight job (now and then a bystander)."""
    if run.rng.random() < BYSTANDER_SHARE:
        return run.rng.choice(BYSTANDERS)
    deadline = time.monotonic() + FRESH_TARGET_WAIT_SECONDS
    while not (fresh := _fresh_targets(run, read_all(clients, run.video_ids))) and time.monotonic() < deadline:
        time.sleep(0.5)
    if not fresh:
        return run.rng.choice(BYSTANDERS)
    target = run.rng.choice(fresh)
    run.hits[target] += 1
    return AGENT_OF_STATUS[target[1]]


def _trial(run: CrashRun, cloud, clients, simulator, in_flight: int) -> None:
    _top_up(run, clients, simulator, in_flight, read_all(clients, run.video_ids))
    agent = _pick_target(run, clients)
    time.sleep(run.rng.uniform(0.0, 3.0))  # somewhere in the step
    killed = time.time()
    cloud.kill_agent(agent, signal.SIGKILL)
    run.kills[agent] += 1
    time.sleep(run.rng.uniform(0.0, 1.5))
    cloud.start_agent(agent)
    run.faults.append(InjectedFault(f"kill {agent}", killed, time.time(), agents=frozenset({agent})))


def test_jobs_survive_agents_killed_at_random_points(local_cloud, clients, simulator, vertex_video_agent,
                                                     push_relay):
    trials, in_flight = report.scale(2, 50), report.scale(2, 4)
    run = CrashRun(random.Random(int(os.environ.get("CHAOS_SEED", "6"))))
    simulator.clear_ledger()
    started, seen = time.monotonic(), push_relay.exchanges.mark()
    with MonitorTicker(local_cloud.url_of("agent-monitor"), 3.0, push_relay.exchanges).running() as monitor:
        for _ in range(trials):
            _trial(run, local_cloud, clients, simulator, in_flight)
        docs = wait_terminal(clients, run.video_ids, timeout=report.scale(300, 600))
    ledger = simulator.ledger()
    duplicates = duplicate_veo_calls(ledger, run.video_ids)
    exchanges = push_relay.exchanges.since(seen)
    result = suite_result("crash", trials, run.video_ids, docs, duplicates, expected=run.expected,
                          exchanges=exchanges, faults=run.faults, kills=dict(run.kills),
                          steps_hit=len(run.hits), monitor=dict(monitor.passes),
                          minutes=round((time.monotonic() - started) / 60, 1))
    report.record(result)
    print(f"\ncrash: {result}")
    assert unexpected_outcomes(docs, run.expected) == {}
    assert result.lost == 0, {v: docs.get(v, {}).get("error") for v in run.video_ids}
    assert sum(e.source == "push" for e in exchanges) >= len(run.video_ids), "the relay saw the pushes"
    assert unexplained_5xx(exchanges, run.faults) == []
    assert duplicates == 0
    assert billing_mismatches(ledger, docs) == {}
    assert local_cloud.is_running(), "every killed agent was started again"


# -- the assembler's lease: a dead holder's live lease is left alone, an expired one taken over ----------
ASSEMBLER = "agent-assembler"
LEASE_SECONDS = float(RECOVERY_SETTINGS["ASSEMBLY_LEASE_SECONDS"])
GRACE_SECONDS = float(RECOVERY_SETTINGS["LEASE_GRACE_SECONDS"])


def _lease_of(doc: dict[str, Any]) -> tuple[str | None, dt.datetime | None]:
    held = doc.get("lease") or {}
    return held.get("owner"), held.get("until")


def _wait_assembling(clients, video_id: str, timeout: float = 300.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        doc = status.read(clients.db, video_id) or {}
        if doc.get("status") == "assembling" and _lease_of(doc)[0]:
            return doc
        assert doc.get("status") in ("script_ready", "video_generating", "video_generated"), doc.get("status")
        time.sleep(0.1)
    raise AssertionError(f"{video_id} never reached assembling")


def test_a_killed_assemblers_live_lease_is_left_alone_and_its_expired_lease_taken_over(
        local_cloud, clients, simulator, pipeline, push_relay):
    rng = random.Random(int(os.environ.get("CHAOS_SEED", "6")))
    seen = push_relay.exchanges.mark()
    simulator.clear_ledger()
    with MonitorTicker(local_cloud.url_of("agent-monitor"), 3.0, push_relay.exchanges).running():
        video_id = start_job(clients, 1, MONITOR_AFTER_SECONDS)
        held = _wait_assembling(clients, video_id)
        time.sleep(rng.uniform(0.0, 0.5))  # a seeded moment early in the assembly
        killed = time.time()
        local_cloud.kill_agent(ASSEMBLER, signal.SIGKILL)
        local_cloud.start_agent(ASSEMBLER)
        restarted = time.time()
        dead_owner, until = _lease_of(status.read(clients.db, video_id) or {})
        assert dead_owner == _lease_of(held)[0] and until is not None, "the killed assembler held the lease"
        expires = until.timestamp()
        assert expires - time.time() > 10, "the lease outlives the kill by far (ASSEMBLY_LEASE_SECONDS)"

        # While the lease is live: redeliveries (ours, seeded in number and time; the emulator's retry of the
        # killed push; whatever the monitor does) are answered without a 5xx and leave job, lease and history be.
        copies = rng.randint(1, 3)
        live_answers = []
        for _ in range(copies):
            time.sleep(rng.uniform(0.0, 2.0))
            response = timed_delivery(push_relay.exchanges, ASSEMBLER, video_id,
                                      lambda: pipeline.deliver(ASSEMBLY_REQUESTS, AssemblyRequest(video_id=video_id)))
            live_answers.append(None if response is None else response.status_code)
        owners_while_live = set()
        while time.time() < expires - 1.0:
            doc = status.read(clients.db, video_id) or {}
            owners_while_live.add(_lease_of(doc)[0])
            assert doc.get("status") == "assembling", ("taken over before the lease expired", doc.get("status"))
            time.sleep(0.5)
        assert owners_while_live == {dead_owner}
        assert [h["status"] for h in doc["history"]] == [h["status"] for h in held["history"]]

        # Once expired (+ grace), the monitor re-publishes the step and a new invocation takes the lease over.
        owners_after: list[str | None] = []
        deadline = time.monotonic() + LEASE_SECONDS + 240
        while time.monotonic() < deadline:
            doc = status.read(clients.db, video_id) or {}
            owners_after.append(_lease_of(doc)[0])
            if doc.get("status") in ("completed", "failed"):
                break
            time.sleep(0.2)
    assembled_at = next((h["at"].timestamp() for h in doc["history"] if h["status"] == "assembled"), None)
    exchanges = push_relay.exchanges.since(seen)
    kill = InjectedFault("kill assembler", killed, restarted, agents=frozenset({ASSEMBLER}))
    print(f"\nlease: killed owner {dead_owner[:8]}, lease until +{expires - killed:.0f} s, {copies} live "
          f"redeliveries answered {live_answers}, owners after expiry {sorted({o or '-' for o in owners_after})}, "
          f"answers {dict(Counter((e.source, e.agent, e.kind) for e in exchanges))}")
    assert doc.get("status") == "completed", doc.get("error")
    assert assembled_at is not None and assembled_at >= expires, "assembled only after the lease expired"
    assert any(o not in (None, dead_owner) for o in owners_after), "a new invocation held the lease"
    assert (doc.get("monitor") or {}).get("attempts", 0) >= 1, "the monitor re-published the stalled step"
    assert all(code is not None and code < 300 for code in live_answers), live_answers
    assert unexplained_5xx(exchanges, [kill]) == []
    assert duplicate_veo_calls(simulator.ledger(), [video_id]) == 0
