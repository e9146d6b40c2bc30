"""Load suite: many short jobs at once on the local stack, run by Pub/Sub pushes.

Every job must complete with a consistent status document (each status once, in order; every block
done; the Veo seconds recorded equal the seconds billed, so no concurrent update was lost) and no
Veo block may be billed twice, and no push delivery may be answered 5xx (nothing is injected here; the
harness relays and counts the pushes, tests.chaos.harness.PushRelay). The suite reports throughput (jobs/min)
and p50/p95 of each step from the status documents' history; they are figures to read, not assertions
(timing depends on the machine).
"""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.chaos import report
from tests.chaos.harness import (
    MONITOR_AFTER_SECONDS,
    billing_mismatches,
    duplicate_veo_calls,
    history_problems,
    start_job,
    step_percentiles,
    suite_result,
    unexplained_5xx,
    wait_terminal,
)

pytestmark = [pytest.mark.usefixtures("chaos_stack"), pytest.mark.timeout(2400)]
BLOCKS = 1  # short jobs: one 8 s Veo block each


def _throughput(docs: dict) -> float:
    """Completed jobs per minute, from the first job created to the last one completed."""
    done = [d for d in docs.values() if d.get("status") == "completed"]
    if not done:
        return 0.0
    start = min(d["created_at"] for d in docs.values())
    end = max(d["history"][-1]["at"] for d in done)
    return round(len(done) / max((end - start).total_seconds() / 60, 1e-9), 2)


def test_concurrent_short_jobs_all_complete_consistently(clients, simulator, push_relay):
    count = report.scale(3, 30)
    simulator.clear_ledger()
    seen = push_relay.exchanges.mark()
    with ThreadPoolExecutor(max_workers=8) as pool:
        video_ids = list(pool.map(lambda _: start_job(clients, BLOCKS, MONITOR_AFTER_SECONDS), range(count)))
    started = time.monotonic()
    docs = wait_terminal(clients, video_ids, timeout=report.scale(420, 1500))
    ledger = simulator.ledger()
    duplicates = duplicate_veo_calls(ledger, video_ids)
    steps = step_percentiles(docs.values())
    exchanges = push_relay.exchanges.since(seen)
    result = suite_result("load", count, video_ids, docs, duplicates, exchanges=exchanges,
                          jobs_per_min=_throughput(docs), seconds_p50_p95=steps,
                          wall_seconds=round(time.monotonic() - started))
    report.record(result)
    print(f"\nload: {count} jobs, {result.extra['jobs_per_min']} jobs/min; per step p50/p95 s: {steps}")
    assert {v: d["status"] for v, d in docs.items() if d["status"] != "completed"} == {}
    assert {v: p for v, d in docs.items() if (p := history_problems(d))} == {}
    assert sum(e.source == "push" for e in exchanges) >= 3 * count, "video, assembly and QA pushes were seen"
    assert unexplained_5xx(exchanges, []) == []
    assert duplicates == 0
    assert billing_mismatches(ledger, docs) == {}
