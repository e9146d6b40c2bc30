"""Chaos suites (issue 6) on the session's local cloud: crash, duplicates, faults, load (and bad input).

The default `pytest tests` runs a small sample of each; `make chaos` (CHAOS_FULL=1) the full sizes.
Each suite records one row (tests.chaos.report); this session's table is printed at the end.

While the suites run, the agents get harness.RECOVERY_SETTINGS: production's leases and monitor
backoff (1/3/10 min) would make every recovery wait minutes. The session's settings and push mode
are back for the tests that follow. Pushes go through a recording relay (`push_relay`) meanwhile, so the
suites count the agents' HTTP answers from what they see, not from what the agents record.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.chaos import report
from tests.chaos.harness import RECOVERY_SETTINGS, Exchanges, PushRelay, set_agent_env
from tests.chaos.run import summary


def pytest_configure(config: pytest.Config) -> None:
    """Each session starts a fresh results file (so its table shows only its own rows)."""
    report.results_path().unlink(missing_ok=True)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """The chaos table of this session, with each suite's extra figures."""
    rows = report.load()
    if rows:
        terminalreporter.write_sep("=", "chaos suites" + (" (full)" if report.full_run() else " (sample)"))
        terminalreporter.write_line(summary(rows))


@pytest.fixture(scope="package")
def push_relay(local_cloud) -> Iterator[PushRelay]:  # type: ignore[no-untyped-def]
    """Every push of the package's suites goes through a recording relay (tests.chaos.harness.PushRelay): the
    suites count the agents' answers themselves. The subscriptions push to the agents directly afterwards."""
    with PushRelay(local_cloud, Exchanges()).running() as relay:
        yield relay


@pytest.fixture(scope="package")
def chaos_stack(local_cloud, pipeline, simulator, push_relay) -> Iterator[Any]:  # type: ignore[no-untyped-def]
    """The session's cloud with short recovery settings, push mode (through the relay) and no faults;
    restored afterwards."""
    saved = {name: local_cloud.extra_env.get(name) for name in RECOVERY_SETTINGS}
    set_agent_env(local_cloud, dict(RECOVERY_SETTINGS))
    pipeline.use_push()
    simulator.clear_faults()
    try:
        yield local_cloud
    finally:
        simulator.clear_faults()
        set_agent_env(local_cloud, saved)
        pipeline.use_push()
