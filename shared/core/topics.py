"""Pub/Sub topics, subscriptions and function entry points.

The one source of truth for names shared by the agents, the local cloud and deploy-veo31.sh
(`python -m shared.core.topics` prints them for the shell script).
"""
from __future__ import annotations

from dataclasses import dataclass

VIDEO_REQUESTS = "video-requests"
ASSEMBLY_REQUESTS = "assembly-requests"
QA_REQUESTS = "qa-requests"
DEAD_LETTER = "pipeline-dead-letter"
DEAD_LETTER_SUBSCRIPTION = "pipeline-dead-letter-sub"  # pull: agent-monitor records what lands there

MAX_DELIVERY_ATTEMPTS = 5


@dataclass(frozen=True)
class EventRoute:
    """A topic delivered by a push subscription to one event-triggered agent."""

    topic: str
    subscription: str
    agent: str
    entry_point: str


@dataclass(frozen=True)
class HttpAgent:
    """An HTTP-triggered agent."""

    agent: str
    entry_point: str


EVENT_ROUTES: tuple[EventRoute, ...] = (
    EventRoute(VIDEO_REQUESTS, "video-requests-sub", "agent-video-veo31", "video_event"),
    EventRoute(ASSEMBLY_REQUESTS, "assembly-requests-sub", "agent-assembler", "assemble_event"),
    EventRoute(QA_REQUESTS, "qa-requests-sub", "agent-qa", "qa_event"),
)

HTTP_AGENTS: tuple[HttpAgent, ...] = (
    HttpAgent("agent-script", "script_http"),
    HttpAgent("agent-monitor", "monitor_http"),
)

ALL_TOPICS: tuple[str, ...] = tuple(r.topic for r in EVENT_ROUTES) + (DEAD_LETTER,)


def route_for_topic(topic: str) -> EventRoute:
    """The event route that consumes `topic`."""
    for route in EVENT_ROUTES:
        if route.topic == topic:
            return route
    raise KeyError(topic)
