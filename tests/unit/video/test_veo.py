"""Veo request building per API mode (incl. the 16:9 reference-image branch) and model ids."""
import pytest

from shared.core.config import GEMINI_API, VERTEX
from shared.core.errors import GenerationError
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
