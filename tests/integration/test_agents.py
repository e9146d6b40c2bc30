"""Each agent through functions-framework on the real local cloud, one delivered message at a time.

The subscriptions are in pull mode here, so a test sees exactly what each agent publishes and
decides when (and how often) to deliver it.
"""
from __future__ import annotations

import subprocess

import pytest

from shared.assembly import block_transcripts
from shared.core import status
from shared.core.messages import AssemblyRequest, BlockReady, QaRequest, VideoRequest
from shared.core.storage import read_json
from shared.core.topics import ASSEMBLY_REQUESTS, QA_REQUESTS, VIDEO_REQUESTS
from tests.support import dialogue_of, ffprobe, srt_text, words_of

pytestmark = [pytest.mark.timeout(900), pytest.mark.usefixtures("pull_mode")]


# One job goes through the agents step by step. Each stage is a module fixture that runs its step once and
# keeps what the test of that step checks; it asks for the stage before it, so any test of the chain runs
# alone (`pytest tests/integration/test_agents.py::test_qa_agent_completes_the_job` runs every step first).
@pytest.fixture(scope="module")
def created(pipeline):
    """A job created through the script agent's HTTP trigger: the answer, its document, what was published."""
    response = pipeline.create_video({"theme": "A lighthouse keeper who befriends a storm",
                                      "style": "cinematic", "language": "en"})
    assert response.status_code == 202, response.text
    body = response.json()
    video_id = body["video_id"]
    return {**body, "doc": pipeline.doc(video_id),
            "published": [m.kind for m in pipeline.published_for(VIDEO_REQUESTS, video_id)]}


def _run_video_step(pipeline, video_id: str) -> int:
    """Deliver the video request, then every continuation the agent publishes; invocations used."""
    invocations = 0
    message = VideoRequest(video_id=video_id)
    while message is not None:
        response = pipeline.deliver(VIDEO_REQUESTS, message)
        assert response.status_code < 300, response.text
        invocations += 1
        follow_ups = pipeline.published_for(VIDEO_REQUESTS, video_id)
        assert all(m.origin == "continue" for m in follow_ups)
        message = follow_ups[-1] if follow_ups else None
        assert invocations < 20
    return invocations


@pytest.fixture(scope="module")
def generated(pipeline, simulator, created):
    """The job after the video step: invocations used, its document, the Veo ledger, what was announced."""
    video_id = created["video_id"]
    simulator.clear_ledger()
    invocations = _run_video_step(pipeline, video_id)
    return {"video_id": video_id, "invocations": invocations, "doc": pipeline.doc(video_id),
            "ledger": simulator.ledger(), "announced": pipeline.published_for(ASSEMBLY_REQUESTS, video_id)}


@pytest.fixture(scope="module")
def transcribed(pipeline, generated):
    """Blocks 0-7 announced to the assembler ahead of the assembly (block 3 twice); the job's document after."""
    video_id = generated["video_id"]
    for block in [*range(8), 3]:  # the last block is left to the finish; block 3 is delivered twice
        response = pipeline.deliver(ASSEMBLY_REQUESTS, BlockReady(video_id=video_id, block=block))
        assert response.status_code < 300, response.text
    return {"video_id": video_id, "doc": pipeline.doc(video_id)}


@pytest.fixture(scope="module")
def assembled(pipeline, transcribed):
    """The job after the assembly request (its blocks transcribed ahead): its document, what was published."""
    video_id = transcribed["video_id"]
    response = pipeline.deliver(ASSEMBLY_REQUESTS, AssemblyRequest(video_id=video_id))
    assert response.status_code < 300, response.text
    return {"video_id": video_id, "doc": pipeline.doc(video_id),
            "published": [m.kind for m in pipeline.published_for(QA_REQUESTS, video_id)]}


def test_script_agent_creates_the_job(clients, created):
    video_id = created["video_id"]
    assert created["status_url"].endswith(f"/videos/{video_id}")
    doc = created["doc"]
    assert doc["status"] == "script_ready"
    assert doc["total_blocks"] == 9 and doc["completed_blocks"] == 0
    script = read_json(clients.storage, doc["script_uri"])
    assert len(script["blocks"]) == 9 and script["language"] == "en"
    assert all(block["dialogue"].strip() for block in script["blocks"])
    assert created["published"] == ["video_request"]


def test_status_route_returns_the_public_document(pipeline, created):
    import requests

    response = requests.get(created["status_url"], headers=pipeline.headers(), timeout=10)
    assert response.status_code == 200
    body = response.json()
    assert body["video_id"] == created["video_id"] and body["status"] == pipeline.doc(created["video_id"])["status"]
    assert "blocks" not in body and "lease" not in body


def test_video_agent_generates_each_block_once_and_resumes(pipeline, generated, tmp_path):
    doc = generated["doc"]
    assert doc["status"] == "video_generated", doc.get("error")
    assert doc["completed_blocks"] == 9
    assert generated["invocations"] >= 2, "the 20 s invocation budget should have forced at least one continuation"
    veo = ffprobe(pipeline.download(doc["veo_video_uri"], tmp_path / "veo.mp4"))
    video = next(s for s in veo["streams"] if s["codec_type"] == "video")
    assert (video["width"], video["height"]) == (720, 1280)
    assert abs(float(veo["format"]["duration"]) - 64) < 0.5
    billed = generated["ledger"]
    assert sorted(e["block"] for e in billed) == list(range(1, 10)), "each block billed exactly once"
    assert sum(e["seconds_billed"] for e in billed) == doc["usage"]["veo_seconds"] == 64
    announced = generated["announced"]
    assert sorted(m.block for m in announced if m.kind == "block_ready") == list(range(9))
    assert [m.kind for m in announced if m.kind != "block_ready"] == ["assembly_request"]


def test_assembler_transcribes_announced_blocks_ahead_once(clients, transcribed):
    video_id = transcribed["video_id"]
    stored = block_transcripts.stored_blocks(clients, video_id)
    assert sorted(stored) == list(range(8))
    windows = block_transcripts.windows_of_plan(transcribed["doc"]["plan"])
    for block, transcript in stored.items():
        assert transcript.words, f"block {block} heard nothing"
        assert all(windows[block].holds(word) for word in transcript.words)
    assert transcribed["doc"]["status"] == "video_generated"


def test_duplicate_video_request_is_acknowledged_without_calling_veo(pipeline, simulator, generated):
    video_id = generated["video_id"]
    before = len(simulator.ledger())
    status_before = pipeline.doc(video_id)["status"]
    for _ in range(2):
        assert pipeline.deliver(VIDEO_REQUESTS, VideoRequest(video_id=video_id)).status_code < 300
    assert len(simulator.ledger()) == before
    assert pipeline.doc(video_id)["status"] == status_before
    assert pipeline.published_for(ASSEMBLY_REQUESTS, video_id) == []


def test_assembler_delivers_the_files(pipeline, clients, assembled, tmp_path):
    video_id = assembled["video_id"]
    doc = assembled["doc"]
    assert doc["status"] == "assembled", doc.get("error")
    final = ffprobe(pipeline.download(doc["final_video_url"], tmp_path / "final.mp4"))
    video = next(s for s in final["streams"] if s["codec_type"] == "video")
    assert (video["width"], video["height"]) == (1080, 1920)
    assert abs(float(final["format"]["duration"]) - doc["duration"]) < 0.1
    srt = pipeline.download(doc["srt_url"], tmp_path / "subs.srt").read_text()
    assert "-->" in srt
    assert doc["assembly"]["transcript_blocks_reused"] == 8
    script = read_json(clients.storage, doc["script_uri"])
    assert words_of(srt_text(srt)) == words_of(dialogue_of(script)), "subtitles say what the script says"
    thumb = ffprobe(pipeline.download(doc["thumbnail_url"], tmp_path / "thumb.jpg"))
    assert (thumb["streams"][0]["width"], thumb["streams"][0]["height"]) == (540, 960)
    assert assembled["published"] == ["qa_request"]
    # a duplicate is acknowledged and changes nothing
    before = pipeline.doc(video_id)["updated_at"]
    assert pipeline.deliver(ASSEMBLY_REQUESTS, AssemblyRequest(video_id=video_id)).status_code < 300
    assert pipeline.doc(video_id)["updated_at"] == before


def test_assembler_finishes_announced_blocks_pictures_ahead_and_joins_them(pipeline, clients, transcribed, assembled,
                                                                           tmp_path):
    """Blocks 0-7 were encoded when announced (block 3's duplicate made nothing more); the finish made block 8
    and joined all nine by packet copy into a file that decodes whole, frame by frame, at 24 fps."""
    video_id = assembled["video_id"]
    names = [b.name for b in clients.storage.list_blobs(clients.settings.bucket, prefix=f"segments/{video_id}/")]
    ahead = {n.split("/")[-1].split("-")[1] for n in names if n.endswith("-final.mp4")}
    assert {f"{k:02d}" for k in range(9)} <= ahead
    assert len([n for n in names if "/block-03-" in n and n.endswith("-final.mp4")]) == 1, "one segment per key"
    doc = assembled["doc"]
    assert doc["assembly"]["segments_reused"] >= 7, doc["assembly"]
    assert doc["picture"]["joins"] == [8 + 7 * k for k in range(8)]
    final = pipeline.download(doc["final_video_url"], tmp_path / "final.mp4")
    counted = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries",
                              "stream=nb_read_frames,avg_frame_rate", "-of", "csv=p=0", str(final)],
                             check=True, capture_output=True, text=True).stdout.strip()
    assert counted == f"24/1,{64 * 24}", counted
    decode = subprocess.run(["ffmpeg", "-v", "error", "-xerror", "-i", str(final), "-f", "null", "-"],
                            capture_output=True, text=True)
    assert decode.returncode == 0, decode.stderr


def test_qa_agent_completes_the_job(pipeline, clients, assembled):
    video_id = assembled["video_id"]
    response = pipeline.deliver(QA_REQUESTS, QaRequest(video_id=video_id))
    assert response.status_code < 300, response.text
    doc = pipeline.doc(video_id)
    assert doc["status"] == "completed", doc.get("error")
    report = read_json(clients.storage, doc["qa_report_url"])
    assert report["passed"] is True
    assert {c["name"] for c in report["checks"]} >= {"resolution", "duration_seconds", "faststart"}
    assert report["measurements"]["picture_from"] == "segments", "QA did not decode the joined picture again"
    assert [h["status"] for h in doc["history"]] == [
        "script_ready", "video_generating", "video_generated", "assembling", "assembled", "qa_passed", "completed"]


@pytest.mark.parametrize("body, code", [
    ({"style": "anime"}, "invalid_theme"),
    ({"theme": "ok theme", "style": "noir"}, "invalid_style"),
    ({"theme": "ok theme", "language": "de"}, "invalid_language"),
    ({"theme": "ok theme", "music": "no_such_track"}, "invalid_music"),
    ({"theme": "ok theme", "character_id": "ghost"}, "character_not_found"),
    ({"theme": "ok theme", "extra": 1}, "unknown_field"),
    ("just a string", "invalid_body"),
])
def test_bad_input_gets_a_4xx_with_code_and_message(pipeline, body, code):
    response = pipeline.create_video(body)
    assert 400 <= response.status_code < 500
    error = response.json()["error"]
    assert error["code"] == code and error["message"]


def test_malformed_http_requests(pipeline):
    import requests

    base = pipeline.cloud.url_of("agent-script")
    auth = pipeline.headers()
    not_json = requests.post(f"{base}/videos", data="{theme", headers={**auth, "Content-Type": "application/json"})
    assert (not_json.status_code, not_json.json()["error"]["code"]) == (400, "invalid_json")
    wrong_type = requests.post(f"{base}/videos", data="theme=x", headers={**auth, "Content-Type": "text/plain"})
    assert wrong_type.status_code == 415
    too_big = requests.post(f"{base}/videos", json={"theme": "x" * 20000}, headers=auth)
    assert too_big.status_code == 413
    assert requests.get(f"{base}/videos/v-nonexistent-123", headers=auth).status_code == 404
    assert requests.delete(f"{base}/videos", headers=auth).status_code == 405


def test_malformed_message_is_parked_for_the_dead_letter_path(pipeline):
    """Acknowledged at once (no redelivery): the agent parks it on the dead-letter topic
    (tests/integration/ops/test_dead_letters.py follows it to the monitor's record)."""
    response = pipeline.deliver_raw(ASSEMBLY_REQUESTS, b'{"schema_version": 1, "kind": "assembly_request"}')
    assert response.status_code < 300


def test_monitor_republishes_a_stalled_step_once_then_fails_it(pipeline, clients):
    import datetime as dt

    import requests

    video_id = "vtest-stalled-0001"
    status.doc_ref(clients.db, video_id).set({
        "video_id": video_id, "status": "video_generated", "history": [],
        "updated_at": status.utcnow(), "next_attempt_at": status.utcnow() - dt.timedelta(seconds=1)})
    monitor = pipeline.cloud.url_of("agent-monitor")
    first = requests.post(monitor, timeout=60).json()
    assert {"video_id": video_id, "status": "video_generated", "outcome": "republished"} in first["jobs"]
    again = requests.post(monitor, timeout=60).json()
    assert video_id not in [j["video_id"] for j in again["jobs"]], "a retry must not be published twice"
    [message] = pipeline.published_for(ASSEMBLY_REQUESTS, video_id)
    assert (message.origin, message.attempt) == ("monitor", 1)
    for _ in range(3):  # as if each backoff had run out
        past = status.utcnow() - dt.timedelta(seconds=1)
        status.doc_ref(clients.db, video_id).update({"next_attempt_at": past, "monitor.not_before": past})
        requests.post(monitor, timeout=60)
    doc = pipeline.doc(video_id)
    assert doc["status"] == "failed" and doc["error"]["code"] == "retries_exhausted"
    assert doc["monitor"]["attempts"] == 4 and len(doc["monitor"]["reasons"]) == 4
    pipeline.published_for(ASSEMBLY_REQUESTS, video_id)
