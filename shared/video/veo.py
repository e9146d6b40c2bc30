"""Veo 3.1 through google-genai, in both API modes: build a request, submit it, poll it by name, fetch it.

    Gemini API  predictLongRunning → GET operations/{id} → files/{id}:download  (video.uri of a file)
    Vertex AI   predictLongRunning → fetchPredictOperation → gs:// object under `storageUri`

429 and 5xx on submission are retried with jittered exponential backoff (Veo rejects them before
accepting the job, so nothing is billed), counted, and when the primary model stays exhausted the
configured fallback model takes over. So are errors raised before the request left this process
(connection refused, DNS, connect timeout: `never_sent`). Past every model's budget: VeoBusy
(transient, redelivered). Every call after the first (a retry, a fallback) first runs `before_retry`
(the quota's rate token). A 400 is permanent, with the API's message. A read timeout after the request
left is none of these: it propagates, and the caller treats the submission as unknown.

Every call has the client's HTTP timeout (shared.core.clients); a transport error while polling or
downloading is transient. A Gemini API file that answers 403/404 is gone (files are deleted after 2 days,
contract R1–R2): `veo_input_expired`.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import google.cloud.storage as storage
import httpx
import requests
from google import genai
from google.genai import errors as genai_errors
from google.genai import types
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, wait_random_exponential

from shared.core import log
from shared.core.config import GEMINI_API, VERTEX
from shared.core.errors import ErrorCode, GenerationError, TransientError, VeoBusy
from shared.core.retry import is_transient_genai_error
from shared.core.storage import download_file, split_uri
from shared.core.veo_models import model_for_mode
from shared.video.prompts import NEGATIVE_PROMPT

VERTICAL = "9:16"
LANDSCAPE = "16:9"
RESOLUTION = "720p"  # extension only exists at 720p, so the whole chain is 720p
MAX_REFERENCE_IMAGES = 3


@dataclass(frozen=True)
class VeoInput:
    """What one block asks Veo for."""

    prompt: str
    seconds: int = 8
    previous_video_uri: str | None = None  # extend this Veo-made video
    first_frame_png: bytes | None = None  # image-to-video
    reference_pngs: tuple[bytes, ...] = ()  # "asset" references: 16:9 only, no image/video input
    aspect_ratio: str = VERTICAL
    output_gcs_uri: str | None = None  # Vertex AI: where Veo writes the result
    seed: int | None = None  # Vertex AI only


@dataclass(frozen=True)
class Submission:
    """An accepted Veo call."""

    operation: str
    model: str
    retries: int
    fallback_used: bool


@dataclass(frozen=True)
class VeoResult:
    """A finished operation: the generated video, or why there is none."""

    video_uri: str | None
    filtered_reasons: tuple[str, ...] = ()
    error: str | None = None


@dataclass
class _RetryCounter:
    count: int = 0
    reasons: list[str] = field(default_factory=list)

    def __call__(self, state: RetryCallState) -> None:
        self.count += 1
        reason = str(state.outcome.exception()) if state.outcome else ""
        self.reasons.append(reason[:200])
        log.warning("veo submission retried", attempt=state.attempt_number, reason=reason[:300])


# 429 and 5xx: the request was refused before Veo accepted (and billed) it — the same rule as every Gemini call.
is_retryable = is_transient_genai_error


# Raised before a byte of the request left: no connection was made (refused, DNS, connect timeout).
# requests' ConnectTimeout: the google-auth mTLS transport google-genai uses in some Vertex AI setups.
NEVER_SENT: tuple[type[BaseException], ...] = (httpx.ConnectError, httpx.ConnectTimeout,
                                               requests.exceptions.ConnectTimeout)
TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (httpx.TransportError, requests.exceptions.RequestException)


def never_sent(exc: BaseException) -> bool:
    """Whether a call failed before its request left this process, so Veo cannot have accepted it."""
    return isinstance(exc, NEVER_SENT)


def is_audio_block(reasons: Sequence[str]) -> bool:
    """Whether Veo withheld a result for its audio only (every reason mentions audio): worth the same prompt again.

    No Google wording is documented (contract E8); the simulator's reason, and the ones reported, say "audio".
    """
    return bool(reasons) and all("audio" in reason.lower() for reason in reasons)


def _image(png: bytes) -> types.Image:
    return types.Image(image_bytes=png, mime_type="image/png")


def build_request(request: VeoInput, mode: str) -> tuple[types.GenerateVideosSource, types.GenerateVideosConfig]:
    """The SDK source and config of one call; GenerationError for combinations Veo refuses."""
    if request.reference_pngs:
        if request.aspect_ratio != LANDSCAPE:
            raise GenerationError("Veo reference images work with 16:9 only", code=ErrorCode.VEO_INVALID_REQUEST)
        if request.first_frame_png or request.previous_video_uri:
            raise GenerationError("Veo reference images cannot be combined with image or video input",
                                  code=ErrorCode.VEO_INVALID_REQUEST)
        if len(request.reference_pngs) > MAX_REFERENCE_IMAGES:
            raise GenerationError(f"at most {MAX_REFERENCE_IMAGES} reference images",
                                  code=ErrorCode.VEO_INVALID_REQUEST)
    video = types.Video(uri=request.previous_video_uri, mime_type="video/mp4") if request.previous_video_uri else None
    image = _image(request.first_frame_png) if request.first_frame_png and not video else None
    source = types.GenerateVideosSource(prompt=request.prompt, video=video, image=image)
    references = [types.VideoGenerationReferenceImage(image=_image(png),
                                                      reference_type=types.VideoGenerationReferenceType.ASSET)
                  for png in request.reference_pngs] or None
    vertex_only: dict[str, Any] = ({"output_gcs_uri": request.output_gcs_uri, "generate_audio": True,
                                    "seed": request.seed} if mode == VERTEX else {})
    config = types.GenerateVideosConfig(
        number_of_videos=1, aspect_ratio=request.aspect_ratio, resolution=RESOLUTION,
        negative_prompt=NEGATIVE_PROMPT, duration_seconds=None if video else request.seconds,
        reference_images=references, **vertex_only)
    return source, config


def _generate_with_retries(client: genai.Client, model: str, source: types.GenerateVideosSource,
                           config: types.GenerateVideosConfig, attempts: int, max_wait: float,
                           counter: _RetryCounter, gate: Callable[[], None]) -> types.GenerateVideosOperation:
    retrying = Retrying(retry=retry_if_exception(lambda exc: is_retryable(exc) or never_sent(exc)), reraise=True,
                        wait=wait_random_exponential(multiplier=0.5, max=max_wait),
                        stop=stop_after_attempt(max(attempts, 1)), before_sleep=counter)

    def call() -> types.GenerateVideosOperation:
        gate()
        return client.models.generate_videos(model=model, source=source, config=config)

    return retrying(call)


def _gate_after_first(before_retry: Callable[[], None] | None) -> Callable[[], None]:
    """A callable that runs `before_retry` on every call but the first."""
    calls = 0

    def gate() -> None:
        nonlocal calls
        if calls and before_retry:
            before_retry()
        calls += 1

    return gate


def submit(client: genai.Client, mode: str, models: Sequence[str], request: VeoInput, *,
           attempts: int = 4, max_wait_seconds: float = 8.0,
           before_retry: Callable[[], None] | None = None) -> Submission:
    """Start one block with the first model that accepts it; returns the operation name."""
    source, config = build_request(request, mode)
    counter = _RetryCounter()
    gate = _gate_after_first(before_retry)
    last: BaseException | None = None
    for position, model in enumerate(models):
        try:
            operation = _generate_with_retries(client, model, source, config, attempts, max_wait_seconds, counter,
                                               gate)
        except NEVER_SENT as exc:
            last = exc
            counter.count += 1
            log.warning("veo model unreachable", model=model, error=str(exc)[:300])
            continue
        except genai_errors.APIError as exc:
            if not is_retryable(exc):
                raise GenerationError(f"Veo rejected the request: {exc.message or exc}",
                                      code=ErrorCode.VEO_REJECTED) from exc
            last = exc
            counter.count += 1  # the last failed attempt of this model counts too
            log.warning("veo model exhausted", model=model, fallback=models[position + 1:] or None)
            continue
        if not operation.name:
            raise TransientError("Veo returned an operation without a name")
        return Submission(operation.name, model, counter.count, position > 0)
    raise VeoBusy(f"Veo unavailable after retries on {', '.join(models)}: {last}", counter.count)


def poll(client: genai.Client, operation_name: str) -> VeoResult | None:
    """The result of a stored operation, or None while it runs."""
    try:
        # model_validate, not the constructor: `name` comes from google-genai's non-pydantic Operation mixin,
        # which its typed __init__ leaves out (the two build the same model).
        operation = client.operations.get(types.GenerateVideosOperation.model_validate({"name": operation_name}))
    except TRANSPORT_ERRORS as exc:
        raise TransientError(f"polling {operation_name} failed: {type(exc).__name__}: {exc}") from exc
    except genai_errors.APIError as exc:
        if is_retryable(exc):
            raise TransientError(f"polling {operation_name} failed: {exc}") from exc
        raise GenerationError(f"operation {operation_name} cannot be read: {exc}", code=ErrorCode.VEO_FAILED) from exc
    if not operation.done:
        return None
    if operation.error:
        return VeoResult(None, error=str(operation.error.get("message", operation.error)))
    response = operation.response or operation.result
    videos = (response and response.generated_videos) or []
    if videos and videos[0].video and videos[0].video.uri:
        return VeoResult(videos[0].video.uri)
    reasons = tuple((response and response.rai_media_filtered_reasons) or ())
    if reasons or (response and response.rai_media_filtered_count):
        return VeoResult(None, filtered_reasons=reasons or ("filtered",))
    return VeoResult(None, error="operation finished without a video (malformed response)")


def download(client: genai.Client, store: storage.Client, video_uri: str, destination: Path) -> Path:
    """Fetch a generated video: a gs:// object (Vertex AI) or a Gemini API file."""
    if video_uri.startswith("gs://"):
        return download_file(store, video_uri, destination)
    try:
        client.files.download(file=types.Video(uri=video_uri, mime_type="video/mp4"), destination=str(destination))
    except TRANSPORT_ERRORS as exc:
        raise TransientError(f"downloading {video_uri} failed: {type(exc).__name__}: {exc}") from exc
    except genai_errors.APIError as exc:
        if is_retryable(exc):
            raise TransientError(f"downloading {video_uri} failed: {exc}") from exc
        if exc.code in (403, 404):
            raise GenerationError(f"the Gemini API no longer has {video_uri} (generated files are deleted after "
                                  f"2 days): {exc}", code=ErrorCode.VEO_INPUT_EXPIRED) from exc
        raise GenerationError(f"cannot download {video_uri}: {exc}", code=ErrorCode.VEO_FAILED) from exc
    return destination


def find_output(store: storage.Client, prefix_uri: str) -> str | None:
    """The first MP4 Veo wrote under a gs:// prefix (Vertex AI), or None."""
    bucket, prefix = split_uri(prefix_uri.rstrip("/") + "/")
    for blob in store.list_blobs(bucket, prefix=prefix):
        if blob.name.endswith(".mp4"):
            return f"gs://{bucket}/{blob.name}"
    return None


__all__ = ["GEMINI_API", "VERTEX", "Submission", "VeoBusy", "VeoInput", "VeoResult", "build_request",
           "download", "find_output", "is_audio_block", "is_retryable", "model_for_mode", "never_sent", "poll",
           "submit"]
