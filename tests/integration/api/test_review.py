"""Review before paying (storyboard preview, edit, approve, cancel), the script cache, webhooks, and the
live progress stream, on the real local cloud."""
from __future__ import annotations

import datetime as dt
import json
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import requests

from shared.api import quotas, storyboard
from shared.core import layout, status
from shared.core.errors import PermanentError
from shared.core.messages import StoryboardRequest
from shared.core.runner import fail_job
from shared.core.status import Status
from shared.core.storage import read_json
from shared.core.topics import STORYBOARD_REQUESTS, VIDEO_REQUESTS, WEBHOOK_EVENTS
from shared.ops import webhooks
from shared.ops.hooks import PIPELINE_HOOKS
from shared.pricing import prices
from tests.support import WebhookReceiver as _Receiver
from tests.support import ffprobe, make_job, read_sse, verify_signature

pytestmark = [pytest.mark.timeout(300), pytest.mark.usefixtures("pull_mode")]


def _theme() -> str:
    return f"A lantern maker {uuid.uuid4().hex[:6]} who lights a whole valley"


def _review_job(pipeline, **extra) -> dict[str, Any]:
    response = pipeline.create_video({"theme": _theme(), "preset": "quick_social", "review": True, **extra})
    assert response.status_code == 202, response.text
    return response.json()


def _rms_db(path: Path, start: float, seconds: float) -> float:
    raw = subprocess.run(["ffmpeg", "-v", "error", "-ss", str(start), "-t", str(seconds), "-i", str(path), "-vn",
                          "-ac", "1", "-ar", "16000", "-f", "s16le", "-"], check=True, capture_output=True).stdout
    samples = np.frombuffer(raw, dtype=np.int16).astype(np.float64) / 32768
    return float(20 * np.log10(np.sqrt(np.mean(samples**2)) + 1e-12))


def test_review_stops_before_veo_with_a_storyboard_and_the_estimate(pipeline, clients, simulator, tmp_path):
    simulator.clear_ledger()
    created = _review_job(pipeline)
    video_id = created["video_id"]
    assert created["status"] == "awaiting_approval" and created["estimated_cost_usd"] > 0
    assert pipeline.published_for(VIDEO_REQUESTS, video_id) == [], "nothing starts before approval"
    waiting = pipeline.api("GET", f"/videos/{video_id}/storyboard")
    assert (waiting.status_code, waiting.json()["state"], waiting.headers["Retry-After"]) == (202, "rendering", "3"), \
        "the request path renders nothing: the storyboard step does"
    board = pipeline.storyboard(video_id)
    script = read_json(clients.storage, pipeline.doc(video_id)["script_uri"])
    assert [b["dialogue"] for b in board["blocks"]] == [b["dialogue"] for b in script["blocks"]]
    assert board["estimate"]["cost_usd"]["total"] == created["estimated_cost_usd"]
    preview = tmp_path / "storyboard.mp4"
    preview.write_bytes(requests.get(board["preview"]["url"], timeout=60).content)
    info = ffprobe(preview)
    assert {s["codec_type"] for s in info["streams"]} == {"video", "audio"}
    assert float(info["format"]["duration"]) == pytest.approx(board["blocks"][-1]["end"], abs=0.1)
    first = board["blocks"][0]
    assert _rms_db(preview, first["start"] + 0.8, 1.0) > _rms_db(preview, first["end"] - 0.3, 0.25) + 10, \
        "the dialogue is spoken, then the block ends quietly"
    assert simulator.ledger() == [], "the preview used no Veo"


def test_storyboard_speech_is_gemini_tts_billed_on_the_jobs_ledger(pipeline, clients, simulator, tmp_path):
    """Every block's dialogue is one call to the TTS model (simulator ledger); the job's ledger holds exactly the
    tokens the simulator billed, priced with the dated table; an edit re-renders and bills again."""
    simulator.clear_ledger()
    video_id = _review_job(pipeline)["video_id"]
    board = pipeline.storyboard(video_id)
    script = read_json(clients.storage, pipeline.doc(video_id)["script_uri"])
    spoken_blocks = [b for b in script["blocks"] if (b.get("dialogue") or "").strip()]
    billed = simulator.billing()
    tts = billed["tokens"][clients.settings.tts_model]
    assert tts["calls"] == len(spoken_blocks) and tts["thoughts"] == 0
    usage = pipeline.doc(video_id)["usage"]
    assert (usage["speech_calls"], usage["speech_prompt_tokens"], usage["speech_output_tokens"]) == (
        tts["calls"], tts["prompt"], tts["candidates"])
    expected = (tts["prompt"] * prices.TTS_PRICE_PER_MILLION_TOKENS["input"]
                + tts["candidates"] * prices.TTS_PRICE_PER_MILLION_TOKENS["output"]) / 1e6
    assert usage["cost_usd"]["speech"] == pytest.approx(expected, abs=1e-6) and expected > 0
    assert billed["charged_usd"] == pytest.approx(expected + billed_script_usd(billed), abs=1e-6)
    preview = tmp_path / "storyboard.mp4"
    preview.write_bytes(requests.get(board["preview"]["url"], timeout=60).content)
    for block in board["blocks"]:
        if block["dialogue"].strip():
            assert _rms_db(preview, block["start"] + 0.6, 1.0) > -40, ("spoken", block)
    for _ in range(2):  # a redelivered request for the rendered revision speaks nothing again
        assert pipeline.deliver(STORYBOARD_REQUESTS, StoryboardRequest(video_id=video_id, revision=0)).ok
    assert simulator.billing()["tokens"][clients.settings.tts_model]["calls"] == len(spoken_blocks)
    edit = {"blocks": [{"index": spoken_blocks[0]["index"], "dialogue": "Every window glows tonight."}]}
    assert pipeline.api("PATCH", f"/videos/{video_id}/script", json=edit).status_code == 200
    assert pipeline.storyboard(video_id)["revision"] == 1
    assert pipeline.deliver(STORYBOARD_REQUESTS, StoryboardRequest(video_id=video_id, revision=0)).ok
    assert pipeline.doc(video_id)["usage"]["speech_calls"] == 2 * len(spoken_blocks), "a superseded request: no call"
    assert simulator.billing()["tokens"][clients.settings.tts_model]["calls"] == 2 * len(spoken_blocks)
    kept = [b.name for b in clients.storage.list_blobs(clients.settings.bucket,
                                                       prefix=layout.job_folder(layout.STORYBOARDS, video_id))]
    assert kept == [layout.storyboard_path(video_id, 1)], "the superseded preview is deleted"


def test_a_storyboard_that_cannot_be_made_says_why_and_the_job_still_awaits_approval(pipeline, clients, simulator):
    simulator.clear_ledger()
    video_id = _review_job(pipeline)["video_id"]
    status.doc_ref(clients.db, video_id).update({"max_cost_usd": 0.0})  # as if its budget were spent meanwhile
    board = pipeline.storyboard(video_id)
    assert (board["state"], board["error"]["code"]) == ("failed", "over_budget") and board["error"]["error_id"]
    assert "$" not in board["error"]["message"], "the answer carries the code's fixed sentence, the log the details"
    assert clients.settings.tts_model not in simulator.billing()["tokens"], "no speech was asked for"
    assert pipeline.doc(video_id)["status"] == "awaiting_approval"
    assert pipeline.api("POST", f"/videos/{video_id}/cancel").status_code == 200


def test_previews_are_counted_against_the_plan_and_revisions_are_capped(pipeline):
    def edit(video_id: str, n: int, user_id: str | None = None) -> requests.Response:
        change = {"blocks": [{"index": 0, "dialogue": f"Take number {n} of the opening line."}]}
        return pipeline.api("PATCH", f"/videos/{video_id}/script", user_id, json=change)

    free_user = f"free-{uuid.uuid4().hex[:8]}"
    pipeline.key_for(free_user, plan="free")
    created = pipeline.create_video({"theme": _theme(), "preset": "quick_social", "review": True}, user_id=free_user)
    video_id, free = created.json()["video_id"], quotas.PLANS["free"]
    assert [edit(video_id, n, free_user).status_code for n in range(free.previews_per_day - 1)] == \
        [200] * (free.previews_per_day - 1), "the creation's preview and these edits use up the day's previews"
    refused = edit(video_id, 99, free_user)
    assert (refused.status_code, refused.json()["error"]["code"]) == (429, "quota_exceeded")
    assert int(refused.headers["Retry-After"]) > 0
    day = pipeline.api("GET", "/me", free_user).json()["quotas"]["day"]["previews"]
    assert (day["used"], day["left"]) == (free.previews_per_day, 0)

    studio_job = _review_job(pipeline)["video_id"]
    cap = storyboard.MAX_REVISIONS
    assert [edit(studio_job, n).status_code for n in range(cap)] == [200] * cap
    capped = edit(studio_job, 99)
    assert (capped.status_code, capped.json()["error"]["code"]) == (409, "revision_limit")
    assert pipeline.doc(studio_job)["script_revision"] == cap
    requested = [m.revision for m in pipeline.published_for(STORYBOARD_REQUESTS, studio_job)]
    assert requested == list(range(cap + 1)), "one preview asked for per revision"


def billed_script_usd(billed: dict[str, Any]) -> float:
    """What the simulator charged for the script call(s) of this test (the models the contract prices, B8)."""
    script = billed["tokens"].get("gemini-3.8-flash", {})
    return (script.get("prompt", 0) * 0.75 + script.get("output_billed", 0) * 3.75) / 1e6


def test_edits_are_validated_then_approval_starts_veo(pipeline, clients):
    video_id = _review_job(pipeline)["video_id"]
    too_long = {"blocks": [{"index": 0, "dialogue": " ".join(["word"] * 20)}]}
    rejected = pipeline.api("PATCH", f"/videos/{video_id}/script", json=too_long)
    assert rejected.status_code == 400 and rejected.json()["error"]["code"] == "invalid_blocks"
    edit = {"blocks": [{"index": 1, "visual": "A valley full of lanterns at night", "dialogue": "Every window glows."}]}
    edited = pipeline.api("PATCH", f"/videos/{video_id}/script", json=edit).json()
    assert edited["revision"] == 1
    stored = read_json(clients.storage, pipeline.doc(video_id)["script_uri"])
    assert stored["blocks"][1]["dialogue"] == "Every window glows."
    approved = pipeline.api("POST", f"/videos/{video_id}/approve")
    assert approved.status_code == 202 and pipeline.doc(video_id)["status"] == "script_ready"
    assert [m.kind for m in pipeline.published_for(VIDEO_REQUESTS, video_id)] == ["video_request"]
    history = [h["status"] for h in pipeline.doc(video_id)["history"]]
    assert history == ["awaiting_approval", "script_ready"]
    assert pipeline.api("POST", f"/videos/{video_id}/approve").status_code == 409
    assert pipeline.api("PATCH", f"/videos/{video_id}/script", json=edit).status_code == 409


def test_cancel_ends_a_job_awaiting_approval(pipeline):
    video_id = _review_job(pipeline)["video_id"]
    assert pipeline.api("POST", f"/videos/{video_id}/cancel").json()["status"] == "cancelled"
    assert pipeline.api("POST", f"/videos/{video_id}/approve").status_code == 409
    assert pipeline.api("GET", f"/videos/{video_id}").json()["progress"]["stage"] == "cancelled"
    assert pipeline.api("DELETE", f"/videos/{video_id}").status_code == 204


def test_the_script_cache_skips_gemini_for_the_same_request(pipeline, clients):
    theme = _theme()
    first = pipeline.create_video({"theme": f"  {theme.upper()}! ", "preset": "quick_social", "review": True}).json()
    again = pipeline.create_video({"theme": theme.lower(), "preset": "quick_social", "review": True}).json()
    other = pipeline.create_video({"theme": theme, "preset": "quick_social", "language": "es", "review": True}).json()
    assert (first["script_cache"], again["script_cache"], other["script_cache"]) == (
        {"hit": False}, {"hit": True}, {"hit": False})
    miss, hit = pipeline.doc(first["video_id"]), pipeline.doc(again["video_id"])
    assert miss["usage"]["gemini_output_tokens"] > 0 and hit["usage"]["gemini_output_tokens"] == 0
    assert hit["script_cache"]["key"] == miss["script_cache"]["key"]
    blocks = lambda doc: read_json(clients.storage, doc["script_uri"])["blocks"]  # noqa: E731
    assert blocks(hit) == blocks(miss)
    ref = clients.db.collection(layout.SCRIPT_CACHE).document(miss["script_cache"]["key"])
    ref.update({"expires_at": status.utcnow() - dt.timedelta(seconds=1)})  # 7 days later
    expired = pipeline.create_video({"theme": theme, "preset": "quick_social", "review": True}).json()
    assert expired["script_cache"] == {"hit": False}


@pytest.fixture
def receiver() -> Iterator[tuple[str, type[_Receiver]]]:
    _Receiver.answers, _Receiver.received = [500], []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", _Receiver
    server.shutdown()
    server.server_close()


def test_a_failed_job_calls_its_webhook_signed_and_retried(pipeline, clients, receiver):
    url, handler = receiver
    video_id = _review_job(pipeline, callback_url=url)["video_id"]
    fail_job(clients, video_id, "video", PermanentError("Veo refused", code="veo_rejected"), PIPELINE_HOOKS)
    assert handler.received == [], "the worker queues the webhook; the webhook function makes the call"
    [event] = pipeline.published_for(WEBHOOK_EVENTS, video_id)
    assert pipeline.deliver(WEBHOOK_EVENTS, event).status_code == 200
    assert len(handler.received) == 2, "a 500 is retried, then the 200 ends it"
    secret = pipeline.api("GET", "/me").json()["webhook_secret"]
    for headers, body in handler.received:
        assert verify_signature(secret, headers[webhooks.SIGNATURE_HEADER], body)
    payload = json.loads(handler.received[-1][1])
    assert (payload["event"], payload["video_id"], payload["error"]["code"]) == ("video.failed", video_id,
                                                                                  "veo_rejected")
    record = clients.db.collection(layout.WEBHOOK_DELIVERIES).document(f"{video_id}-video.failed").get().to_dict()
    assert [a.get("status_code") for a in record["attempts"]] == [500, 200] and record["delivered"]
    assert pipeline.doc(video_id)["webhook"] == {"event": "video.failed", "delivered": True, "attempts": 2}


def test_private_and_link_local_callbacks_are_refused(pipeline):
    for url in ("http://169.254.169.254/latest", "http://10.0.0.8/hook", "file:///etc/passwd"):
        response = pipeline.create_video({"theme": _theme(), "review": True, "callback_url": url})
        assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_callback_url", url


def test_the_progress_stream_sends_each_status_in_order_then_ends(pipeline, clients):
    video_id = make_job(clients, 3, owner="test-user")
    collected: list[tuple[str, dict]] = []
    reader = threading.Thread(target=read_sse, args=(pipeline, video_id, 60, collected), daemon=True)
    reader.start()
    steps = [(Status.VIDEO_GENERATING, {}), (None, {"completed_blocks": 1}), (None, {"completed_blocks": 2}),
             (Status.VIDEO_GENERATED, {"completed_blocks": 3}), (Status.ASSEMBLING, {}), (Status.FAILED,
                                                                                          {"error": {"code": "x"}})]
    _wait_for_first_event(collected)
    for target, fields in steps:
        time.sleep(0.3)  # one snapshot per change (events never depend on it: statuses come from history)
        if target is None:
            status.doc_ref(clients.db, video_id).update(fields)
        else:
            status.transition(clients.db, video_id, target, fields)
    reader.join(timeout=30)
    assert not reader.is_alive(), "the stream ends at a terminal status"
    statuses = [d["status"] for e, d in collected if e == "status"]
    assert statuses == ["script_ready", "video_generating", "video_generated", "assembling", "failed"]
    blocks = [d["blocks_done"] for e, d in collected if e == "progress"]
    assert blocks == sorted(blocks) and set(blocks) <= {1, 2} and blocks
    assert collected[-1][0] == "end" and collected[-1][1]["error"]["code"] == "x"
    percents = [d["percent"] for e, d in collected if e in ("status", "progress") and d["status"] != "failed"]
    assert percents == sorted(percents)


def _wait_for_first_event(collected: list) -> None:
    deadline = time.monotonic() + 20
    while not collected and time.monotonic() < deadline:
        time.sleep(0.05)
    assert collected, "the stream sends the current status first"
