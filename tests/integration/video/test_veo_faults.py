"""The video agent against injected Veo faults (Gemini API mode): retries, fallback, safety rephrase, 400,
malformed results, slow operations, and the crash window. In every test the seconds the simulator billed
equal the seconds recorded on the job: only delivered video is billed (contract B6, B7), so a job is billed
exactly its delivered seconds, and withheld attempts are counted apart, unbilled.
"""
from __future__ import annotations

import dataclasses

import pytest

from shared.core import status
from shared.core.messages import VideoRequest
from shared.core.topics import VIDEO_REQUESTS
from shared.pricing.receipts import build_receipt
from shared.video.step import generate_video
from tests.support import billed_seconds, drive_video_step, make_job, scene_of

pytestmark = [pytest.mark.timeout(600), pytest.mark.usefixtures("pull_mode")]
TWO_BLOCKS = 15  # 8 s + 7 s



@pytest.fixture(autouse=True)
def clean_simulator(simulator):
    simulator.clear_faults()
    simulator.clear_ledger()
    yield
    simulator.clear_faults()


def _block_rule(kind: str, video_id: str, block: int, times: int = 1, **extra) -> dict:
    return {"kind": kind, "match": f"Scene: {scene_of(video_id, block)}", "times": times, **extra}


def _assert_billed_as_recorded(simulator, doc, video_id):
    usage = doc.get("usage") or {}
    assert billed_seconds(simulator.ledger(), video_id) == usage.get("veo_seconds", 0)
    assert usage.get("veo_seconds", 0) == usage.get("veo_delivered_seconds", 0), "only delivered video is billed"


@pytest.mark.parametrize("kind", ["429", "500"])
def test_rejections_are_retried_counted_and_never_billed(pipeline, simulator, clients, kind):
    video_id = make_job(clients)
    simulator.set_faults([_block_rule(kind, video_id, 0, times=2)])
    assert all(code < 300 for code in drive_video_step(pipeline, video_id))
    doc = pipeline.doc(video_id)
    assert doc["status"] == "video_generated", doc.get("error")
    assert doc["usage"]["veo_retries"] == 2
    assert doc["usage"]["veo_delivered_seconds"] == doc["usage"]["veo_seconds"] == TWO_BLOCKS
    _assert_billed_as_recorded(simulator, doc, video_id)


def test_an_exhausted_budget_is_redelivered_then_succeeds(pipeline, simulator, clients):
    video_id = make_job(clients)
    attempts = clients.settings.veo_retry_attempts
    simulator.set_faults([_block_rule("429", video_id, 1, times=attempts)])
    codes = drive_video_step(pipeline, video_id)
    assert codes[0] >= 500 and codes[-1] < 300, "the first delivery fails transiently, a redelivery succeeds"
    doc = pipeline.doc(video_id)
    assert doc["status"] == "video_generated", doc.get("error")
    assert doc["usage"]["veo_retries"] == attempts
    assert doc["usage"]["veo_seconds"] == TWO_BLOCKS
    _assert_billed_as_recorded(simulator, doc, video_id)


def _run_in_process(clients, video_id: str) -> str:
    """Run the video step in this process (with test settings) until it stops continuing itself."""
    outcome = "continued"
    for attempt in range(20):
        outcome = generate_video(clients, VideoRequest(video_id=video_id, attempt=attempt))
        if outcome != "continued":
            return outcome
    return outcome


def test_fallback_model_takes_over_when_the_primary_stays_exhausted(pipeline, simulator, clients):
    primary, fallback = clients.settings.veo_model, "veo-3.1-fast-generate-preview"
    settings = dataclasses.replace(clients.settings, veo_fallback_model=fallback, veo_retry_max_wait_seconds=0.2)
    local = dataclasses.replace(clients, settings=settings)
    video_id = make_job(clients)
    simulator.set_faults([{"kind": "429", "model": primary, "times": 50}])
    assert _run_in_process(local, video_id) == "video_generated"
    doc = pipeline.doc(video_id)
    assert doc["fallback"]["model"] == fallback and doc["fallback"]["since_block"] == 0
    assert doc["usage"]["veo_seconds_by_model"] == {fallback: TWO_BLOCKS}
    assert {e["model"] for e in simulator.ledger()} == {fallback}
    assert doc["usage"]["veo_retries"] >= settings.veo_retry_attempts
    _assert_billed_as_recorded(simulator, doc, video_id)
    pipeline.published_for(VIDEO_REQUESTS, video_id)


def test_a_safety_block_is_rephrased_once_and_only_delivered_seconds_are_billed(pipeline, simulator, clients):
    video_id = make_job(clients)
    simulator.set_faults([_block_rule("safety", video_id, 1)])
    assert all(code < 300 for code in drive_video_step(pipeline, video_id))
    doc = pipeline.doc(video_id)
    assert doc["status"] == "video_generated", doc.get("error")
    block = doc["blocks"]["1"]
    assert block["rephrased"] is True and block["attempt"] == 2 and block["filtered"]
    assert [(a["attempt"], a["state"], a["billed"]) for a in block["past_attempts"]] == [(1, "filtered", False)]
    ledger = [e for e in simulator.ledger() if video_id in (e.get("scene") or "")]
    assert [e["outcome"] for e in ledger if e["block"] == 2] == ["filtered", "rendered"]
    filtered, rendered = (e for e in ledger if e["block"] == 2)
    assert filtered["prompt_sha256"] != rendered["prompt_sha256"], "the retry is a different prompt"
    usage = doc["usage"]
    assert usage["veo_seconds"] == usage["veo_delivered_seconds"] == TWO_BLOCKS, "the filtered 7 s are not billed"
    assert (usage["veo_filtered_seconds"], usage["veo_unbilled_attempts"]) == (7, 1)
    _assert_billed_as_recorded(simulator, doc, video_id)
    # the receipt prices the same ledger: it agrees with what the simulator charged
    receipt = build_receipt(doc, status.utcnow())
    charged: dict[str, int] = {}
    for entry in ledger:
        charged[entry["model"]] = charged.get(entry["model"], 0) + entry["billed_seconds"]
    assert receipt["billed"]["veo_seconds_by_model"] == charged == {clients.settings.veo_model: TWO_BLOCKS}
    assert receipt["cost_usd"]["veo"] == pytest.approx(sum(e["cost_usd"] for e in ledger))
    assert receipt["cost_usd"]["veo"] == doc["usage"]["cost_usd"]["veo"]


def test_a_second_safety_block_fails_the_job_with_the_reason(pipeline, simulator, clients):
    video_id = make_job(clients)
    simulator.set_faults([_block_rule("safety", video_id, 1, times=2)])
    drive_video_step(pipeline, video_id)
    doc = pipeline.doc(video_id)
    assert doc["status"] == "failed" and doc["error"]["code"] == "veo_safety_filtered"
    assert "safety" in doc["error"]["message"] and "person generation" in doc["error"]["message"]
    _assert_billed_as_recorded(simulator, doc, video_id)


def test_a_400_fails_the_job_with_the_api_message_and_bills_nothing(pipeline, simulator, clients):
    video_id = make_job(clients)
    simulator.set_faults([_block_rule("400", video_id, 0)])
    drive_video_step(pipeline, video_id)
    doc = pipeline.doc(video_id)
    assert doc["status"] == "failed" and doc["error"]["code"] == "veo_rejected"
    assert "simulated INVALID_ARGUMENT" in doc["error"]["message"]
    assert simulator.ledger() == [] and doc["usage"].get("veo_seconds", 0) == 0
    assert "0" not in (doc.get("blocks") or {}), "the refused claim was released"


def test_a_malformed_result_fails_the_job_and_its_billing_is_recorded(pipeline, simulator, clients):
    video_id = make_job(clients)
    simulator.set_faults([_block_rule("malformed", video_id, 1)])
    drive_video_step(pipeline, video_id)
    doc = pipeline.doc(video_id)
    assert doc["status"] == "failed" and doc["error"]["code"] == "veo_failed"
    assert "malformed" in doc["error"]["message"]
    assert doc["usage"]["veo_seconds"] == 8, "the malformed block delivered nothing and is not billed"
    assert doc["usage"]["veo_unbilled_attempts"] == 1
    _assert_billed_as_recorded(simulator, doc, video_id)


def test_a_slow_operation_is_polled_across_invocations_and_billed_once(pipeline, simulator, clients):
    video_id = make_job(clients, blocks=1)
    budget = clients.settings.invocation_budget_seconds
    simulator.set_faults([_block_rule("slow", video_id, 0, delay_seconds=budget + 5)])
    codes = drive_video_step(pipeline, video_id)
    doc = pipeline.doc(video_id)
    assert doc["status"] == "video_generated", doc.get("error")
    assert len(codes) >= 2, "the operation outlived one invocation"
    assert len(simulator.ledger()) == 1 and doc["usage"]["veo_seconds"] == 8
    _assert_billed_as_recorded(simulator, doc, video_id)


def test_gemini_api_orphaned_submission_fails_safely_and_is_never_resubmitted(pipeline, simulator, clients):
    video_id = make_job(clients)
    status.transition(clients.db, video_id, status.Status.VIDEO_GENERATING, {"blocks": {"0": {
        "state": "submitting", "attempt": 1, "owner": "crashed", "at": status.utcnow(), "fingerprint": "abc123"}}})
    drive_video_step(pipeline, video_id)
    doc = pipeline.doc(video_id)
    assert doc["status"] == "failed" and doc["error"]["code"] == "veo_submission_unknown"
    assert "abc123" in doc["error"]["message"]
    assert simulator.ledger() == []
