"""What the chaos suites share: short jobs, waiting for them, the monitor's ticks and the honest counts.

A job here is a make_job script (1–2 Veo blocks) under the quick_social preset with its duration
window shrunk to fit, so a whole job (Veo, assembly, QA) takes well under a minute on an idle stack.

The counts come from evidence the code under test does not write:
- HTTP answers the harness itself sees (`Exchange`): every push delivery, relayed by `PushRelay` between the
  Pub/Sub emulator and the agents; every monitor call of `MonitorTicker`; every delivery a suite POSTs itself.
  A 5xx counts in `http_5xx` unless a fault the suite injected explains it (`InjectedFault`: the request
  overlapped the outage or kill, give or take SETTLE_SECONDS, on an agent and job the fault hit);
- a job is lost unless it completed or failed with a code and a message; a failure by which the monitor gave
  up (MONITOR_GAVE_UP) counts as lost unless the suite expected exactly that failure.
"""
from __future__ import annotations

import base64
import binascii
import contextlib
import json
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests
from google.cloud import pubsub_v1

from infra.local.cloud import agent_ports
from shared.core import lease, status
from shared.core.clients import Clients
from shared.core.config import GEMINI_API
from shared.core.messages import VideoRequest
from shared.core.pubsub import publish
from shared.core.topics import EVENT_ROUTES, EventRoute
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
    """Runs the monitor every `every` seconds over HTTP, as Cloud Scheduler does, until stopped; every answer
    (or its absence) is an Exchange in `exchanges`."""

    def __init__(self, monitor_url: str, every: float, exchanges: Exchanges | None = None) -> None:
        self.url, self.every = monitor_url, every
        self.exchanges = exchanges if exchanges is not None else Exchanges()
        self.passes: Counter[str] = Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="monitor-ticker", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            started = time.time()
            try:
                response = requests.post(self.url, timeout=60)
            except requests.RequestException:
                self.exchanges.add(Exchange("monitor", MONITOR, started, time.time(), None))
                self.passes["unanswered"] += 1  # the monitor is being killed or restarted
                continue
            self.exchanges.add(Exchange("monitor", MONITOR, started, time.time(), response.status_code))
            try:
                body = response.json() if response.status_code == 200 else None
            except ValueError:
                body = None
            if not isinstance(body, dict):
                self.passes[f"http_{response.status_code}"] += 1
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


# -- HTTP evidence ---------------------------------------------------------------------------------
MONITOR = "agent-monitor"
# Error codes by which the monitor gives up on a job (README, How it works: retries exhausted, a step
# message dead-lettered, QA still failing after the remedial re-assemblies).
MONITOR_GAVE_UP = frozenset({"retries_exhausted", "dead_lettered", "qa_failed"})
SETTLE_SECONDS = 15.0  # after an injected fault ends, requests begun this soon may still feel it
RELAY_TIMEOUT_SECONDS = 900.0  # beyond any agent's work on one delivery (the ack deadline is 600 s)
HOP_BY_HOP = frozenset({"host", "content-length", "connection", "keep-alive", "transfer-encoding", "te", "trailer",
                        "upgrade", "proxy-connection"})


@dataclass(frozen=True)
class Exchange:
    """One HTTP request the harness made or relayed, and the status that answered it (None: no answer at
    all, e.g. the agent was killed mid-request or not listening)."""

    source: str  # "push" (relayed from the emulator), "delivery" (POSTed by a suite), "monitor"
    agent: str
    started: float  # time.time()
    ended: float
    status: int | None
    video_id: str | None = None

    @property
    def kind(self) -> str:
        return "no_answer" if self.status is None else f"{self.status // 100}xx"


@dataclass(frozen=True)
class InjectedFault:
    """A fault a suite injected, and what it may explain: requests to `agents` (None: any) about `video_ids`
    (None: any job) that overlapped [started, ended + SETTLE_SECONDS]."""

    kind: str
    started: float
    ended: float
    agents: frozenset[str] | None = None
    video_ids: frozenset[str] | None = None

    def explains(self, exchange: Exchange) -> bool:
        return (exchange.started <= self.ended + SETTLE_SECONDS and exchange.ended >= self.started
                and (self.agents is None or exchange.agent in self.agents)
                and (self.video_ids is None or exchange.video_id in self.video_ids))


def unexplained_5xx(exchanges: Iterable[Exchange], faults: Iterable[InjectedFault]) -> list[Exchange]:
    """The 5xx answers no injected fault explains."""
    known = list(faults)
    return [e for e in exchanges if e.kind == "5xx" and not any(f.explains(e) for f in known)]


class Exchanges:
    """The exchanges seen so far, from several threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[Exchange] = []

    def add(self, exchange: Exchange) -> None:
        with self._lock:
            self._items.append(exchange)

    def mark(self) -> int:
        with self._lock:
            return len(self._items)

    def since(self, mark: int = 0) -> list[Exchange]:
        with self._lock:
            return list(self._items[mark:])


def video_id_of_push(body: bytes) -> str | None:
    """The job a push delivery names, read with json and base64 (not the pipeline's own decoder); None if the
    payload names none."""
    try:
        data = json.loads(base64.b64decode(json.loads(body)["message"]["data"], validate=True))
    except (ValueError, KeyError, TypeError, RecursionError, binascii.Error):
        return None
    video_id = data.get("video_id") if isinstance(data, dict) else None
    return video_id if isinstance(video_id, str) else None


def timed_delivery(exchanges: Exchanges, agent: str, video_id: str | None,
                   post: Any) -> requests.Response | None:
    """Call `post()` (a delivery the suite POSTs itself) and record its answer; None when none came."""
    started = time.time()
    try:
        response: requests.Response = post()
    except requests.RequestException:
        exchanges.add(Exchange("delivery", agent, started, time.time(), None, video_id))
        return None
    exchanges.add(Exchange("delivery", agent, started, time.time(), response.status_code, video_id))
    return response


class _QuietServer(ThreadingHTTPServer):
    """The relay's server: the emulator dropping a kept-alive connection (or giving up on a push) is normal."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class PushRelay:
    """An HTTP relay between the Pub/Sub emulator's push subscriptions and the agents: forwards each push as is
    and records the agent's answer (an Exchange) before passing it back. An agent that does not answer (killed,
    restarting) is recorded as no answer and the emulator gets a 502, so it redelivers as it would have."""

    def __init__(self, cloud: Any, exchanges: Exchanges) -> None:
        self.cloud, self.exchanges, self.project = cloud, exchanges, cloud.project
        self.targets = {route.topic: (route.agent, cloud.push_endpoint(route)) for route in EVENT_ROUTES}
        relay = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                relay.forward(self)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
                return None

        self.server = _QuietServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, name="push-relay", daemon=True)

    def endpoint(self, route: EventRoute) -> str:
        """The relay's URL for a route (the same path as the agent's own push endpoint)."""
        return f"http://127.0.0.1:{self.server.server_address[1]}/projects/{self.project}/topics/{route.topic}"

    @staticmethod
    def _body(handler: BaseHTTPRequestHandler) -> bytes:
        if "chunked" not in (handler.headers.get("Transfer-Encoding") or "").lower():
            return handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
        chunks = []
        while size := int(handler.rfile.readline().split(b";", 1)[0].strip() or b"0", 16):
            chunks.append(handler.rfile.read(size))
            handler.rfile.readline()
        while handler.rfile.readline().strip():  # trailers, up to the empty line
            pass
        return b"".join(chunks)

    def forward(self, handler: BaseHTTPRequestHandler) -> None:
        body = self._body(handler)
        topic = handler.path.rsplit("/topics/", 1)[-1].split("?", 1)[0]
        agent, url = self.targets.get(topic, ("unknown", ""))
        started, video_id = time.time(), video_id_of_push(body)
        headers = {k: v for k, v in handler.headers.items() if k.lower() not in HOP_BY_HOP}
        try:
            answer = requests.post(url, data=body, headers=headers, timeout=(5, RELAY_TIMEOUT_SECONDS))
            code, content = answer.status_code, answer.content
        except requests.RequestException:
            code, content = None, b"agent did not answer"
        self.exchanges.add(Exchange("push", agent, started, time.time(), code, video_id))
        handler.send_response(code or 502)
        handler.send_header("Content-Length", str(len(content)))
        handler.end_headers()
        handler.wfile.write(content)

    def point_subscriptions(self, endpoint: Any) -> None:
        """Make every subscription push to `endpoint(route)` (messages waiting in them stay)."""
        subscriber = pubsub_v1.SubscriberClient()
        try:
            for route in EVENT_ROUTES:
                subscriber.modify_push_config(
                    subscription=subscriber.subscription_path(self.project, route.subscription),
                    push_config=pubsub_v1.types.PushConfig(push_endpoint=endpoint(route)))
        finally:
            subscriber.close()

    def repoint(self) -> None:
        """Push through the relay again (after something re-provisioned the subscriptions)."""
        self.point_subscriptions(self.endpoint)

    @contextlib.contextmanager
    def running(self) -> Iterator[PushRelay]:
        """Relay every push while inside; `cloud.push_endpoint` answers the relay's URLs meanwhile, so a
        switch back to push mode (tests.support.Pipeline.use_push) keeps going through it."""
        direct = self.cloud.push_endpoint
        self._thread.start()
        self.cloud.push_endpoint = self.endpoint
        try:
            self.repoint()
            yield self
        finally:
            del self.cloud.push_endpoint  # the class's method again
            self.point_subscriptions(direct)
            self.server.shutdown()
            self.server.server_close()


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


def failed_as_intended(doc: dict[str, Any], expected: str | None) -> bool:
    """A failure with a reason that is not the monitor giving up, unless the suite expected that very failure."""
    if not has_reason(doc):
        return False
    code = doc["error"]["code"]
    return code not in MONITOR_GAVE_UP or code == expected


def suite_result(suite: str, trials: int, video_ids: list[str], docs: dict[str, dict[str, Any]],
                 duplicates: int, *, expected: dict[str, str] | None = None,
                 exchanges: list[Exchange] | None = None, faults: list[InjectedFault] | None = None,
                 **extra: Any) -> SuiteResult:
    """The row of a suite: lost = neither completed nor failed with a reason within the bound (a job the monitor
    gave up on is lost unless `expected` names that failure); http_5xx = the 5xx among `exchanges` that none
    of `faults` explains."""
    expected = expected or {}
    completed = sum(1 for v in video_ids if docs.get(v, {}).get("status") == "completed")
    failed = sum(1 for v in video_ids if failed_as_intended(docs.get(v, {}), expected.get(v)))
    seen = exchanges or []
    unexplained = unexplained_5xx(seen, faults or [])
    answers = Counter(e.kind for e in seen)
    if seen:
        extra = {**extra, "http_answers": dict(sorted(answers.items())),
                 "http_5xx_injected": answers["5xx"] - len(unexplained)}
    return SuiteResult(suite=suite, trials=trials, jobs=len(video_ids), completed=completed,
                       failed_with_reason=failed, lost=len(video_ids) - completed - failed,
                       duplicate_veo_calls=duplicates, http_5xx=len(unexplained), extra=extra)


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
