"""Webhooks on the real local cloud: a finished job's worker only queues a WebhookEvent, the webhook function
(agent-monitor's `deliver_webhook`, its own functions-framework process) makes the signed call, a redelivered
event posts nothing more, and a rotated secret signs every later call (the old one none).

Evidence: the receiver's own log of what it was sent, signatures recomputed independently (tests.support), the
messages waiting on the webhook-events subscription, the front door's HTTP answers.
"""
from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from typing import Any

import pytest

from shared.core import layout, status
from shared.core.errors import PermanentError
from shared.core.runner import fail_job
from shared.core.status import Status
from shared.core.topics import WEBHOOK_EVENTS
from shared.ops import webhooks
from shared.ops.hooks import PIPELINE_HOOKS
from tests.support import TEST_USER, make_job, verify_signature
from tests.support import WebhookReceiver as _Receiver

pytestmark = [pytest.mark.timeout(300), pytest.mark.usefixtures("pull_mode")]
PATH_TO_COMPLETED = (Status.VIDEO_GENERATING, Status.VIDEO_GENERATED, Status.ASSEMBLING, Status.ASSEMBLED,
                     Status.QA_PASSED, Status.COMPLETED)


@pytest.fixture
def receiver() -> Iterator[tuple[str, type[_Receiver]]]:
    _Receiver.answers, _Receiver.received = [], []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", _Receiver
    server.shutdown()
    server.server_close()


def _completed_job(clients, url: str) -> str:
    video_id = make_job(clients, 1, owner=TEST_USER, callback_url=url)
    for step in PATH_TO_COMPLETED:
        status.transition(clients.db, video_id, step, {})
    return video_id


def _queued(pipeline, video_id: str) -> Any:
    [event] = pipeline.published_for(WEBHOOK_EVENTS, video_id)
    return event


def test_a_completed_jobs_webhook_is_made_by_the_webhook_function_not_the_worker(pipeline, clients, receiver):
    url, handler = receiver
    video_id = _completed_job(clients, url)
    PIPELINE_HOOKS.job_ended(clients, video_id)  # what agent-qa's runner calls when its step completes the job
    assert handler.received == [], "the worker only queues the event: it never calls the receiver itself"
    event = _queued(pipeline, video_id)
    assert (event.kind, event.event, event.video_id) == ("webhook_event", "video.completed", video_id)
    assert pipeline.deliver(WEBHOOK_EVENTS, event).status_code == 200
    [(headers, body)] = handler.received
    secret = pipeline.api("GET", "/me").json()["webhook_secret"]
    assert verify_signature(secret, headers[webhooks.SIGNATURE_HEADER], body)
    payload = json.loads(body)
    assert (payload["event"], payload["video_id"], payload["status"]) == ("video.completed", video_id, "completed")
    assert payload["event_id"] == headers[webhooks.EVENT_ID_HEADER] == f"{video_id}.video.completed"
    assert pipeline.doc(video_id)["webhook"] == {"event": "video.completed", "delivered": True, "attempts": 1}


def test_a_failed_job_is_called_back_signed_and_retried_by_the_webhook_function(pipeline, clients, receiver):
    """fail_job with the pipeline hooks is what every worker (video, assembler, QA, monitor) runs on a permanent
    failure; the dead-letter recorder calls the same hook."""
    url, handler = receiver
    handler.answers = [500]
    video_id = make_job(clients, 1, owner=TEST_USER, callback_url=url)
    fail_job(clients, video_id, "video", PermanentError("Veo refused", code="veo_rejected"), PIPELINE_HOOKS)
    assert handler.received == []
    assert pipeline.deliver(WEBHOOK_EVENTS, _queued(pipeline, video_id)).status_code == 200
    assert len(handler.received) == 2, "a 500 is retried, then the 200 ends it"
    secret = pipeline.api("GET", "/me").json()["webhook_secret"]
    for headers, body in handler.received:
        assert verify_signature(secret, headers[webhooks.SIGNATURE_HEADER], body)
    payload = json.loads(handler.received[-1][1])
    assert (payload["event"], payload["error"]["code"]) == ("video.failed", "veo_rejected")
    record = clients.db.collection(layout.WEBHOOK_DELIVERIES).document(f"{video_id}-video.failed").get().to_dict()
    assert [a.get("status_code") for a in record["attempts"]] == [500, 200] and record["delivered"]
    assert pipeline.doc(video_id)["webhook"] == {"event": "video.failed", "delivered": True, "attempts": 2}


def test_a_redelivered_event_posts_nothing_more(pipeline, clients, receiver):
    """Pub/Sub delivers at least once: the same message twice (and once more after) gives the receiver one call."""
    url, handler = receiver
    video_id = _completed_job(clients, url)
    PIPELINE_HOOKS.job_ended(clients, video_id)
    event = _queued(pipeline, video_id)
    for _ in range(3):
        assert pipeline.deliver(WEBHOOK_EVENTS, event).status_code == 200, "acknowledged each time"
    assert len(handler.received) == 1, f"the receiver logged {len(handler.received)} calls"
    record = clients.db.collection(layout.WEBHOOK_DELIVERIES).document(
        f"{video_id}-video.completed").get().to_dict()
    assert record["state"] == "done" and len(record["attempts"]) == 1


def test_rotating_the_secret_signs_later_calls_with_the_new_one_only(pipeline, clients, receiver):
    url, handler = receiver
    old = pipeline.api("GET", "/me").json()["webhook_secret"]
    rotated = pipeline.api("POST", "/me/webhook-secret")
    assert rotated.status_code == 200 and rotated.headers["Cache-Control"] == "no-store"
    new = rotated.json()["webhook_secret"]
    assert new != old and len(new) == 64
    shown = pipeline.api("GET", "/me")
    assert shown.headers["Cache-Control"] == "no-store" and shown.json()["webhook_secret"] == new
    video_id = _completed_job(clients, url)
    PIPELINE_HOOKS.job_ended(clients, video_id)
    assert pipeline.deliver(WEBHOOK_EVENTS, _queued(pipeline, video_id)).status_code == 200
    [(headers, body)] = handler.received
    assert verify_signature(new, headers[webhooks.SIGNATURE_HEADER], body)
    assert not verify_signature(old, headers[webhooks.SIGNATURE_HEADER], body), "the old secret stopped working"


def test_a_job_without_a_callback_queues_nothing(pipeline, clients):
    video_id = make_job(clients, 1, owner=TEST_USER)
    fail_job(clients, video_id, "video", PermanentError("Veo refused", code="veo_rejected"), PIPELINE_HOOKS)
    assert pipeline.published_for(WEBHOOK_EVENTS, video_id) == []


def test_an_event_redelivered_while_its_first_delivery_runs_is_retried_later_not_posted_twice(
        pipeline, clients, receiver):
    """The receiver holds the first call open; a second delivery of the same message meanwhile finds the live
    claim and answers an error (Pub/Sub redelivers it later), and that later delivery finds it done."""
    url, handler = receiver
    release, arrived = threading.Event(), threading.Event()
    original = _Receiver.do_POST

    def held(self: _Receiver) -> None:
        arrived.set()
        release.wait(60)
        original(self)

    video_id = _completed_job(clients, url)
    PIPELINE_HOOKS.job_ended(clients, video_id)
    event = _queued(pipeline, video_id)
    _Receiver.do_POST = held  # type: ignore[method-assign]
    try:
        answers: list[int] = []
        first = threading.Thread(target=lambda: answers.append(pipeline.deliver(WEBHOOK_EVENTS, event).status_code))
        first.start()
        assert arrived.wait(60), "the first delivery reached the receiver"
        concurrent = pipeline.deliver(WEBHOOK_EVENTS, event)
        release.set()
        first.join(60)
    finally:
        _Receiver.do_POST = original  # type: ignore[method-assign]
    assert concurrent.status_code >= 500, "a transient error: Pub/Sub redelivers it later"
    assert answers == [200]
    assert pipeline.deliver(WEBHOOK_EVENTS, event).status_code == 200
    assert len(handler.received) == 1
