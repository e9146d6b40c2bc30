"""Typed, versioned Pub/Sub payloads, and decoding of the CloudEvents that carry them.

Every message names the job and the step it asks for; a consumer rejects an unknown
`schema_version` or `kind` as malformed (it goes to the dead-letter topic after its delivery attempts).
"""
from __future__ import annotations

import base64
import binascii
import json
from typing import Any, Final, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from shared.core.errors import ErrorCode, InvalidInputError

SCHEMA_VERSION: Final = 1
VIDEO_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{7,63}$"
MAX_MESSAGE_BYTES = 16 * 1024
PUBSUB_EVENT_TYPE = "google.cloud.pubsub.topic.v1.messagePublished"


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal[1] = SCHEMA_VERSION
    video_id: str = Field(pattern=VIDEO_ID_PATTERN)
    # How this message came about: "new" from the previous step, "continue" from a step that ran out
    # of invocation time, "monitor" from a retry by the monitor.
    origin: Literal["new", "continue", "monitor"] = "new"
    attempt: int = Field(default=0, ge=0, le=1000)


class VideoRequest(_Message):
    """Ask agent-video-veo31 to generate (or keep polling) the Veo video of a job."""

    kind: Literal["video_request"] = "video_request"


class AssemblyRequest(_Message):
    """Ask agent-assembler to finish a job's Veo video."""

    kind: Literal["assembly_request"] = "assembly_request"


class BlockReady(_Message):
    """Tell agent-assembler that Veo block `block` is done, so it can transcribe it ahead of assembly."""

    kind: Literal["block_ready"] = "block_ready"
    block: int = Field(ge=0, le=100)


class QaRequest(_Message):
    """Ask agent-qa to check a job's delivered file."""

    kind: Literal["qa_request"] = "qa_request"


WebhookEventName = Literal["video.completed", "video.failed"]


class WebhookEvent(_Message):
    """Ask the webhook function (agent-monitor's deliver_webhook) to call a finished job's callback_url."""

    kind: Literal["webhook_event"] = "webhook_event"
    event: WebhookEventName


class StoryboardRequest(_Message):
    """Ask the storyboard step (agent-assembler's render_storyboard) for the preview of script `revision`."""

    kind: Literal["storyboard_request"] = "storyboard_request"
    revision: int = Field(ge=0, le=1000)


StepMessage = VideoRequest | AssemblyRequest | BlockReady | QaRequest | WebhookEvent | StoryboardRequest
MessageT = TypeVar("MessageT", bound=StepMessage)  # the message type(s) a consumer expects
_adapter: TypeAdapter[StepMessage] = TypeAdapter(StepMessage)


def encode(message: StepMessage) -> bytes:
    """The Pub/Sub data bytes of a message."""
    return message.model_dump_json().encode()


def decode(data: bytes) -> StepMessage:
    """Parse Pub/Sub data bytes; InvalidInputError when malformed."""
    if len(data) > MAX_MESSAGE_BYTES:
        raise InvalidInputError(f"message of {len(data)} bytes exceeds {MAX_MESSAGE_BYTES}",
                                code=ErrorCode.MESSAGE_TOO_LARGE)
    try:
        raw = json.loads(data)
    # RecursionError: nested too deeply; ValueError (JSONDecodeError's base): an integer beyond 4,300 digits.
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise InvalidInputError(f"message is not JSON: {str(exc)[:200]}", code=ErrorCode.MALFORMED_MESSAGE) from exc
    if not isinstance(raw, dict) or raw.get("schema_version") != SCHEMA_VERSION:
        raise InvalidInputError("unsupported or missing schema_version", code=ErrorCode.UNSUPPORTED_SCHEMA)
    try:
        return _adapter.validate_python(raw)
    except ValidationError as exc:
        raise InvalidInputError(f"invalid message: {exc.errors()[0]['msg']}",
                                code=ErrorCode.MALFORMED_MESSAGE) from exc


def data_from_cloud_event(event_type: str, data: Any) -> bytes:
    """The message bytes inside a Pub/Sub CloudEvent."""
    if event_type != PUBSUB_EVENT_TYPE:
        raise InvalidInputError(f"unexpected event type {event_type!r}", code=ErrorCode.UNEXPECTED_EVENT)
    try:
        return base64.b64decode(data["message"]["data"], validate=True)
    except (KeyError, TypeError, binascii.Error) as exc:
        raise InvalidInputError("event carries no base64 message data", code=ErrorCode.MALFORMED_MESSAGE) from exc


def raw_event_data(cloud_event: Any) -> bytes:
    """The message bytes of an event as delivered, even when they cannot be decoded (to park them)."""
    try:
        return data_from_cloud_event(PUBSUB_EVENT_TYPE, cloud_event.data)
    except InvalidInputError:
        return json.dumps(cloud_event.data, default=str).encode()


def source_topic(cloud_event: Any) -> str:
    """The topic an event came from (`…/topics/<name>` in its source), or its source as given."""
    return str(cloud_event["source"] or "").rsplit("/topics/", 1)[-1]


def message_from_cloud_event(cloud_event: Any,
                             expected: type[MessageT] | tuple[type[MessageT], ...]) -> MessageT:
    """Decode a functions-framework CloudEvent into the message type(s) its consumer expects."""
    message = decode(data_from_cloud_event(cloud_event["type"], cloud_event.data))
    if not isinstance(message, expected):
        names = " or ".join(t.__name__ for t in (expected if isinstance(expected, tuple) else (expected,)))
        raise InvalidInputError(f"expected {names}, got {type(message).__name__}", code=ErrorCode.WRONG_MESSAGE_KIND)
    return message
