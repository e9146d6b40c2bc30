"""The project-wide Veo quota on the Firestore emulator: threads contending for it never exceed its rate or
concurrency, a crashed holder's slot frees itself, the queue serves the highest preset first; and a burst
of jobs through the real video agent stays under the simulator's request quota (0 × 429) while it queues.
"""
from __future__ import annotations

import concurrent.futures
import dataclasses
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from shared.core import status
from shared.core.messages import decode
from shared.core.topics import VIDEO_REQUESTS, route_for_topic
from shared.video import quota as veo_quota
from shared.video.quota import Limits, Waiter
from tests.support import make_job, scene_of

pytestmark = [pytest.mark.timeout(300)]
AGENT = "agent-video-veo31"


@pytest.fixture(autouse=True)
def empty_quota(clients):
    veo_quota.quota_ref(clients.db).delete()
    yield
    veo_quota.quota_ref(clients.db).delete()


def _queued(db) -> dict[str, Any]:
    snap = veo_quota.quota_ref(db).get()
    return (snap.to_dict() or {}).get("waiters") or {}


def _wait_until(condition: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def test_contending_threads_never_exceed_the_rate_or_the_concurrency(clients):
    limits = Limits(per_window=4, max_concurrent=2, window_seconds=2.0)
    lock, holding, peak, granted_at = threading.Lock(), [0], [0], []

    def work(n: int) -> None:
        slot = veo_quota.acquire(clients.db, Waiter(f"thread-{n}", n % 3), limits, max_wait=120)
        with lock:
            granted_at.append(time.monotonic())
            holding[0] += 1
            peak[0] = max(peak[0], holding[0])
        time.sleep(0.2)
        with lock:
            holding[0] -= 1
        veo_quota.release(clients.db, slot)

    with concurrent.futures.ThreadPoolExecutor(12) as pool:
        list(pool.map(work, range(12)))
    granted_at.sort()
    assert len(granted_at) == 12 and peak[0] == 2
    # any per_window + 1 consecutive grants span at least the window (less the time a grant takes to return)
    spans = [granted_at[i + limits.per_window] - granted_at[i] for i in range(len(granted_at) - limits.per_window)]
    assert min(spans) >= limits.window_seconds - 0.3, spans
    assert veo_quota.usage(clients.db, limits)["slots"] == 0


def test_a_crashed_holders_slot_frees_itself_when_it_expires(clients):
    limits = Limits(per_window=100, max_concurrent=1, slot_seconds=1.5)
    veo_quota.acquire(clients.db, Waiter("crashed", 1), limits, max_wait=5)  # never released
    with pytest.raises(veo_quota.QuotaWait):
        veo_quota.acquire(clients.db, Waiter("next", 1), limits, max_wait=0.3)
    assert veo_quota.acquire(clients.db, Waiter("next", 1), limits, max_wait=10) == "next"


def test_queued_waiters_are_served_highest_preset_first_then_in_order(clients):
    limits = Limits(per_window=100, max_concurrent=1)
    first = veo_quota.acquire(clients.db, Waiter("running", 1), limits, max_wait=5)
    order: list[str] = []
    waiters = [Waiter("quick-1", veo_quota.rank_of("quick_social")),
               Waiter("quick-2", veo_quota.rank_of("quick_social")),
               Waiter("brand", veo_quota.rank_of("brand_campaign")),
               Waiter("premium", veo_quota.rank_of("premium_spot"))]

    def take_and_release(waiter: Waiter) -> None:
        slot = veo_quota.acquire(clients.db, waiter, limits, max_wait=60)
        order.append(waiter.waiter_id)
        veo_quota.release(clients.db, slot)

    with concurrent.futures.ThreadPoolExecutor(len(waiters)) as pool:
        futures = []
        for queued, waiter in enumerate(waiters, start=1):  # enqueued one after the other
            futures.append(pool.submit(take_and_release, waiter))
            _wait_until(lambda n=queued: len(_queued(clients.db)) == n)
        veo_quota.release(clients.db, first)
        for future in futures:
            future.result()
    assert order == ["premium", "brand", "quick-1", "quick-2"]


@pytest.mark.usefixtures("pull_mode")
def test_every_retry_of_a_submission_takes_a_request_token(pipeline, simulator, clients):
    from shared.core.messages import VideoRequest
    from shared.video.step import generate_video

    video_id = make_job(clients, blocks=1)
    simulator.set_faults([{"kind": "429", "match": scene_of(video_id, 0), "times": 2}])
    local = dataclasses.replace(clients, settings=dataclasses.replace(clients.settings, veo_retry_max_wait_seconds=0.2))
    try:
        outcomes = [generate_video(local, VideoRequest(video_id=video_id, attempt=n)) for n in range(3)]
    finally:
        simulator.clear_faults()
    assert "video_generated" in outcomes, outcomes
    usage = veo_quota.usage(clients.db, veo_quota.limits_from(local.settings))
    assert usage == {"window": 3, "slots": 0, "waiters": 0}, "the first call and both retries; the slot given back"


# -- a burst through the real video agent ---------------------------------------------------------------
QUOTA_ENV = {"VEO_MAX_CONCURRENT": "2", "VEO_REQUESTS_PER_MINUTE": "1", "VEO_QUOTA_WINDOW_SECONDS": "3"}
SIMULATOR_QUOTA = (1, 2.5)  # requests per window (s): the limiter's window is longer, for transit jitter


@pytest.fixture
def throttled_agent(local_cloud, simulator):
    """The video agent restarted with a tight Veo quota; the simulator enforces a matching request quota."""
    local_cloud.extra_env.update(QUOTA_ENV)
    local_cloud.restart_agent(AGENT)
    simulator.set_quota(*SIMULATOR_QUOTA)
    try:
        yield
    finally:
        simulator.set_quota(0)
        for name in QUOTA_ENV:
            local_cloud.extra_env.pop(name, None)
        local_cloud.restart_agent(AGENT)


class _Driver:
    """Pushes every video request (and continuation) to the agent concurrently, like Pub/Sub would."""

    def __init__(self, pipeline, pool: concurrent.futures.ThreadPoolExecutor) -> None:
        self.pipeline, self.pool = pipeline, pool
        self.subscription = pipeline.subscriber.subscription_path(pipeline.project,
                                                                  route_for_topic(VIDEO_REQUESTS).subscription)

    def deliver(self, message) -> None:
        def run() -> None:
            if self.pipeline.deliver(VIDEO_REQUESTS, message).status_code >= 500:
                self.deliver(message)  # Pub/Sub's redelivery

        self.pool.submit(run)

    def pump(self) -> None:
        """Deliver what the agent published since the last call."""
        response = self.pipeline.subscriber.pull(subscription=self.subscription, max_messages=50,
                                                 return_immediately=True, timeout=10)
        if response.received_messages:
            self.pipeline.subscriber.acknowledge(subscription=self.subscription,
                                                 ack_ids=[m.ack_id for m in response.received_messages])
        for received in response.received_messages:
            self.deliver(decode(received.message.data))


def _ledger_order(simulator, video_ids: list[str]) -> list[str]:
    return [v for entry in simulator.ledger() for v in video_ids if scene_of(v, 0) in (entry.get("scene") or "")]


@pytest.mark.usefixtures("pull_mode", "throttled_agent")
def test_a_burst_queues_under_the_quota_and_a_later_premium_job_goes_first(pipeline, simulator, clients):
    from shared.core.messages import VideoRequest

    simulator.clear_ledger()
    quick = [make_job(clients, blocks=1, preset="quick_social") for _ in range(4)]
    premium = make_job(clients, blocks=1, preset="premium_spot")
    jobs = [*quick, premium]
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        driver = _Driver(pipeline, pool)
        for video_id in quick:
            driver.deliver(VideoRequest(video_id=video_id))
        _wait_until(lambda: len(_queued(clients.db)) >= 2)
        driver.deliver(VideoRequest(video_id=premium))
        _wait_until(lambda: any(w.startswith(premium) for w in _queued(clients.db)))
        queued_before = {w.rsplit("-b", 1)[0] for w in _queued(clients.db)} - {premium}
        deadline = time.monotonic() + 240
        while not all(status.read(clients.db, v)["status"] in ("video_generated", "failed") for v in jobs):
            assert time.monotonic() < deadline, "the burst did not finish in time"
            driver.pump()
            time.sleep(0.2)
    docs = {v: status.read(clients.db, v) for v in jobs}
    assert all(d["status"] == "video_generated" for d in docs.values()), {v: d.get("error") for v, d in docs.items()}
    assert simulator.quota()["rejected"] == 0, "the limiter kept every call under the project's quota"
    order = _ledger_order(simulator, jobs)
    assert sorted(order) == sorted(jobs), "each block billed exactly once"
    assert queued_before, "quick_social jobs were queued when the premium job arrived"
    assert all(order.index(premium) < order.index(v) for v in queued_before), (order, queued_before)
    assert veo_quota.usage(clients.db, veo_quota.limits_from(clients.settings))["slots"] == 0


def test_a_user_called_veo_cannot_touch_the_project_wide_limiter(clients):
    """User quotas and the Veo limiter live in different collections (shared.core.layout)."""
    from shared.api import quotas

    limits = Limits(per_window=100, max_concurrent=2)
    slot = veo_quota.acquire(clients.db, Waiter("holder", 1), limits, max_wait=5)
    clients.db.collection("quotas").document("veo").delete()
    quotas.consume(clients.db, "veo", quotas.plan_named("studio"), videos=1, ai_calls=1)
    assert veo_quota.usage(clients.db, limits)["slots"] == 1, "the user's counters did not replace the slots"
    user_doc = clients.db.collection("quotas").document("veo").get().to_dict()
    assert "slots" not in user_doc and "waiters" not in user_doc
    veo_quota.release(clients.db, slot)
    assert veo_quota.usage(clients.db, limits)["slots"] == 0
