"""The Gemini/Veo simulator driven by the real google-genai 2.34 SDK over HTTP (own subprocess, free port)."""
from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import requests
from google import genai
from google.genai import errors, types
from PIL import Image

ROOT = Path(__file__).resolve().parents[3]
VEO = "veo-3.1-generate-preview"
SCRIPT_MODEL = "gemini-3.8-flash"
THEME = "a robot learning to paint"
STARTUP_TIMEOUT_S = 30
POLL_TIMEOUT_S = 120

pytestmark = pytest.mark.timeout(300)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A simulator subprocess on a free port, stopped by pid at the end."""
    port = free_port()
    log_file = (tmp_path_factory.mktemp("sim") / "simulator.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "infra.local.simulator", "--host", "127.0.0.1", "--port", str(port),
         "--data-dir", str(tmp_path_factory.mktemp("sim-data"))],
        cwd=ROOT, stdout=log_file, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_healthy(url, process)
        yield url
    finally:
        os.kill(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
        log_file.close()


def _wait_until_healthy(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"simulator exited with {process.returncode}")
        try:
            if requests.get(f"{url}/_sim/health", timeout=1).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.1)
    raise RuntimeError("simulator did not become healthy")


@pytest.fixture(scope="module")
def client(base_url: str) -> genai.Client:
    return genai.Client(api_key="test-key", http_options=types.HttpOptions(base_url=base_url))


@pytest.fixture(autouse=True)
def clean_simulator(base_url: str) -> None:
    requests.delete(f"{base_url}/_sim/ledger", timeout=5).raise_for_status()
    requests.delete(f"{base_url}/_sim/faults", timeout=5).raise_for_status()


def set_faults(base_url: str, rules: list[dict[str, Any]]) -> None:
    requests.post(f"{base_url}/_sim/faults", json=rules, timeout=5).raise_for_status()


def ledger(base_url: str) -> list[dict[str, Any]]:
    return requests.get(f"{base_url}/_sim/ledger", timeout=5).json()


def veo_prompt(block: int, total: int, dialogue: str, scene: str = "A robot paints a sunset") -> str:
    return (f"Style: cinematic — dramatic light\nScene: {scene}\nLanguage: English (en)\n"
            f'Dialogue: "{dialogue}"\nSound: brushes on canvas\nBlock: {block} of {total}\n'
            "Continuity: same robot, same studio")


def start_video(client: genai.Client, prompt: str, *, seconds: int | None = 8,
                video: types.Video | None = None, image: types.Image | None = None) -> types.GenerateVideosOperation:
    config = types.GenerateVideosConfig(duration_seconds=seconds, aspect_ratio="9:16", resolution="720p")
    source = types.GenerateVideosSource(prompt=prompt, video=video, image=image)
    return client.models.generate_videos(model=VEO, source=source, config=config)


def wait_done(client: genai.Client, op: types.GenerateVideosOperation) -> types.GenerateVideosOperation:
    deadline = time.monotonic() + POLL_TIMEOUT_S
    while not op.done:
        assert time.monotonic() < deadline, "operation never finished"
        time.sleep(0.3)
        op = client.operations.get(op)
    return op


def probe(path: Path) -> dict[str, Any]:
    out = subprocess.run(["ffprobe", "-v", "error", "-show_streams", "-of", "json", str(path)],
                         check=True, capture_output=True, text=True).stdout
    return {s["codec_type"]: s for s in json.loads(out)["streams"]}


def rms_db(path: Path, start: float, end: float) -> float:
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-ss", f"{start}", "-to", f"{end}", "-ac", "1",
                          "-ar", "16000", "-f", "s16le", "-"], check=True, capture_output=True).stdout
    samples = np.frombuffer(raw, dtype=np.int16).astype(np.float64) / 32768.0
    return float(20 * np.log10(np.sqrt(np.mean(samples ** 2)) + 1e-12))


@pytest.mark.parametrize(("language", "name"), [("en", "English"), ("es", "Spanish"), ("fr", "French")])
def test_generate_content_writes_a_script(client: genai.Client, language: str, name: str) -> None:
    prompt = f"Write a video script.\nTheme: {THEME}\nStyle: anime\nLanguage: {name} ({language})\nBlocks: 9\n"
    schema = {"type": "object", "properties": {"title": {"type": "string"}}}
    config = types.GenerateContentConfig(response_mime_type="application/json", response_schema=schema)
    response = client.models.generate_content(model=SCRIPT_MODEL, contents=prompt, config=config)
    script = json.loads(response.text or "")
    assert (script["theme"], script["style"], script["language"]) == (THEME, "anime", language)
    assert [b["index"] for b in script["blocks"]] == list(range(9))
    assert len({b["visual"] for b in script["blocks"]}) == 9
    for block in script["blocks"]:
        assert 4 <= len(block["dialogue"].split()) <= 14 and "robot" in block["dialogue"]
        assert not any(ch.isdigit() for ch in block["dialogue"])
    assert response.usage_metadata and (response.usage_metadata.prompt_token_count or 0) > 0
    again = client.models.generate_content(model=SCRIPT_MODEL, contents=prompt, config=config)
    assert again.text == response.text


def test_first_clip_then_extension_are_billed_once_each(client: genai.Client, base_url: str, tmp_path: Path) -> None:
    op = wait_done(client, start_video(client, veo_prompt(1, 9, "Welcome to a short story about a robot.")))
    video = op.response.generated_videos[0].video  # type: ignore[union-attr,index]
    assert video is not None
    first = tmp_path / "first.mp4"
    first.write_bytes(client.files.download(file=video))
    streams = probe(first)
    assert (streams["video"]["width"], streams["video"]["height"]) == (720, 1280)
    assert int(streams["video"]["nb_frames"]) == 8 * 24
    assert rms_db(first, 0.7, 2.5) > rms_db(first, 6.5, 7.9) + 10  # speech, then ambience only

    op2 = wait_done(client, start_video(client, veo_prompt(2, 9, "The robot paints the sea."), seconds=None,
                                        video=video))
    extended = tmp_path / "extended.mp4"
    video2 = op2.response.generated_videos[0].video  # type: ignore[union-attr,index]
    assert video2 is not None
    extended.write_bytes(client.files.download(file=video2))
    assert int(probe(extended)["video"]["nb_frames"]) == 15 * 24

    entries = ledger(base_url)
    assert [(e["seconds_billed"], e["extension"], e["block"], e["outcome"]) for e in entries] == \
        [(8, False, 1, "rendered"), (7, True, 2, "rendered")]
    assert all(len(e["prompt_sha256"]) == 64 and e["scene"] == "A robot paints a sunset" for e in entries)


def test_image_to_video_starts_from_the_image(client: genai.Client, tmp_path: Path) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (720, 1280), (20, 160, 60)).save(buffer, format="PNG")
    image = types.Image(image_bytes=buffer.getvalue(), mime_type="image/png")
    op = wait_done(client, start_video(client, veo_prompt(1, 1, ""), seconds=4, image=image))
    out = tmp_path / "from_image.mp4"
    video = op.response.generated_videos[0].video  # type: ignore[union-attr,index]
    assert video is not None
    out.write_bytes(client.files.download(file=video))
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(out), "-frames:v", "1", "-f", "rawvideo", "-pix_fmt",
                          "rgb24", "-"], check=True, capture_output=True).stdout
    top = np.frombuffer(raw, dtype=np.uint8).reshape(1280, 720, 3)[:400].astype(np.int16)
    assert np.abs(top - np.array([20, 160, 60])).mean() < 12


def test_image_model_returns_an_inline_png(client: genai.Client) -> None:
    response = client.models.generate_content(model="gemini-3.1-flash-image", contents="A friendly robot painter")
    parts = response.candidates[0].content.parts  # type: ignore[index,union-attr]
    data = next(p.inline_data for p in parts if p.inline_data)  # type: ignore[union-attr]
    assert data.mime_type == "image/png"
    assert Image.open(io.BytesIO(data.data)).size[0] > 0  # type: ignore[arg-type]


@pytest.mark.parametrize(("kind", "error_type", "code"), [("429", errors.ClientError, 429),
                                                            ("500", errors.ServerError, 500)])
def test_rejecting_faults_raise_and_are_not_billed(client: genai.Client, base_url: str, kind: str,
                                                   error_type: type[errors.APIError], code: int) -> None:
    set_faults(base_url, [{"match": "Block: 3 of", "kind": kind, "times": 1}])
    with pytest.raises(error_type) as caught:
        start_video(client, veo_prompt(3, 9, "Hello robot."))
    assert caught.value.code == code
    assert ledger(base_url) == []


def test_safety_fault_completes_with_no_video(client: genai.Client, base_url: str) -> None:
    set_faults(base_url, [{"match": "", "kind": "safety", "times": 1}])
    op = wait_done(client, start_video(client, veo_prompt(1, 9, "Hello robot.")))
    assert op.response is not None and not op.response.generated_videos
    assert op.response.rai_media_filtered_count == 1 and op.response.rai_media_filtered_reasons
    assert [e["outcome"] for e in ledger(base_url)] == ["filtered"]


def test_malformed_fault_completes_without_the_video(client: genai.Client, base_url: str) -> None:
    set_faults(base_url, [{"kind": "malformed", "times": 1}])
    op = wait_done(client, start_video(client, veo_prompt(1, 9, "Hello robot.")))
    videos = op.response.generated_videos if op.response else None
    assert not videos or videos[0].video is None


def test_slow_fault_delays_completion(client: genai.Client, base_url: str) -> None:
    set_faults(base_url, [{"match": "slowly", "kind": "slow", "times": 1, "delay_seconds": 3}])
    op = start_video(client, veo_prompt(1, 9, "The robot paints slowly."), seconds=4)
    started = time.monotonic()
    assert not client.operations.get(op).done
    op = wait_done(client, op)
    assert time.monotonic() - started > 2
    assert op.response.generated_videos[0].video.uri  # type: ignore[union-attr,index]


@pytest.mark.parametrize(("params", "message"), [({"durationSeconds": 5}, "durationSeconds"),
                                                 ({"aspectRatio": "1:1"}, "9:16")])
def test_bad_parameters_are_rejected(base_url: str, params: dict[str, Any], message: str) -> None:
    response = requests.post(f"{base_url}/v1beta/models/{VEO}:predictLongRunning", headers={"x-goog-api-key": "k"},
                             json={"instances": [{"prompt": "x"}], "parameters": params}, timeout=10)
    assert response.status_code == 400
    assert response.json()["error"]["status"] == "INVALID_ARGUMENT" and message in response.json()["error"]["message"]


def test_missing_prompt_and_foreign_video_are_rejected(client: genai.Client, base_url: str) -> None:
    response = requests.post(f"{base_url}/v1beta/models/{VEO}:predictLongRunning", headers={"x-goog-api-key": "k"},
                             json={"instances": [{}], "parameters": {}}, timeout=10)
    assert response.status_code == 400 and "prompt" in response.json()["error"]["message"]
    foreign = types.Video(uri="https://example.com/v1beta/files/abc123:download?alt=media")
    with pytest.raises(errors.ClientError) as caught:
        start_video(client, veo_prompt(2, 9, "Hi."), seconds=None, video=foreign)
    assert caught.value.code == 400 and "generated by Veo" in (caught.value.message or "")
    assert ledger(base_url) == []


def test_extension_past_148_seconds_is_rejected(tmp_path: Path) -> None:
    from infra.local.simulator.server import create_app

    app = create_app(tmp_path / "data")
    video = tmp_path / "tiny.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "color=c=black:s=64x64:r=24:d=1", "-c:v",
                    "libx264", "-pix_fmt", "yuv420p", str(video)], check=True)
    fid = app.extensions["veo"].adopt(video, duration=141.0 + 1)
    body = {"instances": [{"prompt": "x", "video": {"uri": f"https://h/v1beta/files/{fid}:download"}}]}
    response = app.test_client().post(f"/v1beta/models/{VEO}:predictLongRunning", json=body,
                                      headers={"x-goog-api-key": "k"})
    assert response.status_code == 400 and "148" in response.get_json()["error"]["message"]
    assert app.extensions["veo"].ledger() == []
    app.extensions["veo"].shutdown()


def test_unauthenticated_calls_are_refused(base_url: str) -> None:
    response = requests.post(f"{base_url}/v1beta/models/{SCRIPT_MODEL}:generateContent",
                             json={"contents": [{"parts": [{"text": "hi"}]}]}, timeout=10)
    assert response.status_code == 403 and response.json()["error"]["status"] == "PERMISSION_DENIED"
