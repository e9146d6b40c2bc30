"""Duplicates suite: every step message delivered 2–3 times, concurrently and out of order.

The subscriptions are in pull mode; the test plays Pub/Sub. Each round it takes every message the
agents published, delivers each 2–3 times at once (the copies race each other), shuffled across
jobs and steps, together with stale messages of earlier rounds (a late redelivery of a step the job
has already passed). A copy answered 5xx counts as not delivered; the message comes back next round.

Each job must end with exactly one final video: `completed` once, every status of its history once
and in order, one final object and one QA report in the bucket, and each Veo block billed once.
Nothing is injected here but duplication, so no copy may be answered 5xx: the suite counts the answers
to its own POSTs (http_5xx), not what the agents record.
"""
from __future__ import annotations

import os
import random
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from shared.core.messages import StepMessage, VideoRequest
from shared.core.topics import EVENT_ROUTES, VIDEO_REQUESTS, route_for_topic
from tests.chaos import report
from tests.chaos.harness import (
    MONITOR_AFTER_SECONDS,
    Exchanges,
    billing_mismatches,
    duplicate_veo_calls,
    history_problems,
    read_all,
    short_job,
    suite_result,
    timed_delivery,
    unexplained_5xx,
)

pytestmark = [pytest.mark.usefixtures("chaos_stack"), pytest.mark.timeout(1800)]
MAX_ROUNDS = 40
Delivery = tuple[str, StepMessage]


@pytest.fixture
def pulled(pipeline):  # type: ignore[no-untyped-def]
    pipeline.use_pull()
    yield pipeline
    pipeline.use_push()


def _published(pipeline) -> list[Delivery]:
    """Every message the agents published since the last round."""
    return [(route.topic, m) for route in EVENT_ROUTES for m in pipeline.drain(route)]


def _deliver(pipeline, exchanges: Exchanges, delivery: Delivery) -> int | None:
    """POST one copy as the emulator would; its HTTP status (None: no answer), recorded as an Exchange."""
    topic, message = delivery
    response = timed_delivery(exchanges, route_for_topic(topic).agent, message.video_id,
                              lambda: pipeline.deliver(topic, message))
    return None if response is None else response.status_code


def _round(pipeline, rng: random.Random, fresh: list[Delivery], stale: list[Delivery],
           exchanges: Exchanges) -> tuple[list[Delivery], int]:
    """Deliver each fresh message 2–3 times and some stale ones, all shuffled and concurrent.

    Returns the fresh messages no copy of which was accepted (to deliver again) and the number of POSTs.
    """
    batch = [(i, d) for i, d in enumerate(fresh) for _ in range(rng.choice((2, 3)))]
    batch += [(-1, d) for d in rng.sample(stale, k=min(len(stale), max(1, len(fresh))))]
    rng.shuffle(batch)
    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = list(pool.map(lambda item: _deliver(pipeline, exchanges, item[1]), batch))
    accepted = {i for (i, _), code in zip(batch, codes) if code is not None and code < 300}
    return [d for i, d in enumerate(fresh) if i not in accepted], len(batch)


def _object_counts(clients, video_id: str) -> dict[str, int]:
    """How many final videos and QA reports (JSON) of the job the bucket holds."""
    names = [b.name for b in clients.storage.list_blobs(clients.settings.bucket) if video_id in b.name]
    return {"final": sum(1 for n in names if n.startswith("final_videos/")),
            "qa_report": sum(1 for n in names if n.startswith("qa_reports/") and n.endswith(".json"))}


def _delivery_problems(clients, docs: dict[str, dict[str, Any]]) -> dict[str, list[str]]:
    problems = {}
    for video_id, doc in docs.items():
        found = history_problems(doc) if doc.get("status") == "completed" else [f"status {doc.get('status')}"]
        counts = _object_counts(clients, video_id)
        if counts != {"final": 1, "qa_report": 1}:
            found.append(f"objects {counts}")
        if found:
            problems[video_id] = found
    return problems


def test_each_job_delivers_one_video_despite_duplicated_reordered_messages(pulled, clients, simulator):
    rng = random.Random(int(os.environ.get("CHAOS_SEED", "6")))
    video_ids = [short_job(clients, 2, MONITOR_AFTER_SECONDS) for _ in range(report.scale(1, 6))]
    simulator.clear_ledger()
    fresh: list[Delivery] = [(VIDEO_REQUESTS, VideoRequest(video_id=v)) for v in video_ids]
    stale: list[Delivery] = []
    exchanges = Exchanges()
    posts = rounds = 0
    while fresh and rounds < MAX_ROUNDS:
        retry, sent = _round(pulled, rng, fresh, stale, exchanges)
        stale += [d for d in fresh if d not in retry]
        fresh = retry + _published(pulled)
        posts, rounds = posts + sent, rounds + 1
    docs = read_all(clients, video_ids)
    ledger = simulator.ledger()
    duplicates = duplicate_veo_calls(ledger, video_ids)
    result = suite_result("duplicates", posts, video_ids, docs, duplicates, exchanges=exchanges.since(),
                          rounds=rounds, messages=len(stale))
    report.record(result)
    print(f"\nduplicates: {result}")
    assert not fresh, f"messages still published after {rounds} rounds: {fresh}"
    assert unexplained_5xx(exchanges.since(), []) == []
    assert result.lost == 0
    assert _delivery_problems(clients, docs) == {}
    assert duplicates == 0
    assert billing_mismatches(ledger, docs) == {}
