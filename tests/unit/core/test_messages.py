"""Versioned step messages: round trip, and every malformed shape rejected with a code."""
import base64
import json

import pytest

from shared.core.errors import InvalidInputError
from shared.core.messages import (
    MAX_MESSAGE_BYTES,
    PUBSUB_EVENT_TYPE,
    AssemblyRequest,
    BlockReady,
    QaRequest,
    VideoRequest,
    data_from_cloud_event,
    decode,
    encode,
)

VID = "v20261123-abcdef012345"


@pytest.mark.parametrize("message", [VideoRequest(video_id=VID), AssemblyRequest(video_id=VID, attempt=2),
                                     QaRequest(video_id=VID, origin="monitor")])
def test_round_trip(message):
    assert decode(encode(message)) == message


@pytest.mark.parametrize("data, code", [
    (b"not json", "malformed_message"),
    (b"[]", "unsupported_schema"),
    (json.dumps({"schema_version": 2, "kind": "video_request", "video_id": VID}).encode(), "unsupported_schema"),
    (json.dumps({"schema_version": 1, "kind": "nope", "video_id": VID}).encode(), "malformed_message"),
    (json.dumps({"schema_version": 1, "kind": "video_request", "video_id": "../etc"}).encode(), "malformed_message"),
    (json.dumps({"schema_version": 1, "kind": "video_request", "video_id": VID, "x": 1}).encode(),
     "malformed_message"),
    (b"{" + b" " * MAX_MESSAGE_BYTES + b"}", "message_too_large"),
])
def test_malformed_messages_are_rejected_with_a_code(data, code):
    with pytest.raises(InvalidInputError) as info:
        decode(data)
    assert info.value.code == code


def test_cloud_event_data_is_base64_decoded():
    payload = encode(VideoRequest(video_id=VID))
    data = {"message": {"data": base64.b64encode(payload).decode()}}
    assert data_from_cloud_event(PUBSUB_EVENT_TYPE, data) == payload


@pytest.mark.parametrize("event_type, data", [
    ("google.cloud.storage.object.v1.finalized", {"message": {"data": ""}}),
    (PUBSUB_EVENT_TYPE, {"message": {}}),
    (PUBSUB_EVENT_TYPE, {"message": {"data": "@@not-base64@@"}}),
])
def test_unexpected_events_are_rejected(event_type, data):
    with pytest.raises(InvalidInputError):
        data_from_cloud_event(event_type, data)


def test_block_ready_round_trips_and_a_bad_block_is_malformed() -> None:
    message = BlockReady(video_id="vtest-abcdef12", block=4)
    assert decode(encode(message)) == message
    with pytest.raises(InvalidInputError) as bad:
        decode(b'{"schema_version": 1, "kind": "block_ready", "video_id": "vtest-abcdef12", "block": -1}')
    assert bad.value.code == "malformed_message"
    assert isinstance(decode(encode(AssemblyRequest(video_id="vtest-abcdef12"))), AssemblyRequest)
