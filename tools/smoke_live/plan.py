"""What a smoke run will call, what it should cost, and what it needs before it may spend anything.

Five steps, the smallest real sequence that touches every Google call the pipeline makes:

    1 script          the writer's Gemini call (one 1-block script, JSON schema)       shared.script.writer
    2 image           the image model (one 9:16 opening frame)                         shared.video.characters
    3 text_to_video   8 s 9:16 720p clip: submit, poll, download                       shared.video.veo
    4 extension       +7 s on step 3's video with the same model (a model that extends)
    5 image_to_video  8 s from step 2's frame

Expected cost = (8 + 7 + 8) s x the model's price per second + the script's tokens + one image, all from
shared.pricing (the dated table the ledger and receipts use).
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.core.config import GEMINI_API, VEO_MODELS, VERTEX, Settings
from shared.core.veo_models import can_extend
from shared.pricing.costs import gemini_usd, veo_usd
from shared.pricing.prices import IMAGE_PRICE_PER_IMAGE, PRICES_AS_OF
from shared.script.prompts import SCRIPT_SYSTEM_INSTRUCTION, script_prompt
from shared.script.writer import SCRIPT_THINKING_BUDGET
from shared.video.plan import EXTENSION_SECONDS, FIRST_CLIP_SECONDS

MODES = (GEMINI_API, VERTEX)
TIERS = ("standard", "fast", "lite")
DEFAULT_TIER = "fast"  # the cheapest model that can extend in both modes
# The tiers whose model extends a video in each mode (shared.core.veo_models, contract V3: not Lite on the Gemini API).
EXTENDING_TIERS: dict[str, tuple[str, ...]] = {
    mode: tuple(tier for tier in TIERS if can_extend(VEO_MODELS[mode][tier], mode)) for mode in MODES}

THEME = "A paper boat's journey down a rainy street"
STYLE, LANGUAGE, SCRIPT_BLOCKS = "cinematic", "en", 1
SCRIPT_OUTPUT_TOKENS = 120  # one block of JSON
THINKING_ALLOWANCE_TOKENS = SCRIPT_THINKING_BUDGET  # the writer's cap; billed as output (contract B9)
IMAGE_PROMPT = ("A small red paper boat on a rain-soaked cobblestone street at dusk, reflections of warm "
                "street lamps, vertical 9:16 composition, photorealistic, no people, no text")
T2V_PROMPT = ("A small red paper boat drifts along a rain-soaked street gutter at dusk, slow dolly shot at water "
              "level, warm street lamps reflected in the puddles, soft rain and distant thunder, no people")
EXTENSION_PROMPT = ("The paper boat reaches a storm drain, spins once in a small whirlpool and sails on, camera "
                    "follows at water level, rain continues")
I2V_PROMPT = "The paper boat slowly drifts forward as raindrops ripple the water around it; gentle rain sounds"



@dataclass(frozen=True)
class Step:
    """One call of the run."""

    name: str
    model: str
    what: str
    video_seconds: int = 0
    needs: tuple[str, ...] = ()  # steps whose result this one uses


@dataclass(frozen=True)
class Cost:
    """The expected (or measured) cost, priced from shared.pricing."""

    video_parts: tuple[int, ...]  # seconds of each clip (8 + 7 + 8 expected)
    veo_model: str
    veo_usd: float
    prompt_tokens: int
    output_tokens: int
    gemini_usd: float
    images: int
    images_usd: float

    @property
    def video_seconds(self) -> int:
        return sum(self.video_parts)

    @property
    def total_usd(self) -> float:
        return round(self.veo_usd + self.gemini_usd + self.images_usd, 4)

    def to_doc(self) -> dict[str, Any]:
        return {"video_seconds": self.video_seconds, "video_parts": list(self.video_parts),
                "veo_model": self.veo_model, "veo_usd": round(self.veo_usd, 4),
                "tokens": {"prompt": self.prompt_tokens, "output": self.output_tokens},
                "gemini_usd": round(self.gemini_usd, 6), "images": self.images,
                "images_usd": round(self.images_usd, 4), "total_usd": self.total_usd,
                "prices_as_of": PRICES_AS_OF}


@dataclass(frozen=True)
class Plan:
    mode: str
    tier: str
    endpoint: str
    steps: tuple[Step, ...]

    @property
    def veo_model(self) -> str:
        return VEO_MODELS[self.mode][self.tier]


def veo_model(mode: str, tier: str) -> str:
    """The Veo id of `tier` in `mode`; ValueError when that model cannot extend there (contract V3)."""
    if tier not in EXTENDING_TIERS[mode]:
        raise ValueError(f"Veo 3.1 {tier} cannot extend a video on the {mode} API (contract V3); "
                         f"use one of {', '.join(EXTENDING_TIERS[mode])}")
    return VEO_MODELS[mode][tier]


STEP_NAMES = ("script", "image", "text_to_video", "extension", "image_to_video")


def build_plan(settings: Settings, tier: str, endpoint: str, only: tuple[str, ...] = STEP_NAMES) -> Plan:
    """The steps (all five, or those in `only`) with the models `settings` (the deployed configuration) and
    `tier` name. A step whose input step is left out is still listed: it will be skipped."""
    mode, veo = settings.genai_mode, veo_model(settings.genai_mode, tier)
    steps = (
        Step("script", settings.script_model, f"one {SCRIPT_BLOCKS}-block script (generateContent, JSON schema)"),
        Step("image", settings.image_model, "one 9:16 opening frame (generateContent, IMAGE)"),
        Step("text_to_video", veo, f"{FIRST_CLIP_SECONDS} s 9:16 720p text-to-video; poll; download",
             FIRST_CLIP_SECONDS),
        Step("extension", veo, f"+{EXTENSION_SECONDS} s extension of text_to_video (same model); poll; download",
             EXTENSION_SECONDS, ("text_to_video",)),
        Step("image_to_video", veo, f"{FIRST_CLIP_SECONDS} s 9:16 image-to-video from the image; poll; download",
             FIRST_CLIP_SECONDS, ("image",)),
    )
    return Plan(mode, tier, endpoint, tuple(step for step in steps if step.name in only))


def script_prompt_tokens() -> int:
    """The script call's prompt, in tokens (4 characters a token, as shared.api.estimates counts)."""
    prompt = script_prompt(THEME, STYLE, LANGUAGE, [FIRST_CLIP_SECONDS] * SCRIPT_BLOCKS)
    return (len(SCRIPT_SYSTEM_INSTRUCTION) + len(prompt)) // 4


def expected_cost(plan: Plan) -> Cost:
    """Seconds x the model's price + the script's tokens (with a thinking allowance) + one image (of the steps
    planned; a step that will be skipped for want of its input costs nothing)."""
    names = {step.name for step in plan.steps}
    parts = tuple(step.video_seconds for step in plan.steps if step.video_seconds and set(step.needs) <= names)
    script, images = "script" in names, int("image" in names)
    prompt_tokens = (script_prompt_tokens() if script else 0) + images * (len(IMAGE_PROMPT) // 4)
    output_tokens = SCRIPT_OUTPUT_TOKENS + THINKING_ALLOWANCE_TOKENS if script else 0
    return Cost(parts, plan.veo_model, veo_usd(plan.veo_model, sum(parts)), prompt_tokens, output_tokens,
                gemini_usd(prompt_tokens, output_tokens), images, images * IMAGE_PRICE_PER_IMAGE)


def measured_cost(plan: Plan, delivered: tuple[int, ...], prompt_tokens: int, output_tokens: int,
                  images: int) -> Cost:
    """What the run spent, priced from the same table (only delivered video is charged: contract B6)."""
    return Cost(delivered, plan.veo_model, veo_usd(plan.veo_model, sum(delivered)), prompt_tokens, output_tokens,
                gemini_usd(prompt_tokens, output_tokens), images, images * IMAGE_PRICE_PER_IMAGE)


def cost_line(cost: Cost, *, expected: bool = True) -> str:
    """`expected cost: $3.49 = video 8 + 7 + 8 = 23 s x $0.15/s (model) ...`: the first line the kit prints."""
    seconds = " + ".join(str(part) for part in cost.video_parts) or "0"
    per_second = veo_usd(cost.veo_model, 1)
    tokens = cost.prompt_tokens + cost.output_tokens
    head = "expected cost" if expected else "measured cost"
    approx = "~" if expected else ""
    return (f"{head}: ${cost.total_usd:.2f} = video {seconds} = {cost.video_seconds} s x ${per_second:.2f}/s "
            f"({cost.veo_model}) ${cost.veo_usd:.2f} + tokens {approx}{tokens:,} ${cost.gemini_usd:.4f} "
            f"+ images {cost.images} x ${IMAGE_PRICE_PER_IMAGE:g} (prices as of {PRICES_AS_OF}, "
            "shared/pricing/prices.py)")


def adc_file(environ: Mapping[str, str]) -> Path | None:
    """Application Default Credentials on disk: GOOGLE_APPLICATION_CREDENTIALS, else gcloud's file."""
    explicit = environ.get("GOOGLE_APPLICATION_CREDENTIALS")
    if explicit:
        return Path(explicit) if Path(explicit).is_file() else None
    config = environ.get("CLOUDSDK_CONFIG") or os.path.join(environ.get("HOME", "~"), ".config", "gcloud")
    found = Path(config).expanduser() / "application_default_credentials.json"
    return found if found.is_file() else None


def missing_requirements(mode: str, environ: Mapping[str, str], *, confirmed: bool,
                         local_endpoint: bool) -> list[str]:
    """What stops a real run, in words (empty: the run may start)."""
    missing = []
    if mode == GEMINI_API and not environ.get("GEMINI_API_KEY"):
        missing.append("GEMINI_API_KEY (an API key from https://aistudio.google.com/apikey)")
    if mode == VERTEX:
        if not environ.get("GOOGLE_CLOUD_PROJECT"):
            missing.append("GOOGLE_CLOUD_PROJECT (the project with Vertex AI enabled)")
        if not (environ.get("VERTEX_LOCATION") or environ.get("GOOGLE_CLOUD_LOCATION")):
            missing.append("VERTEX_LOCATION or GOOGLE_CLOUD_LOCATION (e.g. us-central1)")
        if not (environ.get("VERTEX_OUTPUT_PREFIX") or environ.get("PIPELINE_BUCKET")):
            missing.append("VERTEX_OUTPUT_PREFIX (gs://bucket/prefix) or PIPELINE_BUCKET: Veo writes its videos there")
        if not local_endpoint and adc_file(environ) is None:
            missing.append("Application Default Credentials (gcloud auth application-default login, "
                           "or GOOGLE_APPLICATION_CREDENTIALS=<key file>)")
    if not confirmed:
        missing.append("CONFIRM=1 (consent to spend the expected cost above)")
    return missing


def plan_lines(plan: Plan) -> list[str]:
    """The plan as printed: mode, endpoint, then one line per step."""
    lines = [f"smoke-live plan: mode {plan.mode}, endpoint {plan.endpoint}"]
    for number, step in enumerate(plan.steps, 1):
        lines.append(f"  {number}. {step.name:<15} {step.model:<32} {step.what}")
    return lines
