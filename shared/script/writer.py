"""Scripts: the request's validation, the video plan's block count, and the Gemini call that writes one."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from google import genai
from google.genai import types
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from shared.core import log
from shared.core.config import Settings
from shared.core.errors import ErrorCode, GenerationError
from shared.core.retry import call_gemini
from shared.core.validation import one_of, parse_body
from shared.core.vocabulary import LANGUAGES, MAX_DIALOGUE_WORDS, STYLES, VOICES
from shared.pricing.presets import DEFAULT_PRESET, PRESETS, Preset
from shared.script.prompts import SCRIPT_SYSTEM_INSTRUCTION, script_prompt
from shared.video import plan

MAX_THEME_CHARS = 300
# The script call's thinking budget (tokens): thinking is billed as output (contract B9), so it is capped, and
# the estimate assumes the whole budget is used (shared.api.estimates).
SCRIPT_THINKING_BUDGET = 1024
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def blocks_for(preset: Preset, target_seconds: int | None, mode: str) -> int:
    """Block count of a preset's video in API mode `mode` (planned for the preset's Veo model): the shortest in
    its window, or the nearest the target."""
    return plan.blocks_for(preset.min_seconds, preset.max_seconds, mode, target_seconds, preset.veo_model(mode))


class VideoRequestBody(BaseModel):
    """What the front end POSTs to create a video."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    theme: str = Field(min_length=3, max_length=MAX_THEME_CHARS)
    style: str = "cinematic"
    language: str = "en"
    character_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{1,64}$")
    music: str | None = Field(default=None, pattern=r"^[a-z0-9_-]{1,64}$")
    preset: str = DEFAULT_PRESET
    target_seconds: int | None = Field(default=None, ge=8, le=148)  # within the preset's window
    max_cost_usd: float | None = Field(default=None, gt=0, le=10000)
    allow_downgrade: bool = False
    voice: str | None = None  # one narrator voice described in every Veo block (prompts.VOICES)
    review: bool = False  # stop after the script in awaiting_approval, with a storyboard preview
    callback_url: str | None = Field(default=None, min_length=8, max_length=2000)  # webhook on completion/failure

    @field_validator("preset")
    @classmethod
    def _known_preset(cls, value: str) -> str:
        return one_of(value, PRESETS, "preset")

    @field_validator("target_seconds")
    @classmethod
    def _target_within_preset(cls, value: int | None, info: ValidationInfo) -> int | None:
        preset = PRESETS.get(info.data.get("preset", DEFAULT_PRESET))
        if value is not None and preset and not preset.min_seconds <= value <= preset.max_seconds:
            raise ValueError(f"must lie within {preset.name}'s {preset.min_seconds}-{preset.max_seconds} s")
        return value

    @field_validator("voice")
    @classmethod
    def _known_voice(cls, value: str | None) -> str | None:
        return value if value is None else one_of(value, VOICES, "voice")

    @field_validator("theme")
    @classmethod
    def _printable_theme(cls, value: str) -> str:
        if _CONTROL.search(value):
            raise ValueError("theme contains control characters")
        if not any(ch.isalnum() for ch in value):
            raise ValueError("theme must contain letters or digits")
        return unicodedata.normalize("NFC", value)

    @field_validator("style")
    @classmethod
    def _known_style(cls, value: str) -> str:
        return one_of(value, STYLES, "style")

    @field_validator("language")
    @classmethod
    def _known_language(cls, value: str) -> str:
        return one_of(value, LANGUAGES, "language")


def parse_request(body: Any) -> VideoRequestBody:
    """Validate a video request body; InvalidInputError with a per-field code on the first problem."""
    return parse_body(VideoRequestBody, body)


class Block(BaseModel):
    """One shot of the script."""

    model_config = ConfigDict(extra="ignore")

    index: int = Field(ge=0)
    visual: str = Field(min_length=3, max_length=600)
    dialogue: str = Field(default="", max_length=200)
    sound_effects: str = Field(default="", max_length=300)


class ScriptModel(BaseModel):
    """What Gemini must return (also the structured-output schema sent to it)."""

    model_config = ConfigDict(extra="ignore")

    title: str = Field(min_length=1, max_length=120)
    blocks: list[Block]


def validate_script(raw_text: str, *, blocks: int) -> ScriptModel:
    """Parse and check Gemini's JSON; GenerationError says what is wrong (it is sent back once)."""
    try:
        script = ScriptModel.model_validate_json(raw_text)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise GenerationError(f"script JSON invalid at {'.'.join(map(str, err['loc']))}: {err['msg']}",
                              code=ErrorCode.INVALID_SCRIPT) from exc
    if len(script.blocks) != blocks:
        raise GenerationError(f"expected {blocks} blocks, got {len(script.blocks)}", code=ErrorCode.INVALID_SCRIPT)
    for position, block in enumerate(script.blocks):
        words = len(block.dialogue.split())
        if words > MAX_DIALOGUE_WORDS:
            raise GenerationError(f"block {position} dialogue has {words} words (max {MAX_DIALOGUE_WORDS})",
                                  code=ErrorCode.INVALID_SCRIPT)
    if not any(b.dialogue.strip() for b in script.blocks):
        raise GenerationError("no block has any dialogue", code=ErrorCode.INVALID_SCRIPT)
    return script


@dataclass(frozen=True)
class GeneratedScript:
    script: dict[str, Any]
    prompt_tokens: int
    output_tokens: int  # the answer's tokens (candidates)
    attempts: int
    thought_tokens: int = 0  # thinking tokens, billed at the output price (contract B9)

    def usage_fields(self) -> dict[str, int]:
        """The ledger fields of the script call (shared.pricing.costs)."""
        return {"gemini_prompt_tokens": self.prompt_tokens, "gemini_output_tokens": self.output_tokens,
                "gemini_thought_tokens": self.thought_tokens, "script_attempts": self.attempts}


def _ask_gemini(client: genai.Client, model: str, prompt: str) -> types.GenerateContentResponse:
    """One script call; 429/5xx are retried within gemini_retrying's bound, then raised as TransientError, and so
    is a call that timed out or could not connect. No `temperature`: the current models deprecate it (M6)."""
    config = types.GenerateContentConfig(
        system_instruction=SCRIPT_SYSTEM_INSTRUCTION,
        response_mime_type="application/json",
        response_schema=ScriptModel,
        thinking_config=types.ThinkingConfig(thinking_budget=SCRIPT_THINKING_BUDGET),
    )
    return call_gemini("Gemini", client.models.generate_content, refused_code=ErrorCode.SCRIPT_GENERATION_FAILED,
                       model=model, contents=prompt, config=config)


def generate_script(client: genai.Client, settings: Settings, request: VideoRequestBody,
                    character: dict[str, str] | None = None, *, blocks: int | None = None) -> GeneratedScript:
    """Ask Gemini for a script (`blocks` blocks, default: the request's preset); one retry on a malformed one."""
    preset = PRESETS[request.preset]
    blocks = blocks or blocks_for(preset, request.target_seconds, settings.genai_mode)
    block_seconds = [b.seconds for b in plan.plan_video(blocks, settings.genai_mode,
                                                        preset.veo_model(settings.genai_mode)).blocks]
    correction: str | None = None
    prompt_tokens = output_tokens = thought_tokens = 0
    for attempt in (1, 2):
        prompt = script_prompt(request.theme, request.style, request.language, block_seconds, character,
                               correction)
        response = _ask_gemini(client, settings.script_model, prompt)
        usage = response.usage_metadata
        prompt_tokens += (usage and usage.prompt_token_count) or 0
        output_tokens += (usage and usage.candidates_token_count) or 0
        thought_tokens += (usage and getattr(usage, "thoughts_token_count", None)) or 0
        try:
            script = validate_script(response.text or "", blocks=blocks)
        except GenerationError as exc:
            log.warning("script rejected", attempt=attempt, reason=exc.message)
            correction = exc.message
            continue
        return GeneratedScript(_script_document(script, request), prompt_tokens, output_tokens, attempt,
                               thought_tokens)
    raise GenerationError(f"Gemini returned an invalid script twice: {correction}", code=ErrorCode.INVALID_SCRIPT)


def _script_document(script: ScriptModel, request: VideoRequestBody) -> dict[str, Any]:
    blocks = [{**b.model_dump(), "index": i} for i, b in enumerate(script.blocks)]
    return {"title": script.title, "theme": request.theme, "style": request.style,
            "language": request.language, "blocks": blocks}
