"""In-process tier: each agent's function served by functions-framework inside the test process
(`functions_framework.create_app(target, source).test_client()`), against the emulators and the simulator
of the session's local cloud, with the settings the agents of that cloud get.

No HTTP hop to an agent process and no Pub/Sub push in between: a failure shows the agent's own traceback,
and each test takes seconds. Tests here use `pull_mode`, so what an agent publishes waits for the test.
"""
from __future__ import annotations

import base64
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import flask
import functions_framework
import pytest
from cloudevents.conversion import to_structured
from cloudevents.http import CloudEvent
from werkzeug.test import TestResponse

from shared.core.clients import default_clients
from shared.core.messages import PUBSUB_EVENT_TYPE
from shared.core.topics import route_for_topic

ROOT = Path(__file__).resolve().parents[2]


def load_app(agent: str, target: str) -> flask.Flask:
    """The functions-framework app of `agent`'s `target`, loaded from <agent>/main.py as the framework does.

    The framework appends the agent's folder to sys.path and registers its module as `main`; both are put
    back, so agents loaded one after the other do not see each other's module.
    """
    saved_path, saved_main = list(sys.path), sys.modules.get("main")
    try:
        return functions_framework.create_app(target=target, source=str(ROOT / agent / "main.py"))
    finally:
        sys.path[:] = saved_path
        if saved_main is None:
            sys.modules.pop("main", None)
        else:
            sys.modules["main"] = saved_main


def pubsub_event(project: str, topic: str, data: bytes) -> tuple[dict[str, str], bytes]:
    """Headers and body of the structured CloudEvent Eventarc delivers for a message published on `topic`."""
    route = route_for_topic(topic)
    event = CloudEvent(
        {"type": PUBSUB_EVENT_TYPE, "source": f"//pubsub.googleapis.com/projects/{project}/topics/{topic}"},
        {"subscription": f"projects/{project}/subscriptions/{route.subscription}",
         "message": {"data": base64.b64encode(data).decode(), "attributes": {}, "messageId": uuid.uuid4().hex,
                     "publishTime": "2026-11-23T00:00:00Z"}})
    return to_structured(event)


class Agent:
    """One agent's function in the test process: HTTP requests through Flask's test client, or CloudEvents."""

    def __init__(self, app: flask.Flask, project: str) -> None:
        self.app = app
        self.project = project

    def request(self, method: str, path: str, **kwargs: object) -> TestResponse:
        return self.app.test_client().open(path, method=method, **kwargs)

    def deliver(self, topic: str, data: bytes) -> TestResponse:
        """POST the CloudEvent of a message published on `topic` (raw message bytes)."""
        headers, body = pubsub_event(self.project, topic, data)
        return self.app.test_client().post("/", headers=headers, data=body)


@pytest.fixture(scope="session")
def agent(clients) -> Callable[[str, str], Agent]:  # type: ignore[no-untyped-def]
    """`agent(name, target)`: the agent's function in this process (each app loaded once per session)."""
    loaded: dict[tuple[str, str], Agent] = {}

    def get(name: str, target: str) -> Agent:
        if (name, target) not in loaded:
            loaded[(name, target)] = Agent(load_app(name, target), clients.settings.project)
        return loaded[(name, target)]

    return get


@pytest.fixture(autouse=True)
def fresh_agent_clients(local_cloud) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """The agents' process-wide clients (default_clients) are built from this test's environment, which
    holds the session cloud's endpoints and settings, and are not kept for tests of other tiers."""
    default_clients.cache_clear()
    yield
    default_clients.cache_clear()
