"""Recorded Google responses replayed through google-genai's parsing and our own result extraction.

tests/fixtures/live/recorded-shapes/ holds hand-written documented shapes (docs/google-ai-contract.md K7, K9,
E3-E6, L2/L4, B9; labelled "documented shape, not a live recording"); tests/fixtures/live/<date>-<mode>/ holds
real recordings by tools/smoke_live, replayed here too when they exist. Each exchange is served to a real
genai.Client by an httpx MockTransport, so the SDK builds its request and parses the answer exactly as it does
against Google; nothing leaves the machine.

What would fail: a google-genai upgrade that parses operations, usage or errors differently (or asks other URLs);
a change in shared.video.veo / the writer / the image call that misreads a done, filtered, failed or running
operation, an error body, or a usage block; a fixture that is not labelled as what it is.
"""
from __future__ import annotations

import json
import re
import urllib.parse
from pathlib import Path
from typing import Any

import google.oauth2.credentials
import httpx
import pytest
from google import genai
from google.genai import errors, types

from shared.core.config import GEMINI_API, VERTEX, Settings
from shared.core.errors import ErrorCode, GenerationError, TransientError, VeoBusy
from shared.script.writer import VideoRequestBody, generate_script
from shared.video import veo
from shared.video.characters import generate_image

ROOT = Path(__file__).resolve().parents[3]
LIVE = ROOT / "tests" / "fixtures" / "live"
SHAPES = LIVE / "recorded-shapes"
SHAPE_LABEL = "documented shape, not a live recording"
LIVE_DIR = re.compile(r"^\d{4}-\d{2}-\d{2}-(gemini_api|vertex)(-\d{6})?$")  # "-via-<host>" runs are not live
BASE_URLS = {GEMINI_API: "https://generativelanguage.googleapis.com/",
             VERTEX: "https://us-central1-aiplatform.googleapis.com/"}


# ---- replay harness --------------------------------------------------------------------------------------
class Replayer:
    """An httpx transport that answers every request with the next recorded (status, body)."""

    def __init__(self, answers: list[tuple[int, Any]]) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        status, body = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return httpx.Response(status, json=body)


def replay_client(mode: str, *answers: tuple[int, Any]) -> tuple[genai.Client, Replayer]:
    """A genai.Client of `mode` whose HTTP answers are `answers`, in order (the last one repeats)."""
    replayer = Replayer(list(answers))
    options = types.HttpOptions(base_url=BASE_URLS[mode],
                                httpx_client=httpx.Client(transport=httpx.MockTransport(replayer)))
    if mode == VERTEX:
        credentials = google.oauth2.credentials.Credentials(token="replay")  # type: ignore[no-untyped-call]
        return genai.Client(vertexai=True, project="my-project", location="us-central1", credentials=credentials,
                            http_options=options), replayer
    return genai.Client(api_key="replay-key", http_options=options), replayer


def shape(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((SHAPES / name).read_text())
    return doc


def answer(doc: dict[str, Any]) -> tuple[int, Any]:
    return doc["status"], doc["response_body"]


def path_of(url: str) -> str:
    return urllib.parse.urlsplit(url).path


# ---- the fixtures say what they are ------------------------------------------------------------------------
def test_every_shape_is_labelled_and_names_its_contract_rows() -> None:
    files = sorted(SHAPES.glob("*.json"))
    assert len(files) >= 8
    for path in files:
        doc = json.loads(path.read_text())
        assert doc["label"] == SHAPE_LABEL, path.name
        assert "docs/google-ai-contract.md" in doc["source"] or "SDK" in doc["source"], path.name
        assert doc["mode"] in (GEMINI_API, VERTEX) and doc["method"] in ("GET", "POST"), path.name
        assert "expect" in doc and "response_body" in doc, path.name


# ---- the SDK's own parsing ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "vertex"), [("gemini_api-operation-done.json", False),
                                              ("vertex-fetch-predict-operation-done.json", True)])
def test_sdk_parses_a_done_operation_into_its_video_uri(name: str, vertex: bool) -> None:
    doc = shape(name)
    operation = types.GenerateVideosOperation.from_api_response(doc["response_body"], is_vertex_ai=vertex)
    assert operation.done is True and operation.name == doc["response_body"]["name"]
    assert operation.response and operation.response.generated_videos
    video = operation.response.generated_videos[0].video
    assert video and video.uri == doc["expect"]["video_uri"]


@pytest.mark.parametrize(("name", "vertex"), [("gemini_api-operation-filtered.json", False),
                                              ("vertex-fetch-predict-operation-filtered.json", True)])
def test_sdk_parses_a_filtered_operation_as_done_without_videos(name: str, vertex: bool) -> None:
    doc = shape(name)
    operation = types.GenerateVideosOperation.from_api_response(doc["response_body"], is_vertex_ai=vertex)
    assert operation.done is True and operation.error is None
    assert operation.response is not None and not operation.response.generated_videos
    assert operation.response.rai_media_filtered_count == doc["expect"]["filtered_count"]
    assert operation.response.rai_media_filtered_reasons == doc["expect"]["filtered_reasons"]


def test_sdk_parses_usage_with_thinking_tokens() -> None:
    doc = shape("gemini_api-generate-content.json")
    response = types.GenerateContentResponse.model_validate(doc["response_body"])
    usage, expect = response.usage_metadata, doc["expect"]
    assert usage is not None
    assert (usage.prompt_token_count, usage.candidates_token_count, usage.thoughts_token_count) == (
        expect["prompt_tokens"], expect["candidates_tokens"], expect["thoughts_tokens"])
    assert usage.total_token_count == expect["total_tokens"] == (
        expect["prompt_tokens"] + expect["candidates_tokens"] + expect["thoughts_tokens"])  # contract B9
    assert json.loads(response.text or "")["title"] == expect["title"]


@pytest.mark.parametrize("name", ["error-404-not-found.json", "error-429-resource-exhausted.json"])
def test_sdk_maps_an_error_body_to_a_client_error(name: str) -> None:
    doc = shape(name)
    with pytest.raises(errors.ClientError) as raised:
        errors.APIError.raise_for_response(httpx.Response(doc["status"], json=doc["response_body"]))
    assert (raised.value.code, raised.value.status) == (doc["expect"]["code"], doc["expect"]["status"])
    assert raised.value.message == doc["response_body"]["error"]["message"]


# ---- our extraction, over the SDK's real request path ------------------------------------------------------
def test_submit_returns_the_operation_name_the_api_answered() -> None:
    doc = shape("gemini_api-submit.json")
    client, replayer = replay_client(GEMINI_API, answer(doc))
    submission = veo.submit(client, GEMINI_API, ["veo-3.1-generate-preview"], veo.VeoInput("a paper boat"))
    assert submission.operation == doc["expect"]["operation"] and submission.retries == 0
    assert replayer.requests[0].method == "POST" and path_of(str(replayer.requests[0].url)) == path_of(doc["url"])


def test_gemini_api_poll_reads_the_video_uri_from_the_documented_path() -> None:
    doc = shape("gemini_api-operation-done.json")
    client, replayer = replay_client(GEMINI_API, answer(doc))
    result = veo.poll(client, doc["response_body"]["name"])
    assert result == veo.VeoResult(doc["expect"]["video_uri"])
    request = replayer.requests[0]
    assert (request.method, path_of(str(request.url))) == ("GET", path_of(doc["url"]))  # K7: GET /v1beta/{name}


def test_vertex_poll_uses_fetch_predict_operation_and_reads_the_gcs_uri() -> None:
    doc = shape("vertex-fetch-predict-operation-done.json")
    client, replayer = replay_client(VERTEX, answer(doc))
    result = veo.poll(client, doc["response_body"]["name"])
    assert result == veo.VeoResult(doc["expect"]["video_uri"])
    request = replayer.requests[0]
    assert (request.method, path_of(str(request.url))) == ("POST", path_of(doc["url"]))  # K9
    assert json.loads(request.content)["operationName"] == doc["response_body"]["name"]


@pytest.mark.parametrize(("name", "mode"), [("gemini_api-operation-filtered.json", GEMINI_API),
                                            ("vertex-fetch-predict-operation-filtered.json", VERTEX)])
def test_poll_turns_a_filtered_operation_into_its_reasons(name: str, mode: str) -> None:
    doc = shape(name)
    client, _ = replay_client(mode, answer(doc))
    result = veo.poll(client, doc["response_body"]["name"])
    assert result == veo.VeoResult(None, filtered_reasons=tuple(doc["expect"]["filtered_reasons"]))


def test_poll_reports_a_running_operation_as_not_done_and_a_failed_one_with_its_message() -> None:
    running, failed = shape("gemini_api-operation-running.json"), shape("gemini_api-operation-error.json")
    client, _ = replay_client(GEMINI_API, answer(running))
    assert veo.poll(client, running["response_body"]["name"]) is None
    client, _ = replay_client(GEMINI_API, answer(failed))
    assert veo.poll(client, failed["response_body"]["name"]) == veo.VeoResult(None, error=failed["expect"]["error"])


def test_a_404_on_submit_is_permanent_and_keeps_googles_message() -> None:
    doc = shape("error-404-not-found.json")
    client, _ = replay_client(GEMINI_API, answer(doc))
    with pytest.raises(GenerationError) as raised:
        veo.submit(client, GEMINI_API, ["veo-3.0-generate-001"], veo.VeoInput("a paper boat"), attempts=1)
    assert raised.value.code == ErrorCode.VEO_REJECTED and "is not found for API version" in raised.value.message


def test_a_429_on_submit_is_busy_and_on_poll_transient() -> None:
    doc = shape("error-429-resource-exhausted.json")
    client, replayer = replay_client(GEMINI_API, answer(doc))
    with pytest.raises(VeoBusy):
        veo.submit(client, GEMINI_API, ["veo-3.1-generate-preview"], veo.VeoInput("a paper boat"), attempts=1)
    assert len(replayer.requests) == 1
    with pytest.raises(TransientError):
        veo.poll(client, "models/veo-3.1-generate-preview/operations/q2k3x9p7m1ab")
    with pytest.raises(GenerationError):  # a 404 while polling: the operation is gone
        veo.poll(replay_client(GEMINI_API, answer(shape("error-404-not-found.json")))[0], "models/x/operations/y")


def _script_settings() -> Settings:
    return Settings(script_model="gemini-3.8-flash", genai_mode=GEMINI_API)


def test_the_writer_reads_the_script_and_the_prompt_tokens() -> None:
    doc = shape("gemini_api-generate-content.json")
    client, replayer = replay_client(GEMINI_API, answer(doc))
    generated = generate_script(client, _script_settings(), VideoRequestBody(theme="A paper boat"), blocks=1)
    assert generated.script["title"] == doc["expect"]["title"] and generated.attempts == 1
    assert generated.prompt_tokens == doc["expect"]["prompt_tokens"]
    assert path_of(str(replayer.requests[0].url)) == path_of(doc["url"])


def test_the_writer_hands_the_ledger_every_billed_output_token_thinking_included() -> None:
    """Contract B9: thinking is billed as output; the writer must report it (GeneratedScript.thought_tokens)."""
    doc = shape("gemini_api-generate-content.json")
    client, _ = replay_client(GEMINI_API, answer(doc))
    generated = generate_script(client, _script_settings(), VideoRequestBody(theme="A paper boat"), blocks=1)
    billed_output = generated.output_tokens + getattr(generated, "thought_tokens", 0)
    assert billed_output == doc["expect"]["candidates_tokens"] + doc["expect"]["thoughts_tokens"]


def test_the_image_call_returns_the_inline_image_bytes() -> None:
    doc = shape("gemini_api-generate-content-image.json")
    client, _ = replay_client(GEMINI_API, answer(doc))
    png = generate_image(client, "gemini-3.1-flash-image", "a paper boat")
    assert png.startswith(b"\x89PNG") and len(png) == doc["expect"]["image_bytes"]


# ---- real recordings (tests/fixtures/live/<date>-<mode>/), when there are any --------------------------------
def live_exchanges() -> list[Any]:
    found = []
    for folder in sorted(p for p in LIVE.iterdir() if p.is_dir() and LIVE_DIR.match(p.name)):
        for path in sorted(folder.glob("[0-9][0-9]-*.json")):
            step = json.loads(path.read_text())
            for position, exchange in enumerate(step.get("exchanges") or []):
                if isinstance(exchange.get("response_body"), dict):
                    found.append(pytest.param(step, exchange, id=f"{folder.name}/{path.stem}#{position}"))
    return found


@pytest.mark.parametrize(("step", "exchange"), live_exchanges())
def test_a_live_exchange_replays_through_the_sdk_and_our_code(step: dict[str, Any], exchange: dict[str, Any]) -> None:
    mode, body, status, url = step["mode"], exchange["response_body"], exchange["status"], exchange["url"]
    assert "not a live recording" not in step["label"] and "NOT Google" not in step["label"]
    client, replayer = replay_client(mode, (status, body))
    if status >= 400:
        with pytest.raises(errors.APIError) as raised:
            errors.APIError.raise_for_response(httpx.Response(status, json=body))
        assert raised.value.code == status
    elif url.endswith(":predictLongRunning"):
        submission = veo.submit(client, mode, [step["model"]], veo.VeoInput("replay"), attempts=1)
        assert submission.operation == body["name"]
        assert path_of(str(replayer.requests[0].url)) == path_of(url)
    elif "name" in body and ("/operations/" in url or url.endswith(":fetchPredictOperation")):
        result = veo.poll(client, body["name"])
        assert path_of(str(replayer.requests[0].url)) == path_of(url)  # the pinned SDK asks what Google answered
        if not body.get("done"):
            assert result is None
        else:
            assert result is not None
            operation = types.GenerateVideosOperation.from_api_response(body, is_vertex_ai=mode == VERTEX)
            videos = (operation.response and operation.response.generated_videos) or []
            if videos:
                assert result.video_uri == videos[0].video.uri  # type: ignore[union-attr]
                if step["status"] == "ok" and exchange is [e for e in step["exchanges"] if e["url"] == url][-1]:
                    assert result.video_uri == step["result"]["video_uri"]
            else:
                assert result.video_uri is None and (result.filtered_reasons or result.error)
    elif url.endswith(":generateContent"):
        response = types.GenerateContentResponse.model_validate(body)
        assert response.candidates, "a generateContent answer without candidates"
        if step["step"] == "image":
            assert generate_image(client, step["model"], "replay")
        elif step["step"] == "script" and step["status"] == "ok" and exchange is step["exchanges"][-1]:
            generated = generate_script(client, _script_settings(), VideoRequestBody(theme="replay"), blocks=1)
            assert generated.script["title"] == step["result"]["title"]
