"""Publishing step messages."""
from __future__ import annotations

from google.api_core import exceptions as gexc
from google.cloud import pubsub_v1

from shared.core import log
from shared.core.config import Settings
from shared.core.errors import TransientError
from shared.core.messages import AssemblyRequest, BlockReady, QaRequest, StepMessage, VideoRequest, encode
from shared.core.topics import ASSEMBLY_REQUESTS, QA_REQUESTS, VIDEO_REQUESTS

TOPIC_OF: dict[type, str] = {
    VideoRequest: VIDEO_REQUESTS,
    AssemblyRequest: ASSEMBLY_REQUESTS,
    BlockReady: ASSEMBLY_REQUESTS,
    QaRequest: QA_REQUESTS,
}
PUBLISH_TIMEOUT_SECONDS = 30.0


def publish(publisher: pubsub_v1.PublisherClient, settings: Settings, message: StepMessage) -> str:
    """Publish a step message to its topic; returns the message id. Failures are transient."""
    topic = settings.topic_prefix + TOPIC_OF[type(message)]
    project = settings.project
    path = publisher.topic_path(project, topic)
    try:
        message_id = publisher.publish(path, encode(message), kind=message.kind,
                                       video_id=message.video_id).result(timeout=PUBLISH_TIMEOUT_SECONDS)
    except (gexc.GoogleAPICallError, TimeoutError) as exc:
        raise TransientError(f"publishing to {topic} failed: {exc}") from exc
    log.info("published", topic=topic, message_kind=message.kind, origin=message.origin,
             video_id=message.video_id, message_id=message_id)
    return message_id
