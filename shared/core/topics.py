"""Pub/Sub topics, subscriptions and function entry points.

The one source of truth for names shared by the agents, the local cloud and deploy-veo31.sh
(`python -m shared.core.topics` prints them for the shell script).
"""
from __future__ import annotations

from dataclasses import dataclass

VIDEO_REQUESTS = "video-requests"
ASSEMBLY_REQUESTS = "assembly-requests"
QA_REQUESTS = "qa-requests"
WEBHOOK_EVENTS = "webhook-events"  # a job ended: agent-monitor's deliver_webhook calls its callback_url
STORYBOARD_REQUESTS = "storyboard-requests"  # a reviewed job's preview: agent-assembler's render_storyboard
DEAD_LETTER = "pipeline-dead-letter"
DEAD_LETTER_SUBSCRIPTION = "pipeline-dead-letter-sub"  # pull: agent-monitor records what lands there

MAX_DELIVERY_ATTEMPTS = 5


@dataclass(frozen=True)
class EventRoute:
    """A topic delivered by a push subscription to one event-triggered function.

    `agent` is the folder holding its main.py and the principal (service account) it runs as; `function`
    names the deployed function (and local process) when one agent exposes more than one entry point.
    """

    topic: str
    subscription: str
    agent: str
    entry_point: str
    function: str = ""

    @property
    def name(self) -> str:
        """The function's name (before the environment prefix): `function`, else the agent's."""
        return self.function or self.agent


@dataclass(frozen=True)
class HttpAgent:
    """An HTTP-triggered agent."""

    agent: str
    entry_point: str


EVENT_ROUTES: tuple[EventRoute, ...] = (
    EventRoute(VIDEO_REQUESTS, "video-requests-sub", "agent-video-veo31", "video_event"),
    EventRoute(ASSEMBLY_REQUESTS, "assembly-requests-sub", "agent-assembler", "assemble_event"),
    EventRoute(QA_REQUESTS, "qa-requests-sub", "agent-qa", "qa_event"),
    # Webhooks are delivered by their own function, so a slow receiver never holds a pipeline worker.
    EventRoute(WEBHOOK_EVENTS, "webhook-events-sub", "agent-monitor", "deliver_webhook", "agent-monitor-webhooks"),
    # Storyboard previews are rendered off the request path, by a function that may call Gemini's TTS (the
    # assembler itself holds no Gemini credentials).
    EventRoute(STORYBOARD_REQUESTS, "storyboard-requests-sub", "agent-assembler", "render_storyboard",
               "agent-assembler-storyboards"),
)

HTTP_AGENTS: tuple[HttpAgent, ...] = (
    HttpAgent("agent-script", "script_http"),
    HttpAgent("agent-monitor", "monitor_http"),
)

ALL_TOPICS: tuple[str, ...] = tuple(r.topic for r in EVENT_ROUTES) + (DEAD_LETTER,)


def agent_of(function: str) -> str:
    """The agent folder (and principal) of a function named by HTTP_AGENTS or EVENT_ROUTES."""
    for route in EVENT_ROUTES:
        if route.name == function:
            return route.agent
    return function


def route_for_topic(topic: str) -> EventRoute:
    """The event route that consumes `topic`."""
    for route in EVENT_ROUTES:
        if route.topic == topic:
            return route
    raise KeyError(topic)
