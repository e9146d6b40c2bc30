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
"""
from __future__ import annotations

import os
import random
import signal
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pytest

from shared.core.config import VERTEX
from tests.chaos import report
from tests.chaos.harness import (
    MONITOR_AFTER_SECONDS,
    MonitorTicker,
    billing_mismatches,
    duplicate_veo_calls,
    read_all,
    request_video,
    set_agent_env,
    short_job,
    suite_result,
    unexpected_outcomes,
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
            simulator.set_faults([{"kind": "400", "match": f"Scene: {scene_of(video_id, blocks - 1)}"}])
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
    cloud.kill_agent(agent, signal.SIGKILL)
    run.kills[agent] += 1
    time.sleep(run.rng.uniform(0.0, 1.5))
    cloud.start_agent(agent)


def test_jobs_survive_agents_killed_at_random_points(local_cloud, clients, simulator, vertex_video_agent):
    trials, in_flight = report.scale(2, 50), report.scale(2, 4)
    run = CrashRun(random.Random(int(os.environ.get("CHAOS_SEED", "6"))))
    simulator.clear_ledger()
    started = time.monotonic()
    with MonitorTicker(local_cloud.url_of("agent-monitor"), every=3.0).running() as monitor:
        for _ in range(trials):
            _trial(run, local_cloud, clients, simulator, in_flight)
        docs = wait_terminal(clients, run.video_ids, timeout=report.scale(300, 600))
    ledger = simulator.ledger()
    duplicates = duplicate_veo_calls(ledger, run.video_ids)
    result = suite_result("crash", trials, run.video_ids, docs, duplicates, kills=dict(run.kills),
                          steps_hit=len(run.hits), monitor=dict(monitor.passes),
                          minutes=round((time.monotonic() - started) / 60, 1))
    report.record(result)
    print(f"\ncrash: {result}")
    assert unexpected_outcomes(docs, run.expected) == {}
    assert duplicates == 0
    assert billing_mismatches(ledger, docs) == {}
    assert local_cloud.is_running(), "every killed agent was started again"
