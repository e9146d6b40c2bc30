"""The script's Gemini call: 429/5xx retried within the shared bound, then TransientError; a 400 fails at once;
the correction re-ask after a malformed script is separate (and the only one counted as an attempt)."""
from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest
from google.genai import errors as genai_errors
from tenacity import wait_none

from shared.core import retry
from shared.core.config import Settings
from shared.core.errors import GenerationError, TransientError
from shared.script import writer

SCRIPT = json.dumps({"title": "Harbour", "blocks": [
    {"index": 0, "visual": "a quiet harbour at dawn", "dialogue": "Morning comes slowly here."},
    {"index": 1, "visual": "boats leave the harbour", "dialogue": "And then all at once."}]})


def _error(code: int) -> genai_errors.APIError:
    cls = genai_errors.ServerError if code >= 500 else genai_errors.ClientError
    return cls(code, {"error": {"code": code, "message": f"HTTP {code}", "status": "X"}})


def _response(text: str) -> Any:
    return SimpleNamespace(text=text, usage_metadata=SimpleNamespace(prompt_token_count=10, candidates_token_count=5))


class FakeGemini:
    """A genai client whose generate_content gives `answers` in turn (an exception is raised)."""

    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)
        self.prompts: list[str] = []
        self.models = SimpleNamespace(generate_content=self.generate_content)

    def generate_content(self, *, model: str, contents: Any, config: Any) -> Any:
        self.prompts.append(contents)
        answer = self.answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(writer, "gemini_retrying", lambda what: retry.gemini_retrying(what, wait=wait_none()))


def test_transient_errors_are_retried_then_the_answer_returned():
    client = FakeGemini(_error(429), _error(503), _response(SCRIPT))
    assert writer._ask_gemini(client, "gemini", "prompt").text == SCRIPT
    assert len(client.prompts) == 3


@pytest.mark.parametrize(("code", "fragment"), [(429, "quota exhausted"), (503, "unavailable")])
def test_past_the_bound_a_transient_error_stays_transient(code, fragment):
    client = FakeGemini(*[_error(code)] * 5)
    with pytest.raises(TransientError, match=fragment):
        writer._ask_gemini(client, "gemini", "prompt")
    assert len(client.prompts) == retry.GEMINI_ATTEMPTS


def test_a_refusal_is_not_retried():
    client = FakeGemini(_error(400), _response(SCRIPT))
    with pytest.raises(GenerationError) as raised:
        writer._ask_gemini(client, "gemini", "prompt")
    assert raised.value.code == "script_generation_failed" and len(client.prompts) == 1


def test_transport_retries_are_not_correction_attempts():
    request = writer.parse_request({"theme": "a quiet harbour"})
    client = FakeGemini(_error(500), _response("{}"), _error(429), _response(SCRIPT))
    generated = writer.generate_script(client, Settings(), request, blocks=2)
    assert generated.attempts == 2, "one correction re-ask; the 500 and the 429 were transport retries"
    assert len(client.prompts) == 4 and client.prompts[0] == client.prompts[1] != client.prompts[2]
    assert client.prompts[2] == client.prompts[3]
    assert (generated.prompt_tokens, generated.output_tokens) == (20, 10)
