"""The simulator enforces docs/google-ai-contract.md (section 9): one test per contract id, named after it.

The simulator runs in this process on a free port (werkzeug server thread) so tests can use its seams
(`adopt` a video instead of rendering one); every call goes over HTTP through google-genai 2.34 in Gemini API
mode or Vertex AI mode, so the shapes checked are the SDK's. Operations that need no video use a `safety` fault
(accepted, then done at once without rendering); only three clips are rendered (4 s each).
"""
from __future__ import annotations

import io
import math
import re
import subprocess
import threading
import time
import wave
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import google.oauth2.credentials
import httpx
import numpy as np
import pytest
import requests
from flask import Flask
from google import genai
from google.genai import errors, types
from PIL import Image
from werkzeug.serving import make_server

from infra.local.simulator import models
from infra.local.simulator.faults import QUOTA_TEXT
from infra.local.simulator.server import create_app
from tests.support import SimulatorControl

pytestmark = pytest.mark.timeout(180)

PROJECT, LOCATION = "demo-contract", "us-central1"
STANDARD_G, FAST_G = "veo-3.1-generate-preview", "veo-3.1-fast-generate-preview"
LITE_G = "veo-3.1-lite-generate-preview"
LITE_V = "veo-3.1-lite-generate-001"
SCRIPT_MODEL = "gemini-3.8-flash"
OUTPUT = "gs://contract-bucket/out"
HOUR = 3600.0
POLL_TIMEOUT_S = 60


# -- the simulator, in process --------------------------------------------------------------------------------
@contextmanager
def serving(app: Flask) -> Iterator[str]:
    """Serve `app` on a free loopback port in a thread; its base URL. Stops the server and the renders."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="simulator", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        app.extensions["veo"].shutdown()


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Flask:
    return create_app(tmp_path_factory.mktemp("sim-data"), audio_block_rate=0.0)


@pytest.fixture(scope="module")
def base_url(app: Flask) -> Iterator[str]:
    with serving(app) as url:
        yield url


@pytest.fixture(scope="module")
def sim(base_url: str) -> SimulatorControl:
    return SimulatorControl(base_url)


def gemini_client(base_url: str, timeout_ms: int | None = None) -> genai.Client:
    return genai.Client(api_key="test-key", http_options=types.HttpOptions(base_url=base_url, timeout=timeout_ms))


@pytest.fixture(scope="module")
def client(base_url: str) -> genai.Client:
    """Gemini API mode (G)."""
    return gemini_client(base_url)


@pytest.fixture(scope="module")
def vertex(base_url: str) -> genai.Client:
    """Vertex AI mode (V); the simulator accepts any bearer token."""
    credentials = google.oauth2.credentials.Credentials(token="local-simulator")  # type: ignore[no-untyped-call]
    return genai.Client(vertexai=True, project=PROJECT, location=LOCATION, credentials=credentials,
                        http_options=types.HttpOptions(base_url=base_url))


@pytest.fixture(autouse=True)
def clean(sim: SimulatorControl, base_url: str) -> Iterator[None]:
    sim.clear_ledger()
    sim.clear_faults()
    yield
    sim.clear_faults()
    sim.reset_clock()
    requests.delete(f"{base_url}/_sim/limits", timeout=5).raise_for_status()


@pytest.fixture(scope="module")
def tiny_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("media") / "tiny.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "color=c=navy:s=72x128:r=24:d=1", "-c:v",
                    "libx264", "-pix_fmt", "yuv420p", str(path)], check=True)
    return path


# -- helpers -------------------------------------------------------------------------------------------------
def png() -> types.Image:
    buffer = io.BytesIO()
    Image.new("RGB", (72, 128), (200, 90, 30)).save(buffer, format="PNG")
    return types.Image(image_bytes=buffer.getvalue(), mime_type="image/png")


def generate(client: genai.Client, model: str, prompt: str, *, seconds: int | None = 4,
             video: types.Video | None = None, image: types.Image | None = None, resolution: str = "720p",
             output: str | None = None) -> types.GenerateVideosOperation:
    config = types.GenerateVideosConfig(duration_seconds=seconds, aspect_ratio="9:16", resolution=resolution,
                                        output_gcs_uri=output)
    return client.models.generate_videos(model=model, source=types.GenerateVideosSource(
        prompt=prompt, video=video, image=image), config=config)


def accepted_without_render(sim: SimulatorControl, client: genai.Client, model: str, prompt: str,
                            **kwargs: Any) -> types.GenerateVideosOperation:
    """Submit with a safety fault on the prompt: accepted (validation passed) and done at once, no video made."""
    sim.set_faults([{"kind": "safety", "match": prompt, "times": 1}])
    return generate(client, model, prompt, **kwargs)


def wait_done(client: genai.Client, op: types.GenerateVideosOperation) -> types.GenerateVideosOperation:
    deadline = time.monotonic() + POLL_TIMEOUT_S
    while not op.done:
        assert time.monotonic() < deadline, "operation never finished"
        time.sleep(0.2)
        op = client.operations.get(op)
    return op


def file_uri(base_url: str, fid: str) -> str:
    """The uri Veo answers (https: google-genai only derives `files/<id>` from an https uri, K8)."""
    return f"https://{base_url.partition('://')[2]}/v1beta/files/{fid}:download?alt=media"


def g_404(model: str, method: str) -> str:
    return (f"models/{model} is not found for API version v1beta, or is not supported for {method}. "
            "Call ListModels to see the list of available models and their supported methods.")


# -- C-ID-* ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("model", [STANDARD_G, FAST_G, LITE_G])
def test_C_ID_VEO_G_accepts_the_three_preview_ids(sim: SimulatorControl, client: genai.Client, model: str) -> None:
    op = accepted_without_render(sim, client, model, f"id check {model}")
    assert op.name and op.name.startswith(f"models/{model}/operations/")
    assert [e["model"] for e in sim.ledger()] == [model]


@pytest.mark.parametrize("model", ["veo-3.1-generate-001", "veo-3.1-fast-generate-001", LITE_V,
                                   "veo-3.1-generate-preview", "veo-3.1-fast-generate-preview"])
def test_C_ID_VEO_V_accepts_the_001_ids_and_the_listed_previews(sim: SimulatorControl, vertex: genai.Client,
                                                                 model: str) -> None:
    op = accepted_without_render(sim, vertex, model, f"id check {model}", output=OUTPUT)
    assert op.name and op.name.startswith(f"projects/{PROJECT}/locations/{LOCATION}/publishers/google/models/{model}/")
    op = wait_done(vertex, op)
    assert op.response and op.response.rai_media_filtered_count == 1


@pytest.mark.parametrize(("model", "method"), [
    *[(retired, "predictLongRunning" if retired.startswith("veo") else "generateContent")
      for retired in models.RETIRED],
    ("gemini-9-ultra", "generateContent"),
    ("veo-3.1-generate-001", "predictLongRunning"),  # a Vertex AI id on the Gemini API
    ("veo-3.1-generate-preview", "generateContent"),  # a known model, a method it does not serve
    (SCRIPT_MODEL, "predictLongRunning"),
])
def test_C_ID_UNKNOWN_404_retired_and_unknown_ids(sim: SimulatorControl, client: genai.Client, model: str,
                                                 method: str) -> None:
    with pytest.raises(errors.ClientError) as caught:
        if method == "generateContent":
            client.models.generate_content(model=model, contents="hello")
        else:
            generate(client, model, "hello")
    assert (caught.value.code, caught.value.status) == (404, "NOT_FOUND")
    assert caught.value.message == g_404(model, method)
    assert sim.ledger() == [] and sim.billing()["refused"] == {f"{method} 404": 1}


@pytest.mark.parametrize("model", ["gemini-2.5-flash", LITE_G, "veo-3.0-generate-001"])
def test_C_ID_UNKNOWN_404_on_vertex_names_the_publisher_model(vertex: genai.Client, model: str) -> None:
    with pytest.raises(errors.ClientError) as caught:
        if model.startswith("gemini"):
            vertex.models.generate_content(model=model, contents="hello")
        else:
            generate(vertex, model, "hello", output=OUTPUT)
    assert (caught.value.code, caught.value.status) == (404, "NOT_FOUND")
    resource = f"projects/{PROJECT}/locations/{LOCATION}/publishers/google/models/{model}"
    assert caught.value.message and caught.value.message.startswith(f"Publisher Model `{resource}` was not found")


@pytest.mark.parametrize(("model", "answers_as"), [("gemini-3.5-flash", "gemini-3.6-flash"),
                                                    ("gemini-3.7-flash", "gemini-3.8-flash")])
def test_C_ID_ROUTE_deprecated_flash_ids_answer_as_their_successor(client: genai.Client, model: str,
                                                                   answers_as: str) -> None:
    response = client.models.generate_content(model=model, contents="Say hi")
    assert response.model_version == answers_as and response.text


@pytest.mark.parametrize("model", ["gemini-3.8-flash", "gemini-3.6-flash", "gemini-3.5-flash-lite",
                                   "gemini-flash-latest"])
def test_script_models_are_served_in_both_modes(client: genai.Client, vertex: genai.Client, model: str) -> None:
    """M5 (Gemini API); on Vertex AI the same ids are served, not verified (M9)."""
    for each in (client, vertex):
        assert each.models.generate_content(model=model, contents="Say hi").text


@pytest.mark.parametrize("model", ["gemini-3.1-flash-image", "gemini-3.1-flash-lite-image", "gemini-3-pro-image"])
def test_image_models_return_an_inline_png(client: genai.Client, model: str) -> None:
    """M7: the GA image ids."""
    response = client.models.generate_content(model=model, contents="A lighthouse keeper")
    parts = response.candidates[0].content.parts  # type: ignore[index,union-attr]
    data = next(p.inline_data for p in parts if p.inline_data)  # type: ignore[union-attr]
    assert data.mime_type == "image/png" and Image.open(io.BytesIO(data.data)).size[0] > 0  # type: ignore[arg-type]


# -- C-TTS-* (T1-T8) ------------------------------------------------------------------------------------------
TTS_MODEL = "gemini-3.8-flash-lite-tts"
TTS_LINE = "The lighthouse keeper waves at the storm every night."


def speech_config(voice: str = "Kore", modalities: tuple[str, ...] = ("AUDIO",)) -> types.GenerateContentConfig:
    return types.GenerateContentConfig(response_modalities=list(modalities), speech_config=types.SpeechConfig(
        voice_config=types.VoiceConfig(prebuilt_voice_config=types.PrebuiltVoiceConfig(voice_name=voice))))


def _wav_of(response: types.GenerateContentResponse) -> tuple[types.Blob, wave.Wave_read]:
    parts = response.candidates[0].content.parts  # type: ignore[index,union-attr]
    assert len(parts) == 1  # type: ignore[arg-type]
    blob = parts[0].inline_data  # type: ignore[index]
    assert blob is not None and blob.data
    return blob, wave.open(io.BytesIO(blob.data), "rb")


@pytest.mark.parametrize("model", ["gemini-3.8-flash-lite-tts", "gemini-3.8-flash-tts"])
def test_C_TTS_WAV_the_answer_is_one_24khz_mono_16bit_wav_of_real_speech(client: genai.Client, model: str) -> None:
    response = client.models.generate_content(model=model, contents=TTS_LINE, config=speech_config("Puck"))
    blob, wav = _wav_of(response)
    assert blob.mime_type == "audio/wav"
    assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 24_000)
    samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").astype(np.float64) / 32768
    seconds = len(samples) / 24_000
    assert 1.5 < seconds < 8, "nine words take a few seconds to say"
    assert 20 * np.log10(np.sqrt(np.mean(samples**2))) > -35, "speech, not silence"
    assert response.model_version == model


def test_C_TTS_BILL_text_tokens_in_audio_tokens_out_priced_on_the_ledger(sim: SimulatorControl,
                                                                         client: genai.Client) -> None:
    response = client.models.generate_content(model=TTS_MODEL, contents=TTS_LINE, config=speech_config())
    _, wav = _wav_of(response)
    usage = response.usage_metadata
    assert usage is not None and not usage.thoughts_token_count, "the TTS models do not think (T2)"
    audio_tokens = math.ceil(wav.getnframes() / wav.getframerate() * models.TTS_AUDIO_TOKENS_PER_SECOND)
    assert usage.candidates_token_count == audio_tokens
    assert usage.prompt_token_count == len(TTS_LINE) // 4
    billed = sim.billing()
    assert billed["tokens"][TTS_MODEL]["output_billed"] == audio_tokens
    assert billed["charged_usd"] == pytest.approx((len(TTS_LINE) // 4 * 0.50 + audio_tokens * 6.00) / 1e6, abs=1e-6)


@pytest.mark.parametrize(("config", "contents", "words"), [
    (speech_config(modalities=("TEXT",)), TTS_LINE, "AUDIO response modality"),   # C-TTS-AUDIO-ONLY
    (types.GenerateContentConfig(), TTS_LINE, "AUDIO response modality"),          # no modality: text asked
    (speech_config(voice="Robot"), TTS_LINE, "Voice name"),                         # C-TTS-VOICE
    (speech_config(), "word " * 40_000, "input token count"),                       # C-TTS-INPUT-LIMIT
    (speech_config(), [types.Part.from_bytes(data=b"\x89PNG", mime_type="image/png"), TTS_LINE],
     "only supports text input"),                                                   # C-TTS-TEXT-ONLY
])
def test_C_TTS_refusals_are_400_and_free(sim: SimulatorControl, client: genai.Client, config: Any, contents: Any,
                                         words: str) -> None:
    with pytest.raises(errors.ClientError) as caught:
        client.models.generate_content(model=TTS_MODEL, contents=contents, config=config)
    assert (caught.value.code, caught.value.status) == (400, "INVALID_ARGUMENT")
    assert words in str(caught.value.message)
    assert sim.billing()["charged_usd"] == 0


# -- C-VEO-LITE-EXT -------------------------------------------------------------------------------------------
def test_C_VEO_LITE_EXT_gemini_api_refuses_lite_extension(sim: SimulatorControl, client: genai.Client, app: Flask,
                                                          base_url: str, tiny_video: Path) -> None:
    fid = app.extensions["veo"].adopt(tiny_video, duration=8.0)
    video = types.Video(uri=file_uri(base_url, fid))
    with pytest.raises(errors.ClientError) as caught:
        generate(client, LITE_G, "extend it", seconds=None, video=video)
    assert (caught.value.code, caught.value.status) == (400, "INVALID_ARGUMENT")
    assert "extension is not supported" in (caught.value.message or "")
    assert sim.ledger() == []
    # the same input is extendable with Fast (and Standard): the refusal is Lite's
    assert accepted_without_render(sim, client, FAST_G, "extend it", seconds=None, video=video).name


def test_C_VEO_LITE_EXT_vertex_allows_lite_extension(sim: SimulatorControl, vertex: genai.Client, app: Flask,
                                                     tiny_video: Path) -> None:
    source = "gs://contract-bucket/earlier/sample_0.mp4"
    app.extensions["veo"].adopt(tiny_video, duration=8.0, gcs_uri=source)
    op = accepted_without_render(sim, vertex, LITE_V, "extend it", seconds=None,
                                 video=types.Video(uri=source, mime_type="video/mp4"), output=OUTPUT)
    assert op.name
    assert [(e["model"], e["extension"]) for e in sim.ledger()] == [(LITE_V, True)]


@pytest.mark.parametrize("mode", ["gemini_api", "vertex"])
def test_C_VEO_LITE_EXT_lite_image_to_video_is_allowed_in_both_modes(sim: SimulatorControl, client: genai.Client,
                                                                     vertex: genai.Client, mode: str) -> None:
    if mode == "vertex":
        op = accepted_without_render(sim, vertex, LITE_V, "first frame", image=png(), output=OUTPUT)
    else:
        op = accepted_without_render(sim, client, LITE_G, "first frame", image=png())
    assert op.name and [e["image_input"] for e in sim.ledger()] == [True]


# -- billing --------------------------------------------------------------------------------------------------
def test_C_BILL_DELIVERED_C_BILL_FILTERED_FREE_only_delivered_video_is_charged(sim: SimulatorControl,
                                                                              client: genai.Client) -> None:
    """Safety-filtered, audio-blocked and malformed operations are recorded as attempts but cost nothing; the
    plain retry that delivers is charged its seconds at the Standard 720p rate (C-BILL-RATES, $0.40/s)."""
    prompt = "A lighthouse in a storm"
    sim.set_faults([{"kind": "safety", "match": prompt, "times": 1},
                    {"kind": "audio_block", "match": prompt, "times": 1},
                    {"kind": "malformed", "match": prompt, "times": 1}])
    outcomes = []
    for _ in range(4):
        op = wait_done(client, generate(client, STANDARD_G, prompt))
        outcomes.append(op)
    safety, audio, malformed, delivered = outcomes
    assert safety.response and not safety.response.generated_videos and safety.response.rai_media_filtered_count == 1
    assert audio.response and audio.response.rai_media_filtered_reasons
    assert "audio" in audio.response.rai_media_filtered_reasons[0]
    assert malformed.response and malformed.response.generated_videos[0].video is None  # type: ignore[index]
    assert delivered.response and delivered.response.generated_videos[0].video.uri  # type: ignore[index,union-attr]

    ledger = sim.ledger()
    assert [(e["outcome"], e["filter_reason"], e["billed"], e["billed_seconds"], e["seconds_billed"], e["cost_usd"])
            for e in ledger] == [("filtered", "safety", False, 0, 0, 0.0), ("filtered", "audio", False, 0, 0, 0.0),
                                 ("malformed", None, False, 0, 0, 0.0), ("rendered", None, True, 4, 4, 1.6)]
    assert all(e["seconds_requested"] == 4 for e in ledger)
    billing = sim.billing()
    assert (billing["operations"], billing["billed_operations"], billing["billed_seconds"],
            billing["veo_cost_usd"]) == (4, 1, 4, 1.6)
    assert billing["filtered"] == {"safety": 1, "audio": 1}
    assert billing["calls"]["predictLongRunning"] == 4


def test_C_BILL_RATES_the_dated_table_prices_each_tier_and_resolution(sim: SimulatorControl,
                                                                      client: genai.Client) -> None:
    """B1–B3 as read 2026-10-07 ($/s): standard 0.40/0.40/0.60, fast 0.10/0.12/0.30, lite 0.05/0.08."""
    assert models.VEO_RATES == {"standard": {"720p": 0.40, "1080p": 0.40, "4k": 0.60},
                                "fast": {"720p": 0.10, "1080p": 0.12, "4k": 0.30},
                                "lite": {"720p": 0.05, "1080p": 0.08}}
    for model, resolution in [(FAST_G, "1080p"), (LITE_G, "1080p"), (LITE_G, "720p"), (STANDARD_G, "1080p")]:
        accepted_without_render(sim, client, model, f"rate {model} {resolution}", resolution=resolution)
    assert [e["rate_usd_per_second"] for e in sim.ledger()] == [0.12, 0.08, 0.05, 0.40]


def test_C_BILL_THINKING_usage_reports_thoughts_billed_as_output(sim: SimulatorControl, client: genai.Client) -> None:
    prompt = "Write one sentence about lighthouses."
    first = client.models.generate_content(model=SCRIPT_MODEL, contents=prompt).usage_metadata
    again = client.models.generate_content(model=SCRIPT_MODEL, contents=prompt).usage_metadata
    assert first and again and first.thoughts_token_count and first.thoughts_token_count > 0
    assert first.thoughts_token_count == again.thoughts_token_count, "seeded: same model and prompt, same count"
    prompt_tokens, candidates = first.prompt_token_count or 0, first.candidates_token_count or 0
    assert first.total_token_count == prompt_tokens + candidates + first.thoughts_token_count

    capped = client.models.generate_content(model=SCRIPT_MODEL, contents=prompt, config=types.GenerateContentConfig(
        thinking_config=types.ThinkingConfig(thinking_budget=0))).usage_metadata
    assert capped and not capped.thoughts_token_count and capped.total_token_count == prompt_tokens + candidates
    lite = client.models.generate_content(model="gemini-3.5-flash-lite", contents=prompt).usage_metadata
    assert lite and not lite.thoughts_token_count

    tokens = sim.billing()["tokens"][SCRIPT_MODEL]
    assert tokens["calls"] == 3 and tokens["thoughts"] == 2 * first.thoughts_token_count
    assert tokens["output_billed"] == tokens["candidates"] + tokens["thoughts"]
    expected = (tokens["prompt"] * 0.75 + tokens["output_billed"] * 3.75) / 1e6  # B8: $0.75 in / $3.75 out
    lite_tokens = sim.billing()["tokens"]["gemini-3.5-flash-lite"]
    expected += (lite_tokens["prompt"] * 0.30 + lite_tokens["output_billed"] * 2.50) / 1e6
    assert sim.billing()["charged_usd"] == pytest.approx(expected, abs=1e-6)


# -- C-RETENTION-2D -------------------------------------------------------------------------------------------
def test_C_RETENTION_2D_gemini_api_files_expire_after_48_hours(sim: SimulatorControl, client: genai.Client,
                                                              app: Flask, base_url: str, tiny_video: Path) -> None:
    """Download of an expired file → 403 PERMISSION_DENIED (what the Gemini API answers for a file that does not
    exist); extension of an expired video → 400 INVALID_ARGUMENT."""
    fid = app.extensions["veo"].adopt(tiny_video, duration=8.0)
    video = types.Video(uri=file_uri(base_url, fid))
    assert client.files.download(file=video) == tiny_video.read_bytes()
    sim.advance_clock(48 * HOUR - 60)
    assert client.files.download(file=video)
    sim.advance_clock(61)
    with pytest.raises(errors.ClientError) as caught:
        client.files.download(file=video)
    assert (caught.value.code, caught.value.status) == (403, "PERMISSION_DENIED")
    assert caught.value.message == f"You do not have permission to access the File {fid} or it may not exist."
    with pytest.raises(errors.ClientError) as caught:
        generate(client, STANDARD_G, "extend it", seconds=None, video=video)
    assert (caught.value.code, caught.value.status) == (400, "INVALID_ARGUMENT")
    assert "expired" in (caught.value.message or "")
    assert sim.ledger() == []


def test_C_RETENTION_2D_vertex_outputs_are_the_buckets_and_do_not_expire(sim: SimulatorControl,
                                                                        vertex: genai.Client, app: Flask,
                                                                        tiny_video: Path) -> None:
    """R4: a Vertex AI output lives in the caller's bucket; three days later it can still be extended."""
    source = "gs://contract-bucket/old/sample_0.mp4"
    app.extensions["veo"].adopt(tiny_video, duration=8.0, gcs_uri=source)
    sim.advance_clock(72 * HOUR)
    assert accepted_without_render(sim, vertex, "veo-3.1-generate-001", "extend it later", seconds=None,
                                   video=types.Video(uri=source, mime_type="video/mp4"), output=OUTPUT).name


# -- C-RL-429 -------------------------------------------------------------------------------------------------
def test_C_RL_429_spend_cap_over_a_rolling_window(sim: SimulatorControl, client: genai.Client) -> None:
    assert sim.limits()["spend_usd_per_window"] == 0, "off by default"
    sim.set_spend_limit(0.000001, window_seconds=60)
    client.models.generate_content(model=SCRIPT_MODEL, contents="Spend a little.")
    assert sim.limits()["spend_in_window_usd"] >= 0.000001
    with pytest.raises(errors.ClientError) as caught:
        client.models.generate_content(model=SCRIPT_MODEL, contents="Spend more.")
    assert (caught.value.code, caught.value.status, caught.value.message) == (429, "RESOURCE_EXHAUSTED", QUOTA_TEXT)
    with pytest.raises(errors.ClientError) as caught:
        generate(client, STANDARD_G, "A clip over the cap")
    assert caught.value.code == 429 and sim.ledger() == []
    assert sim.limits()["rejected"] == 2
    sim.advance_clock(61)  # the charge leaves the window
    assert sim.limits()["spend_in_window_usd"] == 0
    assert client.models.generate_content(model=SCRIPT_MODEL, contents="Spend again.").text


# -- C-SDK-TIMEOUT-MS -----------------------------------------------------------------------------------------
def test_C_SDK_TIMEOUT_MS_a_stalled_request_times_out_a_client_with_a_timeout(sim: SimulatorControl,
                                                                             base_url: str) -> None:
    """`stall` holds the HTTP request (unlike `slow`, which delays the operation): a client with
    HttpOptions(timeout=500 ms) gives up after one attempt (C-SDK-NO-RETRY); the simulator then carries on
    and the operation exists (here safety-filtered by the next rule), as a real server would."""
    impatient = gemini_client(base_url, timeout_ms=500)
    stall = 2.0
    sim.set_faults([{"kind": "stall", "match": "stall me", "delay_seconds": stall},
                    {"kind": "safety", "match": "stall me"},
                    {"kind": "stall", "method": "generateContent", "match": "stall me", "delay_seconds": stall}])
    started = time.monotonic()
    with pytest.raises(httpx.TimeoutException):
        generate(impatient, STANDARD_G, "stall me")
    with pytest.raises(httpx.TimeoutException):
        impatient.models.generate_content(model=SCRIPT_MODEL, contents="stall me")
    assert time.monotonic() - started < stall, "the client gave up before the simulator answered"
    assert sim.billing()["calls"] == {"predictLongRunning": 1, "generateContent": 1}, "one attempt each"
    deadline = time.monotonic() + 2 * stall + 2
    while not sim.ledger() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [e["outcome"] for e in sim.ledger()] == ["filtered"]
    time.sleep(max(0.0, started + 2 * stall + 0.2 - time.monotonic()))  # let the second stall end


# -- C-ERR-SHAPE, C-RAI-DONE ----------------------------------------------------------------------------------
def test_C_ERR_SHAPE_every_error_is_googles_body_with_a_matching_status(sim: SimulatorControl, app: Flask,
                                                                        base_url: str) -> None:
    key = {"x-goog-api-key": "k"}
    predict = f"{base_url}/v1beta/models/{STANDARD_G}:predictLongRunning"
    sim.set_faults([{"kind": "429", "match": "quota"}, {"kind": "500", "match": "boom"}])
    calls = [
        (400, "INVALID_ARGUMENT", "post", predict, key, {"instances": [{"prompt": "x"}],
                                                          "parameters": {"durationSeconds": 5}}),
        (403, "PERMISSION_DENIED", "post", predict, {}, {"instances": [{"prompt": "x"}]}),
        (403, "PERMISSION_DENIED", "get", f"{base_url}/v1beta/files/nosuchfile:download?alt=media", key, None),
        (404, "NOT_FOUND", "post", f"{base_url}/v1beta/models/gemini-2.5-flash:generateContent", key,
         {"contents": [{"parts": [{"text": "hi"}]}]}),
        (404, "NOT_FOUND", "get", f"{base_url}/v1beta/models/{STANDARD_G}/operations/nope", key, None),
        (429, "RESOURCE_EXHAUSTED", "post", predict, key, {"instances": [{"prompt": "quota"}]}),
        (500, "INTERNAL", "post", predict, key, {"instances": [{"prompt": "boom"}]}),
        (400, "INVALID_ARGUMENT", "post", f"{base_url}/v1beta/models/gemini-3.8-flash-tts:generateContent", key,
         {"contents": [{"parts": [{"text": "hi"}]}]}),  # C-TTS-AUDIO-ONLY: no AUDIO modality
    ]
    for code, status, verb, url, headers, body in calls:
        response = requests.request(verb, url, headers=headers, json=body, timeout=10)
        error = response.json()["error"]
        assert response.status_code == code and set(error) == {"code", "message", "status"}, (url, error)
        assert (error["code"], error["status"]) == (code, status) and error["message"], (url, error)


def test_C_RAI_DONE_a_filtered_operation_is_done_with_counts_reasons_and_a_support_code(
        sim: SimulatorControl, client: genai.Client, vertex: genai.Client, base_url: str) -> None:
    op = accepted_without_render(sim, client, STANDARD_G, "filtered on the Gemini API")
    raw = requests.get(f"{base_url}/v1beta/{op.name}", headers={"x-goog-api-key": "k"}, timeout=10).json()
    video_response = raw["response"]["generateVideoResponse"]
    assert raw["done"] is True and "error" not in raw and "generatedSamples" not in video_response
    assert video_response["raiMediaFilteredCount"] == 1
    assert re.search(r"Support codes: \d{8}$", video_response["raiMediaFilteredReasons"][0])

    op = wait_done(vertex, accepted_without_render(sim, vertex, "veo-3.1-generate-001", "filtered on Vertex AI",
                                                   output=OUTPUT))
    assert op.response and not op.response.generated_videos and op.response.rai_media_filtered_count == 1
    assert re.search(r"Support codes: \d{8}$", (op.response.rai_media_filtered_reasons or [""])[0])


# -- seeded audio blocks (E8, not verified) -------------------------------------------------------------------
def test_seeded_audio_blocks_hit_first_attempts_only_and_a_plain_retry_is_delivered(tmp_path: Path) -> None:
    """SIM_AUDIO_BLOCK_RATE (here 1.0): the first attempt of a request is blocked for its audio (free), the same
    request again is rendered and charged. With the default rate 0 nothing is blocked (the other tests)."""
    app = create_app(tmp_path / "data", audio_block_rate=1.0, audio_block_seed="7")
    with serving(app) as url:
        client, sim = gemini_client(url), SimulatorControl(url)
        first = wait_done(client, generate(client, FAST_G, "A harbour at dawn"))
        assert first.response and first.response.rai_media_filtered_count == 1
        assert "audio" in (first.response.rai_media_filtered_reasons or [""])[0]
        retry = wait_done(client, generate(client, FAST_G, "A harbour at dawn"))
        assert retry.response and retry.response.generated_videos
        assert [(e["filter_reason"], e["billed"], e["cost_usd"]) for e in sim.ledger()] == \
            [("audio", False, 0.0), (None, True, 0.4)]  # Fast 720p: 4 s x $0.10


def test_seeded_audio_block_decisions_are_reproducible(tmp_path: Path) -> None:
    """The same seed and rate block the same requests (rate 0.5 over 20 requests, two simulators); another seed
    blocks others. Decided without rendering, by the simulator's own rule."""
    from infra.local.simulator.veo import VeoRequest, VeoSimulator

    def decisions(seed: str, run: str) -> list[bool]:
        veo = VeoSimulator(tmp_path / run, audio_block_rate=0.5, audio_block_seed=seed)
        try:
            return [veo._seeded_audio_block(VeoRequest(f"prompt {i}", 4, None, None)) for i in range(20)]
        finally:
            veo.shutdown()

    first, second, other = decisions("42", "a"), decisions("42", "b"), decisions("43", "c")
    assert first == second and 0 < sum(first) < 20 and other != first
