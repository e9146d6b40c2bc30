"""Cost and presets on the real local cloud: /estimate, the budget rule, a premium_spot job through
assembler + QA (pull mode), and the bounded remedial re-assembly after a blocking QA failure.

The jobs here are 2-block (15 s) scripts made directly; their stored preset spec is the real preset
with a 10–20 s window, which is what the assembler and QA read from the status document.
"""
from __future__ import annotations

from dataclasses import replace

import pytest
import requests

from shared.api.estimates import estimate_preset
from shared.core.config import GEMINI_API
from shared.core.messages import AssemblyRequest, QaRequest
from shared.core.storage import read_json
from shared.core.topics import ASSEMBLY_REQUESTS, QA_REQUESTS
from shared.pricing.presets import PRESETS
from tests.support import drive_video_step, ffprobe, make_job

pytestmark = [pytest.mark.timeout(900), pytest.mark.usefixtures("pull_mode")]
BODY = {"theme": "A lighthouse keeper who befriends a storm", "style": "cinematic", "language": "en"}



def _estimate(pipeline, **extra) -> requests.Response:
    return pipeline.api("POST", "/estimate", json={**BODY, **extra}, timeout=60)


def test_estimate_prices_every_preset_without_creating_anything(pipeline, simulator):
    simulator.clear_ledger()
    response = _estimate(pipeline, max_cost_usd=5)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body["presets"]) == set(PRESETS) and "video_id" not in body
    quick, brand = body["presets"]["quick_social"], body["presets"]["brand_campaign"]
    assert quick["cost_usd"]["total"] < brand["cost_usd"]["total"]
    assert quick["fits_budget"] and not brand["fits_budget"] and body["would_run"] is None
    assert brand["guarantees"] and brand["delivery_seconds"] > 0
    assert body["prices"]["as_of"] and body["prices"]["veo_usd_per_second"]["lite"] > 0
    assert simulator.ledger() == [], "an estimate must not call Veo"


def test_over_budget_request_is_refused_with_the_estimates(pipeline):
    response = pipeline.create_video({**BODY, "max_cost_usd": 5})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "over_budget" and "allow_downgrade" in error["message"]
    assert error["estimates"]["quick_social"]["cost_usd"]["total"] <= 5
    cheapest = pipeline.create_video({**BODY, "max_cost_usd": 0.2, "allow_downgrade": True})
    assert cheapest.status_code == 422 and "cheapest" in cheapest.json()["error"]["message"]


def test_downgrade_is_applied_only_when_allowed_and_the_status_says_so(pipeline):
    response = pipeline.create_video({**BODY, "max_cost_usd": 5, "allow_downgrade": True})
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["preset"] == "quick_social" and body["downgrade"]["from"] == "brand_campaign"
    doc = pipeline.doc(body["video_id"])
    assert doc["preset"] == "quick_social" and doc["downgrade"]["to"] == "quick_social"
    assert doc["veo_model"] == "veo-3.1-lite-generate-preview"
    assert doc["total_blocks"] == 4 and doc["estimate"]["cost_usd"]["total"] <= 5
    public = requests.get(body["status_url"], headers=pipeline.headers(), timeout=10).json()
    assert public["downgrade"]["from"] == "brand_campaign" and public["estimate"]["preset"] == "quick_social"


def _short_job(clients, preset_name: str, **fields) -> str:
    """A 2-block job under a real preset whose duration window is shrunk to 10–20 s."""
    preset = replace(PRESETS[preset_name], min_seconds=10, max_seconds=20)
    estimate = estimate_preset(preset, 2, mode=GEMINI_API, theme="a quiet harbour", style="cinematic", language="en")
    return make_job(clients, 2, preset=preset.name, preset_spec=preset.to_doc(),
                    veo_model=preset.veo_model(GEMINI_API), estimate=estimate, **fields)


def _assemble_and_check(pipeline, video_id: str) -> dict:
    assert pipeline.deliver(ASSEMBLY_REQUESTS, AssemblyRequest(video_id=video_id)).status_code < 300
    assert [m.kind for m in pipeline.published_for(QA_REQUESTS, video_id)] == ["qa_request"]
    assert pipeline.deliver(QA_REQUESTS, QaRequest(video_id=video_id)).status_code < 300
    return pipeline.doc(video_id)


def test_premium_spot_delivers_its_extra_rendition_and_both_subtitle_formats(pipeline, clients, tmp_path):
    video_id = _short_job(clients, "premium_spot")
    drive_video_step(pipeline, video_id)
    assert pipeline.doc(video_id)["status"] == "video_generated"
    pipeline.published_for(ASSEMBLY_REQUESTS, video_id)
    doc = _assemble_and_check(pipeline, video_id)
    assert doc["status"] == "completed", (doc.get("error"), doc.get("qa"))
    preview = ffprobe(pipeline.download(doc["rendition_urls"]["preview_720"], tmp_path / "preview.mp4"))
    video = next(s for s in preview["streams"] if s["codec_type"] == "video")
    assert (video["width"], video["height"]) == (720, 1280)
    assert abs(float(preview["format"]["duration"]) - doc["duration"]) < 0.1
    assert "WEBVTT" in pipeline.download(doc["vtt_url"], tmp_path / "s.vtt").read_text()
    report = read_json(clients.storage, doc["qa_report_url"])
    assert report["passed"] and report["preset"]["name"] == "premium_spot"
    assert {c["name"] for c in report["checks"] if c["blocking"]} == set(PRESETS["premium_spot"].blocking)
    markdown = pipeline.download(doc["qa_report_md_url"], tmp_path / "qa.md").read_text()
    assert "PASSED" in markdown and "| dialogue_delivered |" in markdown
    receipt = doc["receipt"]
    assert receipt["billed"]["veo_seconds_by_model"] == {"veo-3.1-generate-preview": 15}
    assert receipt["within_tolerance"] and abs(receipt["difference_pct"]) <= 5, receipt


def test_blocking_qa_failure_gets_one_bounded_remedial_reassembly(pipeline, clients):
    # The mix is first aimed 6 LU too quiet (as a faulty assembly would be): QA must refuse it.
    video_id = _short_job(clients, "brand_campaign", remedial={"loudness_target_lufs": -20.0})
    drive_video_step(pipeline, video_id)
    pipeline.published_for(ASSEMBLY_REQUESTS, video_id)
    doc = _assemble_and_check(pipeline, video_id)
    assert doc["status"] == "qa_failed" and doc["qa"]["blocking_failures"] == ["integrated_loudness_lufs"]
    assert doc["qa"]["failed_checks"]["integrated_loudness_lufs"]["measured"] < -18
    monitor = requests.post(pipeline.cloud.url_of("agent-monitor"), timeout=120).json()
    assert {"video_id": video_id, "status": "qa_failed", "outcome": "remediated"} in monitor["jobs"]
    [message] = pipeline.published_for(ASSEMBLY_REQUESTS, video_id)
    assert message.origin == "monitor"
    doc = pipeline.doc(video_id)
    assert doc["remedial"]["attempts"] == 1 and abs(doc["remedial"]["loudness_target_lufs"] + 14) < 1
    doc = _assemble_and_check(pipeline, video_id)
    assert doc["status"] == "completed", doc.get("qa")
    assert abs(doc["assembly"]["loudness_lufs"] + 14) <= 1
    history = [h["status"] for h in doc["history"]]
    assert history.count("assembling") == 2 and "qa_failed" in history
    assert any("re-assembled 1 time" in r for r in doc["receipt"]["reasons"])
