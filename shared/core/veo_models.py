"""The Veo 3.1 models of each API mode and what each can do: the one capability table.

Rules from docs/google-ai-contract.md: M1 (Gemini API ids: `-preview`), M2 (Vertex AI ids: `-001`; the
Vertex AI `-preview` ids are listed too), V3 (extension: Standard and Fast in both modes; Lite only on
Vertex AI, **never on the Gemini API**), B1–B3 (a tier's price, in shared.pricing.prices).

    mode        tier      id                               extends a video (+7 s)
    gemini_api  standard  veo-3.1-generate-preview         yes
    gemini_api  fast      veo-3.1-fast-generate-preview    yes
    gemini_api  lite      veo-3.1-lite-generate-preview    NO: each block is its own 8 s clip
    vertex      standard  veo-3.1-generate-001             yes
    vertex      fast      veo-3.1-fast-generate-001        yes
    vertex      lite      veo-3.1-lite-generate-001        yes (preview launch stage)

A model that cannot extend in a mode gets a plan of one-block chains (shared.video.plan). The API modes are
named here too, so that this table and shared.core.config (which re-exports them) share one spelling.
"""
from __future__ import annotations

from dataclasses import dataclass

GEMINI_API = "gemini_api"
VERTEX = "vertex"
MODES: tuple[str, ...] = (GEMINI_API, VERTEX)
STANDARD, FAST, LITE = "standard", "fast", "lite"
TIERS: tuple[str, ...] = (STANDARD, FAST, LITE)


@dataclass(frozen=True)
class VeoModel:
    """One Veo model id as one API mode serves it."""

    id: str
    mode: str
    tier: str
    extends: bool  # accepts a Veo-made video as input (an extension) in this mode
    contract: str  # the rules it rests on


CATALOGUE: tuple[VeoModel, ...] = (
    VeoModel("veo-3.1-generate-preview", GEMINI_API, STANDARD, True, "M1, V3"),
    VeoModel("veo-3.1-fast-generate-preview", GEMINI_API, FAST, True, "M1, V3"),
    VeoModel("veo-3.1-lite-generate-preview", GEMINI_API, LITE, False, "M1, V3 (no extension on the Gemini API)"),
    VeoModel("veo-3.1-generate-001", VERTEX, STANDARD, True, "M2, V3"),
    VeoModel("veo-3.1-fast-generate-001", VERTEX, FAST, True, "M2, V3"),
    VeoModel("veo-3.1-lite-generate-001", VERTEX, LITE, True, "M2 (preview launch stage), V3"),
)
_BY_MODE_AND_ID: dict[tuple[str, str], VeoModel] = {(m.mode, m.id): m for m in CATALOGUE}

# The id of each tier in each mode (what a preset's tier becomes): {mode: {tier: id}}.
VEO_MODELS: dict[str, dict[str, str]] = {mode: {m.tier: m.id for m in CATALOGUE if m.mode == mode} for mode in MODES}


def default_veo_model(mode: str) -> str:
    """The standard Veo 3.1 model id of an API mode."""
    return VEO_MODELS[mode][STANDARD]


def tier_of(model: str) -> str:
    """standard, fast or lite, from a Veo model id (a listed id, else its `-fast-` / `-lite-` part)."""
    for known in CATALOGUE:
        if known.id == model:
            return known.tier
    for tier in (FAST, LITE):
        if f"-{tier}-" in model:
            return tier
    return STANDARD


def model_for_mode(model: str, mode: str) -> str:
    """The id of `model` in API mode `mode` (a `-preview` id becomes `-001` on Vertex AI and back); others unchanged."""
    if (mode, model) in _BY_MODE_AND_ID:
        return model
    for known in CATALOGUE:
        if known.id == model and known.mode != mode:
            return VEO_MODELS[mode][known.tier]
    return model


def can_extend(model: str, mode: str) -> bool:
    """Whether `model` extends a Veo video in API mode `mode` (V3); an unlisted id is judged by its tier."""
    known = _BY_MODE_AND_ID.get((mode, model_for_mode(model, mode)))
    if known is not None:
        return known.extends
    return not (mode == GEMINI_API and tier_of(model) == LITE)
