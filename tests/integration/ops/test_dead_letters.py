"""Dead letters on the real emulators: malformed and oversized payloads are parked by the agent at once and
recorded by the monitor with their reason; a step message Pub/Sub itself dead-lettered fails its job (once,
unless the job moved on); nothing corrupts a job and nothing is redelivered forever.
"""
from __future__ import annotations

import json
import uuid

import pytest
import requests
from google.cloud import pubsub_v1

from shared.core import layout, status, topics
from shared.core.messages import VideoRequest, encode
from shared.core.topics import ASSEMBLY_REQUESTS, VIDEO_REQUESTS
from shared.ops import dead_letters
from tests.support import make_job

pytestmark = [pytest.mark.timeout(300), pytest.mark.usefixtures("pull_mode")]


def run_monitor(pipeline) -> dict:
    response = requests.post(pipeline.cloud.url_of("agent-monitor"), timeout=120)
    assert response.status_code == 200, response.text
    return response.json()["dead_letters"]


@pytest.fixture(autouse=True)
def empty_dead_letter_subscription(pipeline):
    run_monitor(pipeline)  # records (and acknowledges) what earlier tests parked


def parked(clients, message_id_prefix: str = "") -> list[dict]:
    return [snap.to_dict() for snap in clients.db.collection(layout.DEAD_LETTERS).stream()
            if snap.id.startswith(message_id_prefix)]


def test_malformed_and_oversized_payloads_are_parked_once_and_recorded_with_their_reason(pipeline, clients):
    video_id = make_job(clients)
    before = pipeline.doc(video_id)
    known = {record["message_id"] for record in parked(clients)}
    oversized = json.dumps({"schema_version": 1, "kind": "video_request", "video_id": video_id,
                            "padding": "x" * 20_000}).encode()
    not_json = b"\xff\xfe not json {"
    for topic, payload in ((VIDEO_REQUESTS, not_json), (ASSEMBLY_REQUESTS, oversized)):
        assert pipeline.deliver_raw(topic, payload).status_code < 300, "acknowledged: never redelivered"
    counts = run_monitor(pipeline)
    assert counts["parked"] == 2 and counts["failed"] == 0
    new = {r["reason"]: r for r in parked(clients) if r["message_id"] not in known}
    assert set(new) == {"malformed_message", "message_too_large"}
    assert new["malformed_message"]["topic"] == VIDEO_REQUESTS and new["malformed_message"]["size"] == len(not_json)
    too_large = new["message_too_large"]
    assert too_large["topic"] == ASSEMBLY_REQUESTS and too_large["size"] == len(oversized)
    assert too_large["payload_truncated"] and len(too_large["payload"]) <= dead_letters.PAYLOAD_KEPT_BYTES
    assert pipeline.doc(video_id) == before, "a payload naming a job does not touch it"
    assert run_monitor(pipeline) == {"failed": 0, "recorded": 0, "parked": 0, "duplicate": 0, "errors": 0}


def _dead_letter(clients, message: VideoRequest, deliveries: int = 5) -> None:
    """Publish to the dead-letter topic as Pub/Sub does after the last delivery attempt."""
    publisher = pubsub_v1.PublisherClient()
    topic = publisher.topic_path(clients.settings.project, topics.DEAD_LETTER)
    publisher.publish(topic, encode(message), kind=message.kind, video_id=message.video_id, **{
        dead_letters.SOURCE_DELIVERIES: str(deliveries),
        dead_letters.SOURCE_SUBSCRIPTION: f"projects/{clients.settings.project}/subscriptions/video-requests-sub",
    }).result(timeout=30)


def test_a_dead_lettered_step_fails_its_job_once_with_the_reason(pipeline, clients):
    video_id = make_job(clients)
    _dead_letter(clients, VideoRequest(video_id=video_id))
    assert run_monitor(pipeline)["failed"] == 1
    doc = pipeline.doc(video_id)
    assert doc["status"] == "failed" and doc["error"]["code"] == "dead_lettered"
    [entry] = doc["dead_letters"]
    assert (entry["reason"], entry["delivery_attempts"], entry["kind"]) == (
        dead_letters.EXHAUSTED, 5, "video_request")
    assert entry["subscription"].endswith("video-requests-sub")
    assert run_monitor(pipeline)["failed"] == 0


def test_a_dead_lettered_step_of_a_job_that_moved_on_is_only_recorded(pipeline, clients):
    video_id = make_job(clients)
    status.transition(clients.db, video_id, status.Status.VIDEO_GENERATING)
    status.transition(clients.db, video_id, status.Status.VIDEO_GENERATED)
    _dead_letter(clients, VideoRequest(video_id=video_id))
    assert run_monitor(pipeline)["recorded"] == 1
    doc = pipeline.doc(video_id)
    assert doc["status"] == "video_generated" and len(doc["dead_letters"]) == 1


def test_recording_is_idempotent_on_the_message_id(clients):
    video_id = make_job(clients)
    message = pubsub_v1.types.PubsubMessage(data=encode(VideoRequest(video_id=video_id)),
                                            message_id=uuid.uuid4().hex)
    assert dead_letters.record_message(clients, message) == "failed"
    assert dead_letters.record_message(clients, message) == "duplicate"
    unknown = pubsub_v1.types.PubsubMessage(data=encode(VideoRequest(video_id="vtest-no-such-job")),
                                            message_id=uuid.uuid4().hex)
    assert dead_letters.record_message(clients, unknown) == "parked"
    assert dead_letters.record_message(clients, unknown) == "duplicate"
    assert len(status.read(clients.db, video_id)["dead_letters"]) == 1


def test_pubsub_dead_letters_a_step_after_its_delivery_attempts_and_the_monitor_fails_the_job(pipeline, clients):
    """The emulator's own dead-letter policy (a scratch subscription whose consumer keeps failing)."""
    from google.api_core.exceptions import DeadlineExceeded

    project = clients.settings.project
    publisher, subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
    topic = publisher.topic_path(project, f"scratch-{uuid.uuid4().hex[:8]}")
    subscription = subscriber.subscription_path(project, f"scratch-{uuid.uuid4().hex[:8]}")
    publisher.create_topic(name=topic)
    subscriber.create_subscription(request={
        "name": subscription, "topic": topic, "ack_deadline_seconds": 10,
        "dead_letter_policy": {"dead_letter_topic": publisher.topic_path(project, topics.DEAD_LETTER),
                               "max_delivery_attempts": topics.MAX_DELIVERY_ATTEMPTS}})
    video_id = make_job(clients)
    try:
        publisher.publish(topic, encode(VideoRequest(video_id=video_id))).result(timeout=30)
        deliveries = 0
        for _ in range(50):  # each delivery fails (negative acknowledgement) until Pub/Sub gives up
            try:
                response = subscriber.pull(subscription=subscription, max_messages=1, timeout=5)
            except DeadlineExceeded:
                continue
            if not response.received_messages:
                if deliveries >= topics.MAX_DELIVERY_ATTEMPTS:
                    break
                continue
            deliveries += 1
            subscriber.modify_ack_deadline(subscription=subscription, ack_ids=[response.received_messages[0].ack_id],
                                           ack_deadline_seconds=0)
        assert deliveries == topics.MAX_DELIVERY_ATTEMPTS
        assert run_monitor(pipeline)["failed"] == 1
    finally:
        subscriber.delete_subscription(subscription=subscription)
        publisher.delete_topic(topic=topic)
    doc = pipeline.doc(video_id)
    assert (doc["status"], doc["error"]["code"]) == ("failed", "dead_lettered")
    [entry] = doc["dead_letters"]
    assert (entry["reason"], entry["delivery_attempts"]) == (dead_letters.EXHAUSTED, topics.MAX_DELIVERY_ATTEMPTS)
    assert subscription.endswith(entry["subscription"])  # the attributes Pub/Sub adds when it dead-letters
