"""Retry policies on tenacity that more than one package uses; every in-process retry loop is a tenacity one.

    call_gemini          one Gemini, TTS or Nano Banana call: gemini_retrying, then its errors mapped (below)
    gemini_retrying      Gemini and Nano Banana calls (google-genai): a 429 or 5xx is asked again, GEMINI_ATTEMPTS
                         calls in all, with a jittered exponential wait capped at GEMINI_MAX_WAIT_SECONDS; then the
                         last error is raised as it is, and the caller turns it into TransientError (Pub/Sub
                         redelivers later). Anything else (a 400, a refusal) is raised at once.
    log_before_sleep     the `before_sleep` hook: one log line per retry with its attempt, wait and reason.

Policies that one module alone uses live there, on tenacity too: Veo submissions (shared.video.veo), the Veo
quota's compare-and-set writes and its wait for a slot (shared.video.quota), webhook deliveries
(shared.ops.webhooks). Tests pass `wait=wait_none()` (or a recording `sleep`) so they do not sleep.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import httpx
from google.api_core import exceptions as gexc
from google.genai import errors as genai_errors
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)
from tenacity.wait import WaitBaseT

from shared.core import log
from shared.core.errors import ErrorCode, GenerationError, TransientError

T = TypeVar("T")

GEMINI_ATTEMPTS = 3  # calls in all, the first included
GEMINI_WAIT_MULTIPLIER = 0.5  # waits drawn from [0, 0.5 s], then [0, 1 s], [0, 2 s]…
GEMINI_MAX_WAIT_SECONDS = 4.0


def is_transient_genai_error(exc: BaseException) -> bool:
    """A google-genai answer worth asking again: 429 (quota, rate) or any 5xx."""
    if isinstance(exc, genai_errors.ServerError):
        return True
    return isinstance(exc, genai_errors.APIError) and exc.code == 429


def log_before_sleep(message: str, *, level: str = "warning",
                     describe: Callable[[Any], str] | None = None, **fields: Any) -> Callable[[RetryCallState], None]:
    """A tenacity `before_sleep` hook logging `message` with the attempt, the wait and why it failed.

    The reason is the exception's text, or `describe(result)` when a result (not an exception) is retried.
    """
    emit = getattr(log, level)

    def hook(state: RetryCallState) -> None:
        outcome = state.outcome
        if outcome is None:
            reason = ""
        elif outcome.failed:
            reason = str(outcome.exception())
        else:
            reason = describe(outcome.result()) if describe else repr(outcome.result())
        wait = state.next_action.sleep if state.next_action else None
        emit(message, attempt=state.attempt_number, wait_s=None if wait is None else round(wait, 3),
             reason=reason[:300], **fields)

    return hook


def gemini_retrying(what: str, *, attempts: int = GEMINI_ATTEMPTS, wait: WaitBaseT | None = None,
                    sleep: Callable[[float], None] | None = None) -> Retrying:
    """The retry policy of one Gemini call (`what` names it in the logs): call it with the function and args."""
    options: dict[str, Any] = {} if sleep is None else {"sleep": sleep}
    return Retrying(
        retry=retry_if_exception(is_transient_genai_error),
        stop=stop_after_attempt(max(attempts, 1)),
        wait=wait if wait is not None else wait_random_exponential(multiplier=GEMINI_WAIT_MULTIPLIER,
                                                                   max=GEMINI_MAX_WAIT_SECONDS),
        before_sleep=log_before_sleep(f"{what}: transient error, retrying"),
        reraise=True,
        **options)


def call_gemini(name: str, call: Callable[..., T], /, *, refused_code: ErrorCode = ErrorCode.GENERATION_FAILED,
                **kwargs: Any) -> T:
    """One google-genai call (`name` says which model family in messages) under gemini_retrying. What is left of
    a transient failure (429, 5xx, no answer in the client's timeout) becomes TransientError, so Pub/Sub
    redelivers; any other refusal is a GenerationError with `refused_code`."""
    try:
        return gemini_retrying(f"{name} call")(call, **kwargs)
    except httpx.TransportError as exc:
        raise TransientError(f"{name} did not answer: {type(exc).__name__}: {exc}") from exc
    except genai_errors.ServerError as exc:
        raise TransientError(f"{name} unavailable: {exc}") from exc
    except genai_errors.ClientError as exc:
        if exc.code == 429:
            raise TransientError(f"{name} quota exhausted: {exc}") from exc
        raise GenerationError(f"{name} refused the request: {exc}", code=refused_code) from exc


CONTENDED_ATTEMPTS = 5  # whole transactions, each with firestore's own inner attempts
CONTENDED_MAX_WAIT_SECONDS = 1.0


def aborted_on_contention(exc: BaseException) -> bool:
    """Whether a transaction aborted on contention: Aborted from its begin or reads, or the ValueError
    ("Failed to commit transaction in N attempts") firestore's transactional wrapper raises from the Aborted
    commit once its own attempts are spent (google-cloud-firestore, firestore_v1/transaction.py:
    `_Transactional.__call__` retries Aborted commits `max_attempts` times, then `raise ValueError(...) from`)."""
    return isinstance(exc, gexc.Aborted) or (isinstance(exc, ValueError) and isinstance(exc.__cause__, gexc.Aborted))


def contended_retrying(what: str, *, attempts: int = CONTENDED_ATTEMPTS,
                       sleep: Callable[[float], None] | None = None) -> Retrying:
    """A Firestore transaction on a hot document, run again when it aborted on contention ("Transaction lock
    timeout" once firestore's own attempts are spent): jittered waits, then the last error is raised."""
    options: dict[str, Any] = {} if sleep is None else {"sleep": sleep}
    return Retrying(
        retry=retry_if_exception(aborted_on_contention),
        stop=stop_after_attempt(max(attempts, 1)),
        wait=wait_random_exponential(multiplier=0.05, max=CONTENDED_MAX_WAIT_SECONDS),
        before_sleep=log_before_sleep(f"{what}: transaction aborted on contention, retrying", level="info"),
        reraise=True,
        **options)
