"""Vertex AI mode end to end, on a second local cloud (GENAI_MODE=vertex): the crash window between Veo
accepting a block and its operation name being stored, and a 60–90 s job planned as several segments,
joined without a seam, delivered, and billed exactly its delivered seconds."""
from __future__ import annotations

import dataclasses
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from shared.core import status
from shared.core.config import VERTEX, settings_from_env
from shared.core.messages import VideoRequest
from shared.core.storage import read_json
from shared.core.topics import EVENT_ROUTES
from shared.video import veo
from shared.video.chain import block_output_prefix
from shared.video.prompts import block_prompt
from shared.video.segments import join_segments
from shared.video.step import generate_video
from tests.conftest import ROOT, TEST_PORT_OFFSET, TEST_SETTINGS
from tests.support import Pipeline, SimulatorControl, billed_seconds, drive_video_step, ffprobe, make_job

pytestmark = pytest.mark.timeout(1200)
VERTEX_OFFSET = TEST_PORT_OFFSET + 50  # beside the default test stack, never on it


@pytest.fixture(scope="module")
def vertex(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """A second local cloud in Vertex AI mode; this module's Google clients point at it."""
    from infra.local.cloud import LocalCloud, patched_environ
    from shared.core.clients import make_clients
    from shared.core.config import LocalPorts

    d = LocalPorts()
    ports = LocalPorts(d.firestore + VERTEX_OFFSET, d.pubsub + VERTEX_OFFSET, d.gcs + VERTEX_OFFSET,
                       d.simulator + VERTEX_OFFSET, d.agents_base + VERTEX_OFFSET)
    cloud = LocalCloud(ROOT, ports, extra_env={**TEST_SETTINGS, "GENAI_MODE": VERTEX},
                       state_dir=tmp_path_factory.mktemp("vertex-cloud"))
    cloud.start()
    try:
        with patched_environ(cloud.env()):
            clients = make_clients(settings_from_env(cloud.env()))
            assert clients.settings.genai_mode == VERTEX and clients.settings.veo_model.endswith("-001")
            yield {"cloud": cloud, "clients": clients, "pipeline": Pipeline(cloud, clients),
                   "simulator": SimulatorControl(cloud.url_of("simulator"))}
    finally:
        cloud.stop()


@pytest.fixture
def pulled(vertex):
    vertex["pipeline"].use_pull()
    vertex["simulator"].clear_ledger()
    yield vertex
    for route in EVENT_ROUTES:
        vertex["pipeline"].drain(route)


def _orphan(clients, video_id: str, prefix: str) -> None:
    status.transition(clients.db, video_id, status.Status.VIDEO_GENERATING, {"blocks": {"0": {
        "state": "submitting", "attempt": 1, "owner": "crashed", "at": status.utcnow(),
        "model": clients.settings.veo_model, "output_prefix": prefix}}})


def test_accepted_block_whose_operation_name_was_lost_is_adopted_not_resubmitted(pulled):
    clients, pipeline, simulator = pulled["clients"], pulled["pipeline"], pulled["simulator"]
    video_id = make_job(clients)
    prefix = block_output_prefix(clients.settings, video_id, 0, 1)
    script = read_json(clients.storage, pipeline.doc(video_id)["script_uri"])
    # The dead invocation: Veo accepted block 0, then the process died before storing the operation name.
    veo.submit(clients.genai, VERTEX, [clients.settings.veo_model],
               veo.VeoInput(block_prompt(script, 0), 8, output_gcs_uri=prefix))
    _orphan(clients, video_id, prefix)
    assert all(code < 300 for code in drive_video_step(pipeline, video_id))
    doc = pipeline.doc(video_id)
    assert doc["status"] == "video_generated", doc.get("error")
    assert doc["blocks"]["0"]["recovered"] is True and doc["blocks"]["0"]["video_uri"].startswith(prefix)
    ledger = simulator.ledger()
    assert sorted(e["block"] for e in ledger) == [1, 2], "block 0 was billed once, by the dead invocation"
    usage = doc["usage"]
    assert billed_seconds(ledger, video_id) == usage["veo_seconds"] == usage["veo_delivered_seconds"] == 15


def test_submission_that_never_reached_veo_is_submitted_again_after_the_orphan_timeout(pulled):
    clients, pipeline, simulator = pulled["clients"], pulled["pipeline"], pulled["simulator"]
    local = dataclasses.replace(clients, settings=dataclasses.replace(clients.settings, veo_orphan_seconds=0))
    video_id = make_job(clients, blocks=1)
    _orphan(clients, video_id, block_output_prefix(clients.settings, video_id, 0, 1))
    outcome = "continued"
    for attempt in range(10):
        outcome = generate_video(local, VideoRequest(video_id=video_id, attempt=attempt))
        if outcome != "continued":
            break
    doc = pipeline.doc(video_id)
    assert outcome == "video_generated" and doc["blocks"]["0"]["attempt"] == 2
    assert "/b00-a2/" in doc["blocks"]["0"]["video_uri"]
    assert billed_seconds(simulator.ledger(), video_id) == doc["usage"]["veo_seconds"] == 8


def _frame(video: Path, at: float) -> np.ndarray:
    raw = subprocess.run(["ffmpeg", "-v", "error", "-ss", f"{at:.3f}", "-i", str(video), "-frames:v", "1",
                          "-vf", "scale=90:160", "-f", "rawvideo", "-pix_fmt", "gray", "-"],
                         check=True, capture_output=True).stdout
    return np.frombuffer(raw, dtype=np.uint8).astype(np.float64)


def _rms_db(video: Path, start: float, seconds: float) -> float:
    raw = subprocess.run(["ffmpeg", "-v", "error", "-ss", f"{start:.3f}", "-t", f"{seconds:.3f}", "-i", str(video),
                          "-vn", "-ac", "1", "-ar", "16000", "-f", "s16le", "-"],
                         check=True, capture_output=True).stdout
    samples = np.frombuffer(raw, dtype=np.int16).astype(np.float64) / 32768
    return float(20 * np.log10(np.sqrt(np.mean(samples ** 2)) + 1e-12))


def test_a_vertex_job_is_planned_in_segments_joined_seamlessly_and_billed_as_delivered(vertex, tmp_path):
    pipeline, simulator = vertex["pipeline"], vertex["simulator"]
    pipeline.use_push()
    simulator.clear_ledger()
    response = pipeline.create_video({"theme": "A lighthouse keeper who befriends a storm", "language": "en",
                                      "target_seconds": 88})  # the longest the 60-90 s window allows
    assert response.status_code == 202, response.text
    video_id = response.json()["video_id"]
    doc = pipeline.wait_for(video_id, {"completed", "failed", "qa_failed"}, timeout=1100)
    assert doc["status"] == "completed", (doc.get("error"), doc.get("qa"), _qa_dialogue(pipeline, doc, tmp_path))
    plan = doc["plan"]
    assert plan["mode"] == VERTEX and len(plan["segments"]) >= 3
    assert len(doc["veo_segment_uris"]) == len(plan["segments"]) and 80 <= plan["total_seconds"] <= 90
    assert all(s["seconds"] <= 37 for s in plan["segments"])
    ledger = simulator.ledger()
    assert sorted(e["block"] for e in ledger) == list(range(1, doc["total_blocks"] + 1)), "each block billed once"
    assert {e["protocol"] for e in ledger} == {VERTEX}
    usage = doc["usage"]
    assert sum(e["seconds_billed"] for e in ledger) == usage["veo_seconds"] == usage["veo_delivered_seconds"] \
        == plan["total_seconds"] == doc["planned_seconds"]
    second_start = plan["segments"][1]["first_block"] + 1
    assert [e["image_input"] for e in ledger if e["block"] == second_start] == [True]

    parts = [pipeline.download(uri, tmp_path / f"segment-{i}.mp4") for i, uri in enumerate(doc["veo_segment_uris"])]
    joined = tmp_path / "joined.mp4"
    assert join_segments(parts, joined) == "copy", "segments share codec parameters: joined losslessly"
    seam = float(plan["segments"][0]["seconds"])
    frame_step = 1 / 24
    seam_change = np.abs(_frame(joined, seam - frame_step) - _frame(joined, seam)).mean()
    cut_change = np.abs(_frame(joined, 8 - frame_step) - _frame(joined, 8)).mean()  # an ordinary block change
    assert seam_change < 20 and seam_change < cut_change / 2, (seam_change, cut_change)
    around, at = _rms_db(joined, seam - 0.6, 0.5), _rms_db(joined, seam - 0.1, 0.2)
    assert at > -60 and abs(at - around) < 6, "no dropout or jump in the sound at the seam"

    final_path = pipeline.download(doc["final_video_url"], tmp_path / "final.mp4")
    final = ffprobe(final_path)
    assert abs(float(final["format"]["duration"]) - plan["total_seconds"]) < 0.5
    assert 60 <= plan["total_seconds"] <= 90
    # joined from per-block segments across the Veo segments: every frame there, decodable without an error
    counted = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries",
                              "stream=nb_read_frames", "-of", "csv=p=0", str(final_path)],
                             check=True, capture_output=True, text=True).stdout.strip()
    assert int(counted) == plan["total_seconds"] * 24
    decode = subprocess.run(["ffmpeg", "-v", "error", "-xerror", "-i", str(final_path), "-f", "null", "-"],
                            capture_output=True, text=True)
    assert decode.returncode == 0, decode.stderr


def _qa_dialogue(pipeline: Any, doc: dict[str, Any], tmp_path: Path) -> Any:
    """The stored QA report's per-block dialogue and the SRT, to explain a failed job."""
    if not doc.get("qa_report_url"):
        return None
    report = json.loads(pipeline.download(doc["qa_report_url"], tmp_path / "qa.json").read_text())
    srt = pipeline.download(doc["srt_url"], tmp_path / "s.srt").read_text() if doc.get("srt_url") else ""
    return report.get("dialogue"), srt
