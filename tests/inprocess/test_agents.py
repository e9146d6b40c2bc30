"""The agents' functions in the test process (functions-framework's test client) on the session's real
emulators: the front door creates a job, the video agent runs a one-block job billed once, and a
malformed event is dead-lettered, never answered 5xx."""
from __future__ import annotations

import uuid

import pytest
from google.cloud import pubsub_v1

from shared.core.messages import VideoRequest, encode
from shared.core.topics import ASSEMBLY_REQUESTS, DEAD_LETTER, VIDEO_REQUESTS
from tests.support import TEST_USER, billed_seconds, make_job

pytestmark = [pytest.mark.timeout(300), pytest.mark.usefixtures("pull_mode")]


def test_post_videos_creates_the_job_and_publishes_its_video_request(agent, pipeline):
    front_door = agent("agent-script", "script_http")
    response = front_door.request("POST", "/videos", headers=pipeline.headers(), json={
        "theme": f"A lighthouse keeper {uuid.uuid4().hex[:6]} who befriends a storm", "preset": "quick_social"})
    assert response.status_code == 202, response.get_data(as_text=True)
    created = response.get_json()
    video_id = created["video_id"]
    doc = pipeline.doc(video_id)
    assert (doc["status"], doc["owner"], doc["preset"]) == ("script_ready", TEST_USER, "quick_social")
    assert doc["total_blocks"] == 4 and doc["completed_blocks"] == 0
    assert [m.kind for m in pipeline.published_for(VIDEO_REQUESTS, video_id)] == ["video_request"]
    public = front_door.request("GET", f"/videos/{video_id}", headers=pipeline.headers())
    assert public.status_code == 200 and public.get_json()["status"] == "script_ready"
    assert "blocks" not in public.get_json() and "lease" not in public.get_json()


def test_bad_requests_get_the_api_error_shape_never_a_5xx(agent, pipeline):
    front_door = agent("agent-script", "script_http")
    cases = [
        (front_door.request("POST", "/videos", json={"theme": "x"}), 401, "unauthenticated"),
        (front_door.request("POST", "/videos", headers=pipeline.headers(), json={"style": "anime"}), 400,
         "invalid_theme"),
        (front_door.request("POST", "/videos", headers={**pipeline.headers(), "Content-Type": "application/json"},
                            data="{theme"), 400, "invalid_json"),
        (front_door.request("GET", "/robots.txt"), 404, "not_found"),
    ]
    for response, status_code, code in cases:
        assert response.status_code == status_code, response.get_data(as_text=True)
        error = response.get_json()["error"]
        assert error["code"] == code and error["message"]


def test_video_event_generates_a_one_block_job_billed_once(agent, pipeline, simulator, clients):
    video_agent = agent("agent-video-veo31", "video_event")
    video_id = make_job(clients, blocks=1)
    message: VideoRequest | None = VideoRequest(video_id=video_id)
    codes: list[int] = []
    while message is not None and len(codes) < 10:  # the request, then each continuation it publishes
        response = video_agent.deliver(VIDEO_REQUESTS, encode(message))
        codes.append(response.status_code)
        follow_ups = pipeline.published_for(VIDEO_REQUESTS, video_id)
        message = follow_ups[-1] if follow_ups else (message if response.status_code >= 500 else None)
    doc = pipeline.doc(video_id)
    assert doc["status"] == "video_generated", (codes, doc.get("error"))
    assert doc["blocks"]["0"]["state"] == "done" and doc["completed_blocks"] == 1
    billed = [e for e in simulator.ledger() if video_id in (e.get("scene") or "")]
    assert len(billed) == 1, billed
    assert billed_seconds(billed, video_id) == doc["usage"]["veo_seconds"] == 8
    announced = [m.kind for m in pipeline.published_for(ASSEMBLY_REQUESTS, video_id)]
    assert sorted(announced) == ["assembly_request", "block_ready"]
    # a redelivery is acknowledged and pays nothing again
    assert video_agent.deliver(VIDEO_REQUESTS, encode(VideoRequest(video_id=video_id))).status_code < 300
    assert len([e for e in simulator.ledger() if video_id in (e.get("scene") or "")]) == 1
    assert pipeline.doc(video_id)["status"] == "video_generated"


@pytest.fixture
def dead_letter_tap(clients):  # type: ignore[no-untyped-def]
    """A scratch subscription on the dead-letter topic: what gets parked, without taking it from the monitor."""
    subscriber = pubsub_v1.SubscriberClient()
    project = clients.settings.project
    path = subscriber.subscription_path(project, f"tap-{uuid.uuid4().hex[:8]}")
    topic = subscriber.topic_path(project, clients.settings.topic_prefix + DEAD_LETTER)
    subscriber.create_subscription(request={"name": path, "topic": topic})
    try:
        yield subscriber, path
    finally:
        subscriber.delete_subscription(subscription=path)
        subscriber.close()


def test_a_malformed_event_is_dead_lettered_not_answered_5xx(agent, pipeline, dead_letter_tap):
    video_agent = agent("agent-video-veo31", "video_event")
    marker = uuid.uuid4().hex
    payload = f'{{"schema_version": 1, "kind": "video_request", "note": "{marker}"'.encode()  # cut short
    response = video_agent.deliver(VIDEO_REQUESTS, payload)
    assert response.status_code < 300, "acknowledged, so Pub/Sub never redelivers it"
    subscriber, path = dead_letter_tap
    parked = []
    for _ in range(10):
        pulled = subscriber.pull(subscription=path, max_messages=10, timeout=10)
        parked += [r.message for r in pulled.received_messages if marker.encode() in r.message.data]
        if parked:
            break
    [message] = parked
    assert bytes(message.data) == payload
    assert message.attributes["reason"] == "malformed_message"
    assert message.attributes["source_topic"] == VIDEO_REQUESTS
    assert message.attributes["size"] == str(len(payload))
