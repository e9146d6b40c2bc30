"""The one table of model ids the simulator serves, per protocol, with their prices.

Every row names its rule in docs/google-ai-contract.md (section 1 ids, section 4 prices, section 9 contract ids):

- C-ID-VEO-G (M1, M3): on the Gemini API only `veo-3.1{,-fast,-lite}-generate-preview`; Veo 2.0 / 3.0 ids
  were shut down on 2026-06-30 and are unknown here.
- C-ID-VEO-V (M2): on Vertex AI `veo-3.1{,-fast,-lite}-generate-001` plus `veo-3.1{,-fast}-generate-preview`.
- Script and image models (M5, M7): `gemini-3.8-flash`, `gemini-3.6-flash`, `gemini-3.5-flash-lite`, the alias
  `gemini-flash-latest`; `gemini-3.1-flash-image`, `gemini-3.1-flash-lite-image`, `gemini-3-pro-image`.
  Vertex AI serves the same ids here, NOT VERIFIED (M9: no Vertex model page after 2.5 was readable).
- C-ID-ROUTE (C3, primary): `gemini-3.5-flash` and `gemini-3.7-flash` were deprecated on 2026-10-08 and are
  auto-routed to `gemini-3.6-flash` / `gemini-3.8-flash`; the response's `modelVersion` names the successor.
  `gemini-2.5-flash` is NOT routed: a secondary source (C1) says it has been routed to `gemini-3.5-flash-lite`
  since 2026-12-01, the primary copy says it was shut down. The simulator answers 404 — stricter than that
  report on purpose, so that a stale id in the pipeline fails a test instead of being silently billed at
  another model's rates.
- C-ID-UNKNOWN-404 (E3): every other id (retired ones included: `gemini-2.5-flash`, `gemini-2.5-flash-image`,
  the `-preview` image ids shut down 2026-06-25, `veo-3.0-generate-001`, …) → 404 NOT_FOUND, and so is a
  known id asked for a method it does not serve (a Veo id on generateContent, a Gemini id on
  predictLongRunning), as the E3 template says ("or is not supported for …").
- TTS ids (M8, T1): `gemini-3.8-flash-tts`, `gemini-3.8-flash-lite-tts` speak (gemini.py `speech_response`,
  rules C-TTS-*); they serve generateContent only, like the others.
- C-BILL-RATES (B1–B3, USD per second of delivered video, as read 2026-10-07; Vertex AI prices are not
  verified (B5) and the Gemini API rates are used for both).
- TTS prices (B11, T8): text input / audio output tokens, launch prices through 2026-12-31 (secondary sources).
- Token prices (B8, USD per 1M tokens, as of 2026-12-01): only the models the contract prices; thinking
  tokens are billed as output (B9). Which models think is not in the contract: the Flash models do here,
  Flash-Lite does not (as `gemini-2.5-flash-lite` shipped with thinking off) — an assumption.
"""
from __future__ import annotations

from dataclasses import dataclass

from infra.local.simulator.protocol import ApiError

GEMINI_API = "gemini_api"
VERTEX = "vertex"
BOTH = frozenset({GEMINI_API, VERTEX})

VEO, TEXT, IMAGE, TTS = "veo", "text", "image", "tts"
METHODS = {VEO: ("predictLongRunning", "fetchPredictOperation"), TEXT: ("generateContent",),
           IMAGE: ("generateContent",), TTS: ("generateContent",)}
STANDARD, FAST, LITE = "standard", "fast", "lite"
VERTEX_MODEL_VERSIONS = "https://cloud.google.com/vertex-ai/generative-ai/docs/learn/model-versions"


@dataclass(frozen=True)
class Model:
    """One servable model id."""

    id: str
    kind: str  # veo | text | image | tts
    modes: frozenset[str]
    contract: str
    tier: str = ""  # Veo: standard | fast | lite
    thinking: bool = False
    serves_as: str = ""  # routed (C3) or alias: the model that answers, named in modelVersion
    vertex_verified: bool = True

    @property
    def answering(self) -> str:
        """The id of the model that actually answers (itself unless routed)."""
        return self.serves_as or self.id


def _gemini(model_id: str, kind: str, contract: str, *, thinking: bool = False, serves_as: str = "") -> Model:
    return Model(model_id, kind, BOTH, contract, thinking=thinking, serves_as=serves_as, vertex_verified=False)


_TABLE: tuple[Model, ...] = (
    # Veo 3.1 — Gemini API (C-ID-VEO-G, M1) and Vertex AI (C-ID-VEO-V, M2)
    Model("veo-3.1-generate-preview", VEO, BOTH, "C-ID-VEO-G M1 / C-ID-VEO-V M2", tier=STANDARD),
    Model("veo-3.1-fast-generate-preview", VEO, BOTH, "C-ID-VEO-G M1 / C-ID-VEO-V M2", tier=FAST),
    Model("veo-3.1-lite-generate-preview", VEO, frozenset({GEMINI_API}), "C-ID-VEO-G M1", tier=LITE),
    Model("veo-3.1-generate-001", VEO, frozenset({VERTEX}), "C-ID-VEO-V M2", tier=STANDARD),
    Model("veo-3.1-fast-generate-001", VEO, frozenset({VERTEX}), "C-ID-VEO-V M2", tier=FAST),
    Model("veo-3.1-lite-generate-001", VEO, frozenset({VERTEX}), "C-ID-VEO-V M2 (preview launch stage)", tier=LITE),
    # Script models (M5); on Vertex AI not verified (M9)
    _gemini("gemini-3.8-flash", TEXT, "M5", thinking=True),
    _gemini("gemini-3.6-flash", TEXT, "M5", thinking=True),
    _gemini("gemini-3.5-flash-lite", TEXT, "M5"),
    _gemini("gemini-flash-latest", TEXT, "M5 alias (target assumed: the newest Flash)", thinking=True,
            serves_as="gemini-3.8-flash"),
    _gemini("gemini-3.5-flash", TEXT, "C-ID-ROUTE C3", thinking=True, serves_as="gemini-3.6-flash"),
    _gemini("gemini-3.7-flash", TEXT, "C-ID-ROUTE C3", thinking=True, serves_as="gemini-3.8-flash"),
    # Image models (M7)
    _gemini("gemini-3.1-flash-image", IMAGE, "M7"),
    _gemini("gemini-3.1-flash-lite-image", IMAGE, "M7"),
    _gemini("gemini-3-pro-image", IMAGE, "M7"),
    # TTS (M8, T1): speak, audio only
    _gemini("gemini-3.8-flash-tts", TTS, "M8"),
    _gemini("gemini-3.8-flash-lite-tts", TTS, "M8"),
)
MODELS: dict[str, Model] = {m.id: m for m in _TABLE}

# Ids the contract records as shut down (documentation and tests; any id not in MODELS is refused anyway).
RETIRED: dict[str, str] = {
    "gemini-2.5-flash": "C1 (see C-ID-ROUTE above)",
    "gemini-2.5-flash-image": "C2, shut down 2026-10-02",
    "gemini-3.1-flash-image-preview": "M7, shut down 2026-06-25",
    "gemini-3-pro-image-preview": "M7, shut down 2026-06-25",
    "veo-2.0-generate-001": "M3, shut down 2026-06-30 (G)",
    "veo-3.0-generate-001": "M3, shut down 2026-06-30 (G)",
    "veo-3.0-fast-generate-001": "M3, shut down 2026-06-30 (G)",
}

# C-BILL-RATES: USD per delivered second, by Veo tier and resolution (B1 standard, B2 fast, B3 lite).
VEO_RATES: dict[str, dict[str, float]] = {
    STANDARD: {"720p": 0.40, "1080p": 0.40, "4k": 0.60},
    FAST: {"720p": 0.10, "1080p": 0.12, "4k": 0.30},
    LITE: {"720p": 0.05, "1080p": 0.08},
}
# B8: USD per 1M tokens (input, output incl. thinking); gemini-3.8-flash's price until 2026-12-31.
# gemini-3.6-flash and the image models' tokens are not priced by the contract (NV): they cost 0 here.
TOKEN_PRICES: dict[str, tuple[float, float]] = {
    "gemini-3.8-flash": (0.75, 3.75),
    "gemini-3.5-flash-lite": (0.30, 2.50),
    # B11 / T8: TTS text input and audio output tokens, launch prices through 2026-12-31 (double from 2027-01-01)
    "gemini-3.8-flash-lite-tts": (0.50, 6.00),
    "gemini-3.8-flash-tts": (0.50, 9.00),
}
# T4: the 30 prebuilt voices of the Gemini TTS models (voiceName is matched as written).
TTS_VOICES = frozenset({
    "Zephyr", "Puck", "Charon", "Kore", "Fenrir", "Leda", "Orus", "Aoede", "Callirrhoe", "Autonoe", "Enceladus",
    "Iapetus", "Umbriel", "Algieba", "Despina", "Erinome", "Algenib", "Rasalgethi", "Laomedeia", "Achernar",
    "Alnilam", "Schedar", "Gacrux", "Pulcherrima", "Achird", "Zubenelgenubi", "Vindemiatrix", "Sadachbia",
    "Sadaltager", "Sulafat"})
TTS_INPUT_TOKEN_LIMIT = 8192  # T3
TTS_AUDIO_TOKENS_PER_SECOND = 32  # T8 (secondary): audio output tokens per second of speech


def not_found(model: str, mode: str, method: str, project: str = "", location: str = "") -> ApiError:
    """C-ID-UNKNOWN-404: the 404 NOT_FOUND body of each protocol.

    Gemini API: the template of E3 (ISS-404), used for every method. Vertex AI: the "Publisher Model … was not
    found" wording seen in raw Vertex AI bodies (genkit-ai/genkit#4688, truefoundry/models#946; secondary).
    """
    if mode == VERTEX:
        resource = f"projects/{project}/locations/{location}/publishers/google/models/{model}"
        return ApiError(404, f"Publisher Model `{resource}` was not found or your project does not have access "
                             f"to it. Please ensure you are using a valid model version. For more information, "
                             f"see: {VERTEX_MODEL_VERSIONS}", "NOT_FOUND")
    return ApiError(404, f"models/{model} is not found for API version v1beta, or is not supported for {method}. "
                         "Call ListModels to see the list of available models and their supported methods.",
                    "NOT_FOUND")


def resolve(model: str, mode: str, method: str, project: str = "", location: str = "") -> Model:
    """The served model for a call, or the error the real API answers (404)."""
    found = MODELS.get(model.removeprefix("models/"))
    if found is None or mode not in found.modes or method not in METHODS[found.kind]:
        raise not_found(model, mode, method, project, location)
    return found


def veo_rate(model: Model, resolution: str) -> float:
    """USD per delivered second (C-BILL-RATES); 720p when the request named none."""
    rates = VEO_RATES[model.tier]
    return rates.get(resolution, rates["720p"])


def token_cost(model_id: str, prompt_tokens: int, output_tokens: int) -> float:
    """USD for one generateContent call; output_tokens includes thinking (B9). 0 for unpriced models."""
    prices = TOKEN_PRICES.get(model_id)
    if prices is None:
        return 0.0
    return (prompt_tokens * prices[0] + output_tokens * prices[1]) / 1_000_000
