"""The script's Gemini call: 429/5xx retried within the shared bound, then TransientError; a 400 fails at once;
the correction re-ask after a malformed script is separate (and the only one counted as an attempt)."""
from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import httpx
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
    gemini_retrying = retry.gemini_retrying
    monkeypatch.setattr(retry, "gemini_retrying", lambda what: gemini_retrying(what, wait=wait_none()))


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


class RecordingGemini(FakeGemini):
    """FakeGemini that also keeps each call's model and config."""

    def __init__(self, *answers: Any) -> None:
        super().__init__(*answers)
        self.calls: list[tuple[str, Any]] = []

    def generate_content(self, *, model: str, contents: Any, config: Any) -> Any:
        self.calls.append((model, config))
        return super().generate_content(model=model, contents=contents, config=config)


def _thinking_response(text: str, thoughts: int | None) -> Any:
    return SimpleNamespace(text=text, usage_metadata=SimpleNamespace(
        prompt_token_count=10, candidates_token_count=5, thoughts_token_count=thoughts))


def test_thinking_tokens_are_read_summed_over_attempts_and_capped_by_a_budget():
    """Contract B9 (C-BILL-THINKING): usage_metadata.thoughts_token_count is billed at the output price."""
    client = RecordingGemini(_thinking_response("{}", 300), _thinking_response(SCRIPT, None))
    request = writer.parse_request({"theme": "a quiet harbour"})
    generated = writer.generate_script(client, Settings(), request, blocks=2)
    assert (generated.prompt_tokens, generated.output_tokens, generated.thought_tokens) == (20, 10, 300)
    assert generated.usage_fields() == {"gemini_prompt_tokens": 20, "gemini_output_tokens": 10,
                                        "gemini_thought_tokens": 300, "script_attempts": 2}
    model, config = client.calls[0]
    assert model == "gemini-3.8-flash", "the current Flash model by default (contract M5)"
    assert config.thinking_config.thinking_budget == writer.SCRIPT_THINKING_BUDGET
    assert config.temperature is None, "the current models deprecate temperature (contract M6)"


def test_a_call_that_timed_out_or_could_not_connect_is_transient():
    request = httpx.Request("POST", "https://x")
    for error in (httpx.ReadTimeout("slow", request=request), httpx.ConnectError("refused", request=request)):
        with pytest.raises(TransientError, match="did not answer"):
            writer._ask_gemini(FakeGemini(error), "gemini", "prompt")
