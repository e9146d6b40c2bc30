"""Veo request building per API mode (incl. the 16:9 reference-image branch), model ids, audio blocks, and
transport errors: never sent (safe to retry), sent without an answer (unknown), expired files."""
from types import SimpleNamespace

import httpx
import pytest
from google.genai import errors as genai_errors

from shared.core.config import GEMINI_API, VERTEX
from shared.core.errors import GenerationError, TransientError, VeoBusy
from shared.video import veo

PNG = b"\x89PNG fake"


def test_first_clip_in_gemini_api_mode_has_no_vertex_fields():
    source, config = veo.build_request(veo.VeoInput("p", 8), GEMINI_API)
    assert source.prompt == "p" and source.video is None and source.image is None
    assert (config.aspect_ratio, config.resolution, config.duration_seconds) == ("9:16", "720p", 8)
    assert config.output_gcs_uri is None and config.seed is None and "subtitles" in config.negative_prompt


def test_extension_in_vertex_mode_writes_to_its_prefix_and_sends_no_duration():
    request = veo.VeoInput("p", 7, previous_video_uri="gs://b/x.mp4", output_gcs_uri="gs://b/out/b01-a1/")
    source, config = veo.build_request(request, VERTEX)
    assert source.video.uri == "gs://b/x.mp4" and config.duration_seconds is None
    assert config.output_gcs_uri == "gs://b/out/b01-a1/" and config.generate_audio is True


def test_image_to_video_carries_the_first_frame():
    source, _ = veo.build_request(veo.VeoInput("p", 8, first_frame_png=PNG), GEMINI_API)
    assert source.image.image_bytes == PNG and source.image.mime_type == "image/png"


def test_reference_images_are_for_16_9_requests_only():
    request = veo.VeoInput("p", 8, reference_pngs=(PNG, PNG), aspect_ratio=veo.LANDSCAPE)
    source, config = veo.build_request(request, GEMINI_API)
    assert [r.reference_type for r in config.reference_images] == ["ASSET", "ASSET"]
    assert source.image is None and config.aspect_ratio == "16:9"
    with pytest.raises(GenerationError, match="16:9"):
        veo.build_request(veo.VeoInput("p", 8, reference_pngs=(PNG,)), GEMINI_API)
    with pytest.raises(GenerationError, match="cannot be combined"):
        veo.build_request(veo.VeoInput("p", 8, reference_pngs=(PNG,), first_frame_png=PNG,
                                       aspect_ratio=veo.LANDSCAPE), GEMINI_API)
    with pytest.raises(GenerationError, match="at most 3"):
        veo.build_request(veo.VeoInput("p", 8, reference_pngs=(PNG,) * 4, aspect_ratio=veo.LANDSCAPE), GEMINI_API)


@pytest.mark.parametrize("model, mode, expected", [
    ("veo-3.1-generate-preview", VERTEX, "veo-3.1-generate-001"),
    ("veo-3.1-fast-generate-001", GEMINI_API, "veo-3.1-fast-generate-preview"),
    ("veo-3.1-lite-generate-preview", GEMINI_API, "veo-3.1-lite-generate-preview"),
    ("custom-model", VERTEX, "custom-model"),
])
def test_model_ids_follow_the_mode(model, mode, expected):
    assert veo.model_for_mode(model, mode) == expected


def test_audio_blocks_are_told_from_other_safety_blocks():
    audio = "Veo could not generate videos because the generated AUDIO was blocked. Support codes: 29578790"
    safety = "Veo could not generate videos because the input image violates usage guidelines. Support codes: 1"
    assert veo.is_audio_block([audio]) and veo.is_audio_block([audio, audio.lower()])
    assert not veo.is_audio_block([safety]) and not veo.is_audio_block([audio, safety])
    assert not veo.is_audio_block([]) and not veo.is_audio_block(["filtered"])


class _Calls:
    """generate_videos raising `errors` in turn, then answering an operation."""

    def __init__(self, *errors: BaseException) -> None:
        self.errors, self.count = list(errors), 0

    def __call__(self, **_: object):
        self.count += 1
        if self.errors:
            raise self.errors.pop(0)
        return SimpleNamespace(name="models/m/operations/op1")


def _client(generate) -> SimpleNamespace:
    return SimpleNamespace(models=SimpleNamespace(generate_videos=generate))


def test_a_request_that_never_left_is_retried_and_then_busy_never_unknown():
    """Connection refused / DNS / connect timeout: Veo cannot have accepted it, so it is safe to try again."""
    request = httpx.Request("POST", "https://x")
    calls = _Calls(httpx.ConnectError("refused", request=request), httpx.ConnectTimeout("slow", request=request))
    submission = veo.submit(_client(calls), GEMINI_API, ["m"], veo.VeoInput("p"), attempts=3, max_wait_seconds=0.01)
    assert (submission.operation, submission.retries, calls.count) == ("models/m/operations/op1", 2, 3)
    never = _Calls(*[httpx.ConnectError("refused", request=request)] * 5)
    with pytest.raises(VeoBusy):
        veo.submit(_client(never), GEMINI_API, ["m"], veo.VeoInput("p"), attempts=2, max_wait_seconds=0.01)


def test_a_read_timeout_after_the_request_left_is_not_retried():
    """The request may have been accepted (and billed): the caller must treat it as unknown."""
    calls = _Calls(httpx.ReadTimeout("no answer", request=httpx.Request("POST", "https://x")))
    with pytest.raises(httpx.ReadTimeout):
        veo.submit(_client(calls), GEMINI_API, ["m"], veo.VeoInput("p"), attempts=4, max_wait_seconds=0.01)
    assert calls.count == 1


def _raising(exc: BaseException):
    def call(**_: object):
        raise exc
    return call


def test_a_gemini_api_file_that_is_gone_fails_as_expired(tmp_path):
    """Contract R1-R2: generated files are deleted after 2 days; the API answers 403 (or 404) for them."""
    gone = genai_errors.ClientError(403, {"error": {"code": 403, "message": "no permission", "status": "X"}})
    client = SimpleNamespace(files=SimpleNamespace(download=_raising(gone)))
    with pytest.raises(GenerationError) as raised:
        veo.download(client, None, "https://sim/v1beta/files/abc:download?alt=media", tmp_path / "v.mp4")
    assert raised.value.code == "veo_input_expired"


def test_transport_errors_while_polling_or_downloading_are_transient(tmp_path):
    timeout = httpx.ReadTimeout("stalled", request=httpx.Request("GET", "https://x"))
    polling = SimpleNamespace(operations=SimpleNamespace(get=lambda _op: (_ for _ in ()).throw(timeout)))
    with pytest.raises(TransientError):
        veo.poll(polling, "models/m/operations/op1")
    downloading = SimpleNamespace(files=SimpleNamespace(download=_raising(timeout)))
    with pytest.raises(TransientError):
        veo.download(downloading, None, "https://sim/v1beta/files/abc:download?alt=media", tmp_path / "v.mp4")
