"""The shared retry policies (shared.core.retry): what is retried, how often, how long it waits, what is logged."""
from __future__ import annotations

import json
from typing import Any

import pytest
from google.genai import errors as genai_errors
from tenacity import wait_none

from shared.core import retry


def _error(code: int) -> genai_errors.APIError:
    cls = genai_errors.ServerError if code >= 500 else genai_errors.ClientError
    return cls(code, {"error": {"code": code, "message": f"HTTP {code}", "status": "X"}})


class Flaky:
    """A callable that raises `errors` one after the other, then returns "ok"."""

    def __init__(self, *errors: BaseException) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self, *args: Any, **kwargs: Any) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


@pytest.mark.parametrize(("code", "transient"), [(429, True), (500, True), (503, True), (504, True),
                                                 (400, False), (403, False), (404, False)])
def test_429_and_5xx_are_transient_other_answers_are_not(code, transient):
    assert retry.is_transient_genai_error(_error(code)) is transient
    assert not retry.is_transient_genai_error(ValueError("not an API error"))


@pytest.mark.parametrize("failures", [0, 1, 2])
def test_a_call_failing_n_times_then_succeeding_is_made_n_plus_1_times(failures):
    flaky = Flaky(*[_error(503 if n % 2 else 429) for n in range(failures)])
    assert retry.gemini_retrying("test", wait=wait_none())(flaky, "arg", key="value") == "ok"
    assert flaky.calls == failures + 1


def test_the_bound_is_respected_and_the_last_error_raised_as_it_is():
    last = _error(503)
    flaky = Flaky(_error(429), _error(500), last, _error(500))
    with pytest.raises(genai_errors.ServerError) as raised:
        retry.gemini_retrying("test", wait=wait_none())(flaky)
    assert raised.value is last and flaky.calls == retry.GEMINI_ATTEMPTS == 3
    flaky = Flaky(*[_error(500)] * 9)
    with pytest.raises(genai_errors.ServerError):
        retry.gemini_retrying("test", attempts=5, wait=wait_none())(flaky)
    assert flaky.calls == 5


@pytest.mark.parametrize("error", [_error(400), _error(403), ValueError("bug")])
def test_a_non_retryable_error_is_raised_at_once(error):
    flaky = Flaky(error)
    with pytest.raises(type(error)):
        retry.gemini_retrying("test", wait=wait_none())(flaky)
    assert flaky.calls == 1


def test_the_default_wait_is_jittered_exponential_and_capped():
    waits: list[float] = []
    flaky = Flaky(*[_error(503)] * 8)
    with pytest.raises(genai_errors.ServerError):
        retry.gemini_retrying("test", attempts=8, sleep=waits.append)(flaky)
    assert len(waits) == 7
    caps = [min(retry.GEMINI_WAIT_MULTIPLIER * 2 ** n, retry.GEMINI_MAX_WAIT_SECONDS) for n in range(7)]
    assert all(0 <= wait <= cap for wait, cap in zip(waits, caps)), (waits, caps)
    assert max(waits) <= retry.GEMINI_MAX_WAIT_SECONDS


def test_each_retry_is_logged_with_its_attempt_and_reason(capsys):
    flaky = Flaky(_error(429))
    retry.gemini_retrying("script call", wait=wait_none())(flaky)
    (line,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert line["severity"] == "WARNING" and line["message"].startswith("script call")
    assert line["attempt"] == 1 and line["wait_s"] == 0 and "429" in line["reason"]


def test_a_contended_transaction_is_run_again_and_other_errors_are_not():
    from google.api_core import exceptions as gexc

    from shared.core.retry import contended_retrying

    calls = []

    def aborted_twice() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise gexc.Aborted("Transaction lock timeout.")
        return "committed"

    assert contended_retrying("quota", sleep=lambda _s: None)(aborted_twice) == "committed" and len(calls) == 3
    commits: list[int] = []

    def commit_aborted_once() -> str:  # what firestore's transactional wrapper raises after its own 5 attempts
        commits.append(1)
        if len(commits) == 1:
            lock_timeout = gexc.Aborted("Transaction lock timeout.")
            raise ValueError("Failed to commit transaction in 5 attempts.") from lock_timeout
        return "committed"

    assert contended_retrying("quota", sleep=lambda _s: None)(commit_aborted_once) == "committed"
    with pytest.raises(ValueError):
        contended_retrying("quota", sleep=lambda _s: None)(lambda: int("not a number"))
    with pytest.raises(gexc.Aborted):
        contended_retrying("quota", attempts=2, sleep=lambda _s: None)(lambda: (_ for _ in ()).throw(gexc.Aborted("x")))
    failing = []

    def not_found() -> None:
        failing.append(1)
        raise gexc.NotFound("gone")

    with pytest.raises(gexc.NotFound):
        contended_retrying("quota", sleep=lambda _s: None)(not_found)
    assert len(failing) == 1
