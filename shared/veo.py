"""Veo 3.1 through google-genai: submit a block, poll its operation by name, download the result.

429 and 5xx on submission are retried here with jittered exponential backoff (Veo rejects them
before accepting the job, so nothing is billed); past the budget they become TransientError and
Pub/Sub redelivers. A 400 is permanent, with the API's message.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from google import genai
from google.genai import errors as genai_errors
from google.genai import types
from tenacity import retry, retry_if_exception, stop_after_attempt, wait_random_exponential

from shared import log
from shared.errors import GenerationError, TransientError
from shared.prompts import NEGATIVE_PROMPT
from shared.script import EXTENSION_SECONDS, FIRST_CLIP_SECONDS

ASPECT_RATIO = "9:16"
RESOLUTION = "720p"  # extension only exists at 720p, so the whole chain is 720p


@dataclass(frozen=True)
class VeoResult:
    """A finished operation: the generated video, or why there is none."""

    video_uri: str | None
    filtered_reasons: tuple[str, ...] = ()
    error: str | None = None


def _retryable(exc: BaseException) -> bool:
    if isinstance(exc, genai_errors.ServerError):
        return True
    return isinstance(exc, genai_errors.ClientError) and exc.code == 429


def _log_retry(state) -> None:  # type: ignore[no-untyped-def]
    log.warning("veo submission retried", attempt=state.attempt_number,
                reason=str(state.outcome.exception()) if state.outcome else None)


@retry(retry=retry_if_exception(_retryable), wait=wait_random_exponential(multiplier=2, max=30),
       stop=stop_after_attempt(4), before_sleep=_log_retry, reraise=True)
def _generate(client: genai.Client, model: str, source: types.GenerateVideosSource,
              config: types.GenerateVideosConfig) -> types.GenerateVideosOperation:
    return client.models.generate_videos(model=model, source=source, config=config)


def submit(client: genai.Client, model: str, prompt: str, previous_video_uri: str | None) -> str:
    """Start one block (a first clip, or an extension of `previous_video_uri`); returns the operation name."""
    video = types.Video(uri=previous_video_uri, mime_type="video/mp4") if previous_video_uri else None
    source = types.GenerateVideosSource(prompt=prompt, video=video)
    config = types.GenerateVideosConfig(
        number_of_videos=1, aspect_ratio=ASPECT_RATIO, resolution=RESOLUTION,
        negative_prompt=NEGATIVE_PROMPT, duration_seconds=None if video else FIRST_CLIP_SECONDS)
    try:
        operation = _generate(client, model, source, config)
    except genai_errors.APIError as exc:
        if _retryable(exc):
            raise TransientError(f"Veo unavailable after retries: {exc}") from exc
        raise GenerationError(f"Veo rejected the request: {exc}", code="veo_rejected") from exc
    if not operation.name:
        raise TransientError("Veo returned an operation without a name")
    return operation.name


def billed_seconds(is_extension: bool) -> int:
    """Seconds Veo bills for one block."""
    return EXTENSION_SECONDS if is_extension else FIRST_CLIP_SECONDS


def poll(client: genai.Client, operation_name: str) -> VeoResult | None:
    """The result of a stored operation, or None while it runs."""
    try:
        operation = client.operations.get(types.GenerateVideosOperation(name=operation_name))
    except genai_errors.APIError as exc:
        if _retryable(exc):
            raise TransientError(f"polling {operation_name} failed: {exc}") from exc
        raise GenerationError(f"operation {operation_name} cannot be read: {exc}", code="veo_failed") from exc
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
    return VeoResult(None, error="operation finished without a video")


def download(client: genai.Client, video_uri: str, destination: Path) -> Path:
    """Download a generated video to a local file."""
    try:
        client.files.download(file=types.Video(uri=video_uri, mime_type="video/mp4"),
                              destination=str(destination))
    except genai_errors.APIError as exc:
        if _retryable(exc):
            raise TransientError(f"downloading {video_uri} failed: {exc}") from exc
        raise GenerationError(f"cannot download {video_uri}: {exc}", code="veo_failed") from exc
    return destination
