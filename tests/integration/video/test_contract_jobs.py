"""The video step under the Google AI contract (issue 18), on the local cloud:

- quick_social (Veo 3.1 Lite) in both API modes: no Lite extension is ever sent on the Gemini API (V3), every
  block there is an 8 s image-to-video clip; on Vertex AI Lite extends;
- an audio block is resubmitted with the same prompt, free (E8, B7);
- an operation past VEO_OPERATION_DEADLINE_SECONDS is abandoned, recorded unbilled, and resubmitted;
- a Gemini API video near its 2-day retention is not extended (R1-R3): the next block opens a new segment from
  its last frame; a file already gone fails the job with `veo_input_expired`;
- a submission that never left releases its claim; one that timed out after leaving stays unknown (K1).

Vertex AI runs in this process against the same simulator (it speaks both protocols), so no second local cloud
is started; everything else goes through the video agent.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import time

import pytest

from shared.core import status
from shared.core.clients import make_genai
from shared.core.config import GEMINI_API, VERTEX
from shared.core.errors import GenerationError, TransientError
from shared.core.messages import VideoRequest
from shared.core.storage import read_json
from shared.core.topics import ASSEMBLY_REQUESTS, VIDEO_REQUESTS
from shared.video import veo
from shared.video.inputs import kept_video
from shared.video.prompts import block_prompt
from shared.video.step import generate_video
from tests.support import drive_video_step, make_job, scene_of

pytestmark = [pytest.mark.timeout(600), pytest.mark.usefixtures("pull_mode")]
LITE_G, LITE_V = "veo-3.1-lite-generate-preview", "veo-3.1-lite-generate-001"
HOUR = 3600.0


@pytest.fixture(autouse=True)
def clean_simulator(simulator):
    simulator.clear_faults()
    simulator.clear_ledger()
    yield
    simulator.clear_faults()
    simulator.reset_clock()


def _entries(simulator, video_id: str) -> list[dict]:
    return [e for e in simulator.ledger() if video_id in (e.get("scene") or "")]


def _rule(kind: str, video_id: str, block: int, times: int = 1, **extra) -> dict:
    return {"kind": kind, "match": f"Scene: {scene_of(video_id, block)}", "times": times, **extra}


def _in_process(clients, video_id: str) -> str:
    """The video step in this process (its own settings) until it stops continuing itself."""
    outcome = "continued"
    for attempt in range(20):
        outcome = generate_video(clients, VideoRequest(video_id=video_id, attempt=attempt))
        if outcome != "continued":
            break
    return outcome


def _with(clients, **settings):
    """`clients` with changed settings (and a google-genai client built for them)."""
    changed = dataclasses.replace(clients.settings, **settings)
    return dataclasses.replace(clients, settings=changed, genai=make_genai(changed))


def _billed_as_recorded(simulator, doc, video_id: str) -> None:
    charged = sum(e["billed_seconds"] for e in _entries(simulator, video_id))
    assert charged == doc["usage"]["veo_seconds"] == doc["usage"]["veo_delivered_seconds"]


def test_quick_social_on_the_gemini_api_sends_no_lite_extension(pipeline, simulator, clients):
    video_id = make_job(clients, blocks=2, preset="quick_social", veo_model=LITE_G)
    assert all(code < 300 for code in drive_video_step(pipeline, video_id))
    doc = pipeline.doc(video_id)
    assert doc["status"] == "video_generated", doc.get("error")
    entries = _entries(simulator, video_id)
    assert [(e["block"], e["model"], e["extension"], e["image_input"]) for e in entries] == [
        (1, LITE_G, False, False), (2, LITE_G, False, True)], "block 2 starts from block 1's last frame"
    refused = simulator.billing()["refused"]
    assert not [k for k in refused if k.startswith("predictLongRunning 400")], refused
    assert [s["seconds"] for s in doc["plan"]["segments"]] == [8, 8] and doc["planned_seconds"] == 16
    assert len(doc["veo_segment_uris"]) == 2
    _billed_as_recorded(simulator, doc, video_id)
    assert doc["usage"]["veo_seconds_by_model"] == {LITE_G: 16}


def test_quick_social_on_vertex_extends_with_lite(pipeline, simulator, clients):
    vertex = _with(clients, genai_mode=VERTEX, veo_model="veo-3.1-generate-001")
    video_id = make_job(clients, blocks=2, preset="quick_social", veo_model=LITE_G)  # as stored in G spelling
    assert _in_process(vertex, video_id) == "video_generated"
    doc = pipeline.doc(video_id)
    entries = _entries(simulator, video_id)
    assert [(e["block"], e["model"], e["extension"], e["protocol"]) for e in entries] == [
        (1, LITE_V, False, VERTEX), (2, LITE_V, True, VERTEX)]
    assert doc["plan"]["segments"] == [{"index": 0, "first_block": 0, "last_block": 1, "seconds": 15}]
    _billed_as_recorded(simulator, doc, video_id)
    pipeline.published_for(VIDEO_REQUESTS, video_id)


def test_an_audio_block_is_resubmitted_unchanged_and_free(pipeline, simulator, clients):
    video_id = make_job(clients, blocks=1)
    simulator.set_faults([_rule("audio_block", video_id, 0)])
    assert all(code < 300 for code in drive_video_step(pipeline, video_id))
    doc = pipeline.doc(video_id)
    assert doc["status"] == "video_generated", doc.get("error")
    block = doc["blocks"]["0"]
    assert (block["attempt"], block["rephrased"], block["audio_retries"]) == (2, False, 1)
    assert block["past_attempts"][0]["state"] == "filtered" and "audio" in block["past_attempts"][0]["reason"]
    entries = _entries(simulator, video_id)
    assert [(e["outcome"], e["filter_reason"], e["billed"]) for e in entries] == [
        ("filtered", "audio", False), ("rendered", None, True)]
    assert entries[0]["prompt_sha256"] == entries[1]["prompt_sha256"], "the same prompt, not the rephrase"
    assert doc["usage"]["veo_audio_retries"] == 1 and doc["usage"]["veo_unbilled_attempts"] == 1
    _billed_as_recorded(simulator, doc, video_id)


def test_an_operation_past_its_deadline_is_abandoned_and_resubmitted(pipeline, simulator, clients):
    video_id = make_job(clients, blocks=1)
    simulator.set_faults([_rule("slow", video_id, 0, delay_seconds=120)])
    # longer than a normal render here (a few seconds), far shorter than the slowed one
    assert _in_process(_with(clients, veo_operation_deadline_seconds=15), video_id) == "video_generated"
    doc = pipeline.doc(video_id)
    block = doc["blocks"]["0"]
    assert (block["state"], block["attempt"], block["deadline_resubmissions"]) == ("done", 2, 1)
    [abandoned] = block["past_attempts"]
    assert (abandoned["state"], abandoned["reason"], abandoned["billed"]) == ("abandoned", "operation_deadline", False)
    entries = _entries(simulator, video_id)
    assert len(entries) == 2 and entries[0]["operation"] == abandoned["operation"]
    usage = doc["usage"]
    assert (usage["veo_seconds"], usage["veo_unbilled_attempts"], usage["veo_deadline_resubmissions"]) == (8, 1, 1)
    pipeline.published_for(VIDEO_REQUESTS, video_id)


def _made_long_ago(clients, video_id: str, hours: float, operation: str, video_uri: str) -> None:
    """Record block 0 of a job as done `hours` ago (its Gemini API file is the simulator's, aged by its clock)."""
    at = status.utcnow() - dt.timedelta(hours=hours)
    status.transition(clients.db, video_id, status.Status.VIDEO_GENERATING, {"blocks": {"0": {
        "state": "done", "attempt": 1, "owner": "earlier", "at": at, "submitted_at": at, "finished_at": at,
        "operation": operation, "video_uri": video_uri, "model": clients.settings.veo_model, "seconds": 8}}})


def _first_block(clients, video_id: str) -> tuple[str, str]:
    """Block 0 of a job made now, as the video step would: (operation name, Gemini API video URI)."""
    script = read_json(clients.storage, f"gs://{clients.settings.bucket}/scripts/{video_id}.json")
    request = veo.VeoInput(block_prompt(script, 0), 8)
    operation = veo.submit(clients.genai, GEMINI_API, [clients.settings.veo_model], request).operation
    deadline = time.monotonic() + 120
    while (result := veo.poll(clients.genai, operation)) is None and time.monotonic() < deadline:
        time.sleep(0.5)
    assert result and result.video_uri
    return operation, result.video_uri


def test_a_video_near_its_retention_is_not_extended_and_a_gone_one_fails_clearly(pipeline, simulator, clients):
    near, gone = make_job(clients, blocks=2), make_job(clients, blocks=2)
    operation, video_uri = _first_block(clients, near)
    simulator.advance_clock(47.5 * HOUR)  # the simulator deletes its files at 48 h; the pipeline stops at 47 h
    _made_long_ago(clients, near, 47.5, operation, video_uri)
    assert all(code < 300 for code in drive_video_step(pipeline, near))
    doc = pipeline.doc(near)
    assert doc["status"] == "video_generated", doc.get("error")
    [block_2] = [e for e in _entries(simulator, near) if e["block"] == 2]
    assert (block_2["extension"], block_2["image_input"], block_2["seconds_requested"]) == (False, True, 8)
    assert [s["seconds"] for s in doc["plan"]["segments"]] == [8, 8] and doc["plan_splits"][0]["block"] == 1
    assert kept_video(clients, near, 0) and len(doc["veo_segment_uris"]) == 2, "block 0's video kept and delivered"

    simulator.advance_clock(1.5 * HOUR)  # 49 h: the Gemini API has deleted that file
    _made_long_ago(clients, gone, 49, operation, video_uri)  # a job whose block 0 is the same, older file
    drive_video_step(pipeline, gone)
    doc = pipeline.doc(gone)
    assert doc["status"] == "failed" and doc["error"]["code"] == "veo_input_expired", doc.get("error")
    assert _entries(simulator, gone) == [], "nothing was sent for block 2"
    pipeline.published_for(ASSEMBLY_REQUESTS, near)


def test_a_submission_that_never_left_releases_its_claim(pipeline, simulator, clients):
    video_id = make_job(clients, blocks=1)
    unreachable = _with(clients, genai_base_url="http://127.0.0.1:9", veo_retry_attempts=2,
                        veo_retry_max_wait_seconds=0.01)
    with pytest.raises(TransientError) as busy:
        generate_video(unreachable, VideoRequest(video_id=video_id))
    assert busy.value.code == "veo_busy"
    doc = pipeline.doc(video_id)
    assert "0" not in doc["blocks"], "the claim was released: the block is new again, not `submitting`"
    assert doc["usage"]["veo_retries"] == 2 and _entries(simulator, video_id) == []


def test_a_submission_that_timed_out_after_leaving_stays_unknown(pipeline, simulator, clients):
    video_id = make_job(clients, blocks=1)
    simulator.set_faults([_rule("stall", video_id, 0, delay_seconds=2)])
    with pytest.raises(TransientError, match="outcome unknown"):
        generate_video(_with(clients, genai_timeout_seconds=1), VideoRequest(video_id=video_id))
    assert pipeline.doc(video_id)["blocks"]["0"]["state"] == "submitting"
    with pytest.raises(GenerationError) as unknown:
        generate_video(clients, VideoRequest(video_id=video_id))
    assert unknown.value.code == "veo_submission_unknown"
