"""The Veo capability table (contract M1, M2, V3): ids per mode and tier, and which model extends where."""
import pytest

from shared.core.veo_models import (
    CATALOGUE,
    GEMINI_API,
    VEO_MODELS,
    VERTEX,
    can_extend,
    default_veo_model,
    model_for_mode,
    tier_of,
)


def test_every_mode_has_every_tier_once():
    assert {mode: sorted(tiers) for mode, tiers in VEO_MODELS.items()} == {
        GEMINI_API: ["fast", "lite", "standard"], VERTEX: ["fast", "lite", "standard"]}
    assert len({(m.mode, m.id) for m in CATALOGUE}) == len(CATALOGUE)
    assert default_veo_model(GEMINI_API) == "veo-3.1-generate-preview"
    assert default_veo_model(VERTEX) == "veo-3.1-generate-001"


@pytest.mark.parametrize("model, mode, extends", [
    ("veo-3.1-lite-generate-preview", GEMINI_API, False),  # V3: no extension on the Gemini API
    ("veo-3.1-lite-generate-001", VERTEX, True),  # V3: Vertex AI's Lite extends (preview)
    ("veo-3.1-lite-generate-001", GEMINI_API, False),  # named in the other mode's spelling
    ("veo-3.1-lite-generate-preview", VERTEX, True),
    ("veo-3.1-generate-preview", GEMINI_API, True), ("veo-3.1-fast-generate-preview", GEMINI_API, True),
    ("veo-3.1-generate-001", VERTEX, True), ("veo-3.1-fast-generate-001", VERTEX, True),
    ("veo-9-lite-generate-x", GEMINI_API, False), ("veo-9-generate-x", GEMINI_API, True),  # unlisted: by tier
])
def test_which_model_extends_in_which_mode(model, mode, extends):
    assert can_extend(model, mode) is extends


def test_tiers_and_ids_across_modes():
    assert [tier_of(m) for m in ("veo-3.1-generate-001", "veo-3.1-fast-generate-preview",
                                 "veo-3.1-lite-generate-001", "custom")] == ["standard", "fast", "lite", "standard"]
    assert model_for_mode("veo-3.1-lite-generate-preview", VERTEX) == "veo-3.1-lite-generate-001"
    assert model_for_mode("veo-3.1-fast-generate-001", GEMINI_API) == "veo-3.1-fast-generate-preview"
    assert model_for_mode("veo-3.1-generate-001", VERTEX) == "veo-3.1-generate-001"
    assert model_for_mode("custom-model", VERTEX) == "custom-model"
