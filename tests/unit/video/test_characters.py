"""The image model call (Nano Banana): 429/5xx retried within the shared Gemini bound, then TransientError."""
from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from google.genai import errors as genai_errors
from tenacity import wait_none

from shared.core import retry
from shared.core.errors import GenerationError, TransientError
from shared.video import characters

PNG = b"\x89PNG fake"


def _error(code: int) -> genai_errors.APIError:
    cls = genai_errors.ServerError if code >= 500 else genai_errors.ClientError
    return cls(code, {"error": {"code": code, "message": f"HTTP {code}", "status": "X"}})


def _image_response(data: bytes) -> Any:
    part = SimpleNamespace(inline_data=SimpleNamespace(data=data))
    return SimpleNamespace(candidates=[SimpleNamespace(content=SimpleNamespace(parts=[part]))])


class FakeImageModel:
    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)
        self.calls = 0
        self.models = SimpleNamespace(generate_content=self.generate_content)

    def generate_content(self, **kwargs: Any) -> Any:
        self.calls += 1
        answer = self.answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    gemini_retrying = retry.gemini_retrying
    monkeypatch.setattr(retry, "gemini_retrying", lambda what: gemini_retrying(what, wait=wait_none()))


def test_transient_errors_are_retried_then_the_image_returned():
    client = FakeImageModel(_error(503), _error(429), _image_response(PNG))
    assert characters.generate_image(client, "nano-banana", "a fox") == PNG
    assert client.calls == 3


def test_past_the_bound_the_error_is_transient():
    client = FakeImageModel(*[_error(429)] * 5)
    with pytest.raises(TransientError, match="image model quota exhausted"):
        characters.generate_image(client, "nano-banana", "a fox")
    assert client.calls == retry.GEMINI_ATTEMPTS


def test_a_refusal_is_not_retried():
    client = FakeImageModel(_error(400), _image_response(PNG))
    with pytest.raises(GenerationError) as raised:
        characters.generate_image(client, "nano-banana", "a fox")
    assert raised.value.code == "image_generation_failed" and client.calls == 1


def test_a_timed_out_image_call_is_transient():
    timeout = httpx.ReadTimeout("slow", request=httpx.Request("POST", "https://x"))
    with pytest.raises(TransientError, match="did not answer"):
        characters.generate_image(FakeImageModel(timeout), "gemini-3.1-flash-image", "a portrait")
