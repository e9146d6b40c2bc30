"""Publishing step messages, and parking payloads that can never be processed on the dead-letter topic."""
from __future__ import annotations

import google.cloud.pubsub_v1 as pubsub_v1
from google.api_core import exceptions as gexc

from shared.core import log
from shared.core.clients import Clients
from shared.core.config import Settings
from shared.core.errors import InvalidInputError, TransientError
from shared.core.messages import (
    AssemblyRequest,
    BlockReady,
    QaRequest,
    StepMessage,
    StoryboardRequest,
    VideoRequest,
    WebhookEvent,
    encode,
)
from shared.core.topics import (
    ASSEMBLY_REQUESTS,
    DEAD_LETTER,
    QA_REQUESTS,
    STORYBOARD_REQUESTS,
    VIDEO_REQUESTS,
    WEBHOOK_EVENTS,
)

TOPIC_OF: dict[type, str] = {
    VideoRequest: VIDEO_REQUESTS,
    AssemblyRequest: ASSEMBLY_REQUESTS,
    BlockReady: ASSEMBLY_REQUESTS,
    QaRequest: QA_REQUESTS,
    WebhookEvent: WEBHOOK_EVENTS,
    StoryboardRequest: STORYBOARD_REQUESTS,
}
PUBLISH_TIMEOUT_SECONDS = 30.0
PARKED_MAX_BYTES = 64 * 1024  # an oversized payload is parked truncated (its size is an attribute)


def publish(publisher: pubsub_v1.PublisherClient, settings: Settings, message: StepMessage) -> str:
    """Publish a step message to its topic; returns the message id. Failures are transient."""
    topic = settings.topic_prefix + TOPIC_OF[type(message)]
    project = settings.project
    path = publisher.topic_path(project, topic)
    try:
        # pubsub_v1 is untyped here (follow_imports=skip): the future's result, the message id, is Any.
        message_id: str = publisher.publish(path, encode(message), kind=message.kind,
                                            video_id=message.video_id).result(timeout=PUBLISH_TIMEOUT_SECONDS)
    except (gexc.GoogleAPICallError, TimeoutError) as exc:
        raise TransientError(f"publishing to {topic} failed: {exc}") from exc
    log.info("published", topic=topic, message_kind=message.kind, origin=message.origin,
             video_id=message.video_id, message_id=message_id)
    return message_id


def park_dead_letter(clients: Clients, data: bytes, reason: InvalidInputError, source_topic: str) -> str:
    """Send a payload that can never be processed to the dead-letter topic; its message id.

    The agent then acknowledges it, so it does not burn the subscription's delivery attempts; the monitor
    records it (shared.ops.dead_letters).
    """
    settings = clients.settings
    topic = clients.publisher.topic_path(settings.project, settings.topic_prefix + DEAD_LETTER)
    attributes = {"reason": reason.code, "detail": reason.message[:500], "source_topic": source_topic,
                  "size": str(len(data))}
    try:
        message_id: str = clients.publisher.publish(topic, data[:PARKED_MAX_BYTES], **attributes).result(
            timeout=PUBLISH_TIMEOUT_SECONDS)
    except (gexc.GoogleAPICallError, TimeoutError) as exc:
        raise TransientError(f"parking a malformed message failed: {exc}") from exc
    log.warning("malformed message parked on the dead-letter topic", reason=reason.code, size=len(data),
                source_topic=source_topic, message_id=message_id)
    return message_id
