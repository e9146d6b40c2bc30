"""The live smoke kit in Vertex AI mode against the local cloud (simulator + fake GCS): fetchPredictOperation
polling, videos written under the gs:// output prefix and downloaded from the bucket, the extension of a gs://
video. Starts the session's local cloud (tests/conftest.py; TEST_PORT_OFFSET moves its ports).

What would fail: a kit whose Vertex AI path differs from the pipeline's (no output prefix, bytes instead of a
gs:// URI, a download through the wrong client), or a Vertex run that records a bearer token.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(400)

ROOT = Path(__file__).resolve().parents[3]


def test_the_kit_completes_every_step_in_vertex_mode_against_the_local_cloud(local_cloud, simulator,  # type: ignore[no-untyped-def]
                                                                            tmp_path: Path) -> None:
    simulator.clear_ledger()
    env = {k: v for k, v in os.environ.items() if k not in ("CONFIRM", "GEMINI_API_KEY", "GENAI_MODE")}
    env.update(local_cloud.env(), VERTEX_LOCATION="us-central1", PIPELINE_BUCKET=local_cloud.bucket, CONFIRM="1",
               PYTHONPATH=str(ROOT))
    run = subprocess.run(
        [sys.executable, "-m", "tools.smoke_live", "--mode", "vertex", "--out", str(tmp_path / "fixtures"),
         "--media-dir", str(tmp_path / "media"), "--poll-seconds", "0.3", "--max-wait", "120"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=360, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].startswith("expected cost: $") and "veo-3.1-fast-generate-001" in lines[0]
    assert "smoke-live: 5/5 steps ok" in lines[-1]
    [folder] = list((tmp_path / "fixtures").iterdir())
    steps = {p.stem.split("-", 1)[1]: json.loads(p.read_text()) for p in folder.glob("0*.json")}
    for name in ("text_to_video", "extension", "image_to_video"):
        result = steps[name]["result"]
        assert result["video_uri"].startswith(f"gs://{local_cloud.bucket}/smoke-live/"), result
        urls = [e["url"] for e in steps[name]["exchanges"]]
        assert urls[0].endswith("veo-3.1-fast-generate-001:predictLongRunning")
        assert all(url.endswith(":fetchPredictOperation") for url in urls[1:])
    assert steps["extension"]["result"]["duration_s"] == pytest.approx(15, abs=0.3)
    for path in folder.glob("*.json"):
        text = path.read_text()
        assert "local-simulator" not in text and "Bearer" not in text, path.name
