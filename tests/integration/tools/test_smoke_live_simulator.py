"""The live smoke kit run end to end against the simulator (own subprocess, free port): every step completes
through the production code paths, the cost line comes first, and the recordings hold no secret.

What would fail: a kit that skips or double-calls a step (the simulator's call counts are exact), spends before
CONFIRM=1 (nothing may reach the simulator), prints anything before the cost line, records the API key or a
full base64 payload, or sends requests without the HTTP timeout (a stalled request must time out).
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.support import SimulatorControl

pytestmark = pytest.mark.timeout(300)

ROOT = Path(__file__).resolve().parents[3]
FAKE_KEY = "AIzaFAKE-smoke-live-test-key-0123456789abc"  # shaped like a Google key: the patterns must catch it too
# The script and image models are the deployed defaults (shared.core.config): the simulator answers 404 for the
# retired ids (contract M5, M7), so a stale default fails here as it would against Google.
SETTINGS_OF_THE_CALLER = ("GENAI_BASE_URL", "CONFIRM", "GEMINI_API_KEY", "SCRIPT_MODEL", "IMAGE_MODEL", "VEO_MODEL",
                          "GENAI_TIMEOUT_SECONDS", "PIPELINE_ENV", "GENAI_MODE")
STEPS = ("script", "image", "text_to_video", "extension", "image_to_video")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def simulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulatorControl]:
    """The simulator alone, on a free port, stopped by its pid at the end."""
    port = _free_port()
    log = (tmp_path_factory.mktemp("sim") / "simulator.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "infra.local.simulator", "--host", "127.0.0.1", "--port", str(port),
         "--data-dir", str(tmp_path_factory.mktemp("sim-data"))],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, "the simulator exited"
            try:
                if requests.get(f"{url}/_sim/health", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, "the simulator did not become healthy"
            time.sleep(0.1)
        yield SimulatorControl(url)
    finally:
        os.kill(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
        log.close()


@pytest.fixture(autouse=True)
def clean(simulator: SimulatorControl) -> None:
    simulator.clear_ledger()
    simulator.clear_faults()


def run_kit(simulator: SimulatorControl, tmp_path: Path, *args: str, confirm: bool = True,
            timeout: float = 240) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in SETTINGS_OF_THE_CALLER}
    env.update(GEMINI_API_KEY=FAKE_KEY, PYTHONPATH=str(ROOT), **({"CONFIRM": "1"} if confirm else {}))
    return subprocess.run(
        [sys.executable, "-m", "tools.smoke_live", "--mode", "gemini_api", "--base-url", simulator.base_url,
         "--out", str(tmp_path / "fixtures"), "--media-dir", str(tmp_path / "media"), "--poll-seconds", "0.3",
         "--max-wait", "120", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False)


def recordings(tmp_path: Path) -> Path:
    folders = list((tmp_path / "fixtures").iterdir())
    assert len(folders) == 1, folders
    return folders[0]


def test_the_kit_completes_every_step_against_the_simulator_and_records_no_secret(
        simulator: SimulatorControl, tmp_path: Path) -> None:
    run = run_kit(simulator, tmp_path, "--http-timeout", "90")
    lines = run.stdout.splitlines()
    assert run.returncode == 0, run.stdout + run.stderr
    assert lines[0].startswith("expected cost: $") and "23 s" in lines[0], lines[0]
    for number, step in enumerate(STEPS, 1):
        assert any(line.strip().startswith(f"[{number}/5] {step}") and " ok " in line for line in lines), step
    assert "smoke-live: 5/5 steps ok" in lines[-1]
    assert FAKE_KEY not in run.stdout + run.stderr

    # exactly the smallest sequence reached the API: 2 generateContent, 3 Veo calls, 8 + 7 + 8 s billed
    billing = simulator.billing()
    assert billing["calls"]["generateContent"] == 2 and billing["calls"]["predictLongRunning"] == 3
    assert billing["billed_seconds"] == 23 and billing["calls"]["download"] == 3

    folder = recordings(tmp_path)
    assert folder.name.endswith("-gemini_api-via-127.0.0.1_" + simulator.base_url.rsplit(":", 1)[1])
    names = sorted(p.name for p in folder.glob("*.json"))
    assert names == ["01-script.json", "02-image.json", "03-text_to_video.json", "04-extension.json",
                     "05-image_to_video.json", "manifest.json"]
    for path in folder.glob("*.json"):
        text = path.read_text()
        assert FAKE_KEY not in text and "AIza" not in text, path.name
        assert "NOT Google" in json.loads(text)["label"], path.name
    steps = {p.stem.split("-", 1)[1]: json.loads(p.read_text()) for p in folder.glob("0*.json")}
    assert all(doc["status"] == "ok" and doc["exchanges"] for doc in steps.values())
    # media payloads are cut to a valid base64 prefix, and the cut is listed
    image_answer = steps["image"]["exchanges"][0]
    assert image_answer["truncated"]["response"][0]["path"].endswith("inlineData.data")
    i2v_submit = steps["image_to_video"]["exchanges"][0]
    assert len(i2v_submit["request_body"]["instances"][0]["image"]["bytesBase64Encoded"]) == 64
    # every request carried the client's timeout (--http-timeout -> the factory's HttpOptions.timeout ->
    # X-Server-Timeout, contract K1)
    for doc in steps.values():
        assert {e["request_headers"].get("x-server-timeout") for e in doc["exchanges"]} == {"90"}
    # the extension grew the first clip by 7 s
    assert steps["text_to_video"]["result"]["duration_s"] == pytest.approx(8, abs=0.2)
    assert steps["extension"]["result"]["duration_s"] == pytest.approx(15, abs=0.3)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["live"] is False and manifest["measured_cost"]["video_seconds"] == 23


def test_without_confirm_it_prints_the_plan_calls_nothing_and_exits_0(simulator: SimulatorControl,
                                                                      tmp_path: Path) -> None:
    run = run_kit(simulator, tmp_path, confirm=False)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[0].startswith("expected cost: $")
    assert "CONFIRM=1" in run.stdout and "nothing was called" in run.stdout
    assert not (tmp_path / "fixtures").exists()
    billing = simulator.billing()
    assert not billing["calls"] or not any(billing["calls"].values()), billing["calls"]


def test_a_stalled_request_times_out_on_the_clients_http_timeout(simulator: SimulatorControl, tmp_path: Path) -> None:
    simulator.set_faults([{"kind": "stall", "delay_seconds": 4, "method": "generateContent", "times": 5}])
    started = time.monotonic()
    run = run_kit(simulator, tmp_path, "--only", "script", "--http-timeout", "1")
    assert run.returncode == 1, run.stdout + run.stderr
    line = next(line for line in run.stdout.splitlines() if "[1/1] script" in line)
    assert " failed " in line and "Timeout" in line, line
    assert time.monotonic() - started < 30
    step = json.loads((recordings(tmp_path) / "01-script.json").read_text())
    assert step["status"] == "failed" and "Timeout" in step["error"]
