"""Session fixtures: one real local cloud (emulators, fake-gcs, simulator, agents) per test session.

It runs on ports offset from the defaults so a developer's `make demo` stack can keep running.
Integration and in-process tests switch the pipeline's subscriptions to pull mode (`pull_mode`) and
deliver messages to one agent at a time; e2e tests switch them back to push and let the pipeline run by itself.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.core.config import LocalPorts  # the root is on sys.path: pyproject's pytest `pythonpath`

ROOT = Path(__file__).resolve().parents[1]

TEST_PORT_OFFSET = int(os.environ.get("TEST_PORT_OFFSET", "100"))
# The video agent stops every 20 s and re-publishes itself, so every job exercises resumption.
TEST_SETTINGS = {"INVOCATION_BUDGET_SECONDS": "20", "VEO_POLL_SECONDS": "0.5", "STUCK_AFTER_SECONDS": "600",
                 # Tests receive webhooks on loopback servers of their own; retries back off quickly.
                 "WEBHOOK_ALLOWED_NETWORKS": "loopback", "WEBHOOK_BACKOFF_SECONDS": "0.2"}


def _test_ports() -> LocalPorts:
    d, o = LocalPorts(), TEST_PORT_OFFSET
    return LocalPorts(d.firestore + o, d.pubsub + o, d.gcs + o, d.simulator + o, d.agents_base + o)


@pytest.fixture(scope="session")
def local_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:  # noqa: F821
    """The whole local cloud, started once; the test process's Google clients point at it."""
    from infra.local.cloud import LocalCloud

    cloud = LocalCloud(ROOT, _test_ports(), extra_env=TEST_SETTINGS,
                       state_dir=tmp_path_factory.mktemp("local-cloud"))
    saved = dict(os.environ)
    cloud.start()
    os.environ.update(cloud.env())
    try:
        yield cloud
    finally:
        cloud.stop()
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture(autouse=True)
def restore_environment() -> Iterator[None]:
    """Each test leaves os.environ as it found it.

    The snapshot is the environment at the start of the test, so it already holds what higher-scoped
    fixtures set (pytest sets up session and module fixtures, like `local_cloud`, before function ones):
    only what the test itself, or its function-scoped fixtures, changed is undone.
    """
    saved = dict(os.environ)
    yield
    for key in set(os.environ) - set(saved):
        del os.environ[key]
    for key, value in saved.items():
        if os.environ.get(key) != value:
            os.environ[key] = value


@pytest.fixture(scope="session")
def clients(local_cloud):  # type: ignore[no-untyped-def]
    """Google clients of the test process, built by the production factory against the local cloud."""
    from shared.core.clients import make_clients
    from shared.core.config import settings_from_env

    return make_clients(settings_from_env(local_cloud.env()))


@pytest.fixture(scope="session")
def simulator(local_cloud):  # type: ignore[no-untyped-def]
    """Control client of the Gemini/Veo simulator (ledger, faults)."""
    from tests.support import SimulatorControl

    return SimulatorControl(local_cloud.url_of("simulator"))


@pytest.fixture(scope="session")
def api_key(clients) -> str:  # type: ignore[no-untyped-def]
    """An API key of the session's test user (studio plan), made by the same code as the CLI command."""
    from shared.api.auth import create_api_key
    from tests.support import TEST_USER

    return create_api_key(clients.db, TEST_USER, plan="studio", label="pytest session")


@pytest.fixture(scope="session")
def pipeline(local_cloud, clients, api_key):  # type: ignore[no-untyped-def]
    """Delivery of step messages and waiting on status documents; HTTP calls as the test user."""
    from tests.support import Pipeline

    return Pipeline(local_cloud, clients, api_key)


@pytest.fixture(scope="module")
def pull_mode(pipeline):  # type: ignore[no-untyped-def]
    """Published messages wait in their subscriptions; the test delivers them itself.

    The integration and in-process tiers drive one agent at a time this way; whatever a module left
    in the subscriptions is drained at its end.
    """
    from shared.core.topics import EVENT_ROUTES

    pipeline.use_pull()
    yield
    for route in EVENT_ROUTES:
        pipeline.drain(route)
