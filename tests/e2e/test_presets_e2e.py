"""Presets and receipts end to end: a quick_social job run by Pub/Sub pushes, and the receipt of
every job this session completed (the brand_campaign job of test_pipeline included) against its estimate.
"""
from __future__ import annotations

import pytest
from google.cloud.firestore_v1.base_query import FieldFilter

from shared.core import layout
from shared.core.storage import read_json
from shared.pricing.presets import PRESETS
from tests.support import ffprobe

pytestmark = pytest.mark.timeout(900)


@pytest.fixture(scope="module")
def quick(pipeline, clients, tmp_path_factory):
    """One quick_social job, end to end."""
    pipeline.use_push()
    response = pipeline.create_video({"theme": "A paper boat crossing a rainy city", "style": "cinematic",
                                      "language": "en", "preset": "quick_social"})
    assert response.status_code == 202, response.text
    doc = pipeline.wait_for(response.json()["video_id"], {"completed", "failed", "qa_failed"}, timeout=850)
    assert doc["status"] == "completed", (doc.get("error"), doc.get("qa"))
    final = pipeline.download(doc["final_video_url"], tmp_path_factory.mktemp("quick") / "final.mp4")
    return {"doc": doc, "final": final, "report": read_json(clients.storage, doc["qa_report_url"])}


def test_quick_social_is_a_short_lite_video_checked_against_its_preset(quick):
    doc, preset = quick["doc"], PRESETS["quick_social"]
    assert doc["preset"] == "quick_social" and doc["veo_model"] == "veo-3.1-lite-generate-preview"
    assert list(doc["usage"]["veo_seconds_by_model"]) == ["veo-3.1-lite-generate-preview"]
    info = ffprobe(quick["final"])
    duration = float(info["format"]["duration"])
    assert preset.min_seconds <= duration <= preset.max_seconds
    video = next(s for s in info["streams"] if s["codec_type"] == "video")
    assert (video["width"], video["height"]) == (preset.width, preset.height)
    assert quick["report"]["passed"] and quick["report"]["preset"]["name"] == "quick_social"
    assert "vtt_url" not in doc and doc["srt_url"], "quick_social delivers SRT only"
    assert doc["qa_report_md_url"].endswith(".md")


def test_quick_social_receipt_matches_its_estimate(quick):
    receipt = quick["doc"]["receipt"]
    assert receipt["billed"]["veo_seconds_by_model"]["veo-3.1-lite-generate-preview"] == \
        quick["doc"]["estimate"]["veo_seconds"]
    assert receipt["within_tolerance"] and abs(receipt["difference_pct"]) <= 5, receipt


def test_every_completed_job_has_a_receipt_within_tolerance_or_a_reason(clients, quick):
    query = clients.db.collection(layout.VIDEO_STATUS).where(filter=FieldFilter("status", "==", "completed"))
    docs = [snap.to_dict() for snap in query.stream()]
    priced = [d for d in docs if d.get("estimate")]
    assert quick["doc"]["video_id"] in {d["video_id"] for d in priced}
    for doc in priced:
        receipt = doc["receipt"]
        assert receipt["within_tolerance"] or receipt["reasons"], (doc["video_id"], receipt)
    plain = [d for d in priced if d["preset"] == "brand_campaign" and not d["receipt"]["reasons"]]
    if not plain:
        pytest.skip("no brand_campaign job completed in this session (run with tests/e2e/test_pipeline.py)")
    for doc in plain:
        assert abs(doc["receipt"]["difference_pct"]) <= 5, (doc["video_id"], doc["receipt"])
