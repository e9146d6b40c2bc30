"""What the chaos suites share: short jobs, waiting for them, the monitor's ticks and the honest counts.

A job here is a make_job script (1–2 Veo blocks) under the quick_social preset with its duration
window shrunk to fit, so a whole job (Veo, assembly, QA) takes well under a minute on an idle stack.
"""
from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import replace
from typing import Any

import requests

from infra.local.cloud import agent_ports
from shared.core import lease, status
from shared.core.clients import Clients
from shared.core.config import GEMINI_API
from shared.core.messages import VideoRequest
from shared.core.pubsub import publish
from shared.pricing.presets import PRESETS
from tests.chaos import report
from tests.chaos.report import SuiteResult
from tests.support import make_job

MONITOR_AFTER_SECONDS = 30.0
RECOVERY_SETTINGS = {
    "STUCK_AFTER_SECONDS": str(MONITOR_AFTER_SECONDS),  # a lost message is re-published after this
    "MONITOR_BACKOFF_SECONDS": "5,10,20",
    "LEASE_GRACE_SECONDS": "3",
    "VIDEO_LEASE_MARGIN_SECONDS": "10",  # the video lease: INVOCATION_BUDGET_SECONDS (20) + 10
    # The assembler has no heartbeat: its lease must outlast an assembly (up to ~60 s measured with 6 at
    # once; the samples run 1-3 at a time). An assembler killed mid-job is taken over after it.
    "ASSEMBLY_LEASE_SECONDS": str(report.scale(60, 120)),
    "VEO_ORPHAN_SECONDS": "90",  # longer than the simulator's render queue gets here
}
SHORT_PRESET = replace(PRESETS["quick_social"], min_seconds=5, max_seconds=20)
HAPPY_PATH = ("script_ready", "video_generating", "video_generated", "assembling", "assembled", "qa_passed",
              "completed")
TERMINAL = frozenset({"completed", "failed", "cancelled"})
# Step name -> the statuses that open and close it in a job's history.
STEPS = {"queued": ("script_ready", "video_generating"), "veo": ("video_generating", "video_generated"),
         "assembly": ("assembling", "assembled"), "qa": ("assembled", "completed"),
         "total": ("script_ready", "completed")}


def set_agent_env(cloud: Any, settings: dict[str, str | None], agents: list[str] | None = None) -> None:
    """Give agents these settings (None removes one) and restart them so they read them."""
    for name, value in settings.items():
        if value is None:
            cloud.extra_env.pop(name, None)
        else:
            cloud.extra_env[name] = value
    cloud.restart_agents(agents or list(agent_ports(cloud.ports)))


def short_job(clients: Clients, blocks: int, monitor_after_seconds: float) -> str:
    """A `script_ready` job of `blocks` Veo blocks; the monitor takes it over if its first message is lost."""
    return make_job(clients, blocks, preset=SHORT_PRESET.name, preset_spec=SHORT_PRESET.to_doc(),
                    veo_model=SHORT_PRESET.veo_model(GEMINI_API),
                    next_attempt_at=lease.after(monitor_after_seconds))


def request_video(clients: Clients, video_id: str) -> None:
    """Publish a job's video request, as the front door does."""
    publish(clients.publisher, clients.settings, VideoRequest(video_id=video_id))


def start_job(clients: Clients, blocks: int, monitor_after_seconds: float) -> str:
    """A short job whose video request is published."""
    video_id = short_job(clients, blocks, monitor_after_seconds)
    request_video(clients, video_id)
    return video_id


def read_all(clients: Clients, video_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The status documents of `video_ids` (those that exist)."""
    docs = {video_id: status.read(clients.db, video_id) for video_id in video_ids}
    return {video_id: doc for video_id, doc in docs.items() if doc}


def wait_terminal(clients: Clients, video_ids: list[str], timeout: float) -> dict[str, dict[str, Any]]:
    """Every job's document once all are terminal, or as they are when `timeout` runs out."""
    docs: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + timeout
    while True:
        open_ids = [v for v in video_ids if (docs.get(v) or {}).get("status") not in TERMINAL]
        docs.update(read_all(clients, open_ids))
        if all(docs.get(v, {}).get("status") in TERMINAL for v in video_ids) or time.monotonic() > deadline:
            return docs
        time.sleep(1.0)


class MonitorTicker:
    """Runs the monitor every `every` seconds over HTTP, as Cloud Scheduler does, until stopped."""

    def __init__(self, monitor_url: str, every: float) -> None:
        self.url, self.every = monitor_url, every
        self.passes: Counter[str] = Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="monitor-ticker", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                body = requests.post(self.url, timeout=60).json()
            except (requests.RequestException, ValueError):
                self.passes["unanswered"] += 1  # the monitor is being killed or restarted
                continue
            self.passes.update({k: body.get(k, 0) for k in ("republished", "failed", "remediated")})
            self.passes["runs"] += 1

    @contextlib.contextmanager
    def running(self) -> Iterator[MonitorTicker]:
        self._thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            self._thread.join(timeout=90)


# -- billing ---------------------------------------------------------------------------------------
def _job_of(entry: dict[str, Any], video_ids: Iterable[str]) -> str | None:
    scene = entry.get("scene") or ""
    return next((v for v in video_ids if v in scene), None)


def billed_calls(ledger: list[dict[str, Any]], video_ids: Iterable[str]) -> Counter[tuple[str, int]]:
    """Accepted Veo calls that produced (or may still produce) a video, per (video id, block).

    A safety-filtered call is not counted: one rephrased retry after it is the designed behaviour.
    """
    ids = list(video_ids)
    calls: Counter[tuple[str, int]] = Counter()
    for entry in ledger:
        video_id = _job_of(entry, ids)
        if video_id and entry.get("outcome") != "filtered":
            calls[(video_id, int(entry.get("block") or 0))] += 1
    return calls


def duplicate_veo_calls(ledger: list[dict[str, Any]], video_ids: Iterable[str]) -> int:
    """Calls beyond the first for any block of any job: each one would be billed twice."""
    return sum(n - 1 for n in billed_calls(ledger, video_ids).values() if n > 1)


def billed_seconds_by_job(ledger: list[dict[str, Any]], video_ids: Iterable[str]) -> Counter[str]:
    """Seconds the simulator billed per job."""
    ids = list(video_ids)
    seconds: Counter[str] = Counter()
    for entry in ledger:
        video_id = _job_of(entry, ids)
        if video_id:
            seconds[video_id] += int(entry.get("seconds_billed") or 0)
    return seconds


def billing_mismatches(ledger: list[dict[str, Any]], docs: dict[str, dict[str, Any]]) -> dict[str, tuple[int, int]]:
    """Jobs whose recorded Veo seconds differ from what the simulator billed: {id: (billed, recorded)}."""
    billed = billed_seconds_by_job(ledger, docs)
    recorded = {v: int((d.get("usage") or {}).get("veo_seconds", 0)) for v, d in docs.items()}
    return {v: (billed[v], recorded[v]) for v in docs if billed[v] != recorded[v]}


# -- outcomes --------------------------------------------------------------------------------------
def has_reason(doc: dict[str, Any]) -> bool:
    """A failed job that says why (a code and a message)."""
    error = doc.get("error") or {}
    return doc.get("status") == "failed" and bool(error.get("code")) and bool(error.get("message"))


def suite_result(suite: str, trials: int, video_ids: list[str], docs: dict[str, dict[str, Any]],
                 duplicates: int, **extra: Any) -> SuiteResult:
    """The row of a suite: lost = neither completed nor failed with a reason within the bound."""
    completed = sum(1 for v in video_ids if docs.get(v, {}).get("status") == "completed")
    failed = sum(1 for v in video_ids if has_reason(docs.get(v, {})))
    return SuiteResult(suite=suite, trials=trials, jobs=len(video_ids), completed=completed,
                       failed_with_reason=failed, lost=len(video_ids) - completed - failed,
                       duplicate_veo_calls=duplicates, extra=extra)


def unexpected_outcomes(docs: dict[str, dict[str, Any]], expected: dict[str, str]) -> dict[str, Any]:
    """Jobs whose end differs from `expected` (video id -> "completed" or a failure code)."""
    wrong = {}
    for video_id, want in expected.items():
        doc = docs.get(video_id) or {}
        got = "completed" if doc.get("status") == "completed" else (doc.get("error") or {}).get("code")
        if got != want:
            wrong[video_id] = {"expected": want, "status": doc.get("status"), "error": doc.get("error")}
    return wrong


def history_problems(doc: dict[str, Any]) -> list[str]:
    """What is wrong with a completed job's status history: each happy-path status once, in order, in time."""
    history = doc.get("history") or []
    problems = []
    if [h["status"] for h in history] != list(HAPPY_PATH):
        problems.append(f"history {[h['status'] for h in history]}")
    times = [h["at"] for h in history]
    if times != sorted(times):
        problems.append("history timestamps go backwards")
    if doc.get("completed_blocks") != doc.get("total_blocks"):
        problems.append(f"completed_blocks {doc.get('completed_blocks')} of {doc.get('total_blocks')}")
    return problems


# -- timings ---------------------------------------------------------------------------------------
def step_seconds(doc: dict[str, Any]) -> dict[str, float]:
    """Each step's duration in a job's history (the first time each status was entered)."""
    first: dict[str, Any] = {}
    for entry in doc.get("history") or []:
        first.setdefault(entry["status"], entry["at"])
    return {step: (first[end] - first[start]).total_seconds()
            for step, (start, end) in STEPS.items() if start in first and end in first}


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile of `values` (share in 0..1)."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * share // 1))
    return ordered[int(rank) - 1]


def step_percentiles(docs: Iterable[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """p50 and p95 of each step over the completed jobs, in seconds."""
    by_step: dict[str, list[float]] = {}
    for doc in docs:
        if doc.get("status") == "completed":
            for step, seconds in step_seconds(doc).items():
                by_step.setdefault(step, []).append(seconds)
    return {step: {"p50": round(percentile(v, 0.5), 1), "p95": round(percentile(v, 0.95), 1)}
            for step, v in by_step.items()}
