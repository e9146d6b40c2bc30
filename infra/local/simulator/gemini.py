"""`models/{model}:generateContent`: scripts for script prompts, PNGs for image models, speech for TTS models
(speech.py), text otherwise.

Only the ids of models.py are served (C-ID-UNKNOWN-404); a routed id answers as its successor (`modelVersion`).
`usageMetadata` has the real shape (C-BILL-THINKING, B9): the thinking models report a deterministic
`thoughtsTokenCount` (seeded by model and prompt, capped by `thinkingConfig.thinkingBudget` when one is given),
and `totalTokenCount` = prompt + candidates + thoughts.
"""
from __future__ import annotations

import base64
import hashlib
import io
import json
import random
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from infra.local.simulator import models
from infra.local.simulator.models import GEMINI_API, IMAGE, TTS
from infra.local.simulator.protocol import invalid, language_code, prompt_fields
from infra.local.simulator.scripts import build_script
from infra.local.simulator.speech import speech_response
from shared.media.render import seed_for

MAX_BLOCKS = 20  # Veo's 148 s limit: 8 s + 20 x 7 s
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
THOUGHTS_MIN, THOUGHTS_SPREAD = 96, 1200  # a thinking model's thoughtsTokenCount: 96 … 1295
IMAGE_SIZES = {"9:16": (768, 1344), "16:9": (1344, 768), "1:1": (1024, 1024), "3:4": (864, 1184),
               "4:3": (1184, 864)}


def request_text(body: dict[str, Any]) -> str:
    """All user text parts of a generateContent request, joined by newlines."""
    contents = body.get("contents")
    if not isinstance(contents, list) or not contents:
        raise invalid("* GenerateContentRequest.contents: contents is not specified")
    texts = [part.get("text", "") for content in contents if isinstance(content, dict)
             for part in content.get("parts", []) if isinstance(part, dict)]
    return "\n".join(t for t in texts if t)


def request_images(body: dict[str, Any]) -> list[bytes]:
    """The inline images of a generateContent request, decoded."""
    found = []
    for content in body.get("contents") or []:
        for part in (content.get("parts", []) if isinstance(content, dict) else []):
            data = (part.get("inlineData") or {}).get("data") if isinstance(part, dict) else None
            if data:
                try:
                    # google-genai sends bytes as URL-safe base64; other clients use the standard alphabet
                    found.append(base64.b64decode(data.replace("-", "+").replace("_", "/")))
                except ValueError:
                    raise invalid("inlineData.data is not base64") from None
    return found


def generate_content(model: str, body: dict[str, Any], mode: str = GEMINI_API, project: str = "",
                     location: str = "") -> dict[str, Any]:
    """The generateContent response for `model` and the request `body` (404 for an id models.py does not serve)."""
    spec = models.resolve(model, mode, "generateContent", project, location)
    text = request_text(body)
    if spec.kind == TTS:
        return speech_response(spec, body, text)
    config = body.get("generationConfig") or {}
    if spec.kind == IMAGE or "IMAGE" in (config.get("responseModalities") or []):
        inputs = request_images(body)
        picture = composed_png_b64(text, config, inputs[0]) if inputs else portrait_png_b64(text, config)
        parts: list[dict[str, Any]] = [{"text": "Here is the image (simulated)."},
                                       {"inlineData": {"mimeType": "image/png", "data": picture}}]
        return _response(spec, text, parts, "Here is the image (simulated).", config)
    fields = prompt_fields(text)
    if "theme" in fields:
        answer = json.dumps(_script_for(fields), ensure_ascii=False)
    else:
        answer = _plain_answer(text, config)
    return _response(spec, text, [{"text": answer}], answer, config)


def _script_for(fields: dict[str, str]) -> dict[str, Any]:
    try:
        blocks = int(fields.get("blocks", "9").split()[0])
    except (ValueError, IndexError):
        raise invalid(f"Blocks must be a whole number, not {fields.get('blocks')!r}") from None
    if not 1 <= blocks <= MAX_BLOCKS:
        raise invalid(f"Blocks must be between 1 and {MAX_BLOCKS}, not {blocks}")
    theme = fields["theme"]
    style = fields.get("style", "cinematic").split()[0].strip().lower() if fields.get("style") else "cinematic"
    language = language_code(fields.get("language"))
    return build_script(theme, style, language, blocks, seed_for(theme, style, language, str(blocks)))


def _plain_answer(text: str, config: dict[str, Any]) -> str:
    """A deterministic reply for prompts that are not script requests."""
    if str(config.get("responseMimeType", "")).endswith("json"):
        return json.dumps({"answer": "simulated", "prompt_sha256": hashlib.sha256(text.encode()).hexdigest()})
    first_line = text.strip().splitlines()[0][:120] if text.strip() else ""
    return f"Simulated answer to: {first_line}"


def thoughts_tokens(spec: models.Model, prompt: str, config: dict[str, Any]) -> int:
    """C-BILL-THINKING: a deterministic thinking-token count for a thinking model (0 for the others)."""
    if not spec.thinking:
        return 0
    count = THOUGHTS_MIN + seed_for("thoughts", spec.answering, prompt) % THOUGHTS_SPREAD
    thinking = config.get("thinkingConfig") or config.get("thinking_config") or {}
    # google-genai 2.34 sends the field in snake_case; proto JSON accepts both spellings
    budget = thinking.get("thinkingBudget", thinking.get("thinking_budget"))
    if isinstance(budget, int) and budget >= 0:  # -1 is "dynamic": no cap
        count = min(count, budget)
    return count


def _response(spec: models.Model, prompt: str, parts: list[dict[str, Any]], answer: str,
              config: dict[str, Any]) -> dict[str, Any]:
    prompt_tokens = max(1, len(prompt) // 4)
    answer_tokens = max(1, len(answer) // 4)
    thoughts = thoughts_tokens(spec, prompt, config)
    usage = {"promptTokenCount": prompt_tokens, "candidatesTokenCount": answer_tokens,
             "totalTokenCount": prompt_tokens + answer_tokens + thoughts,
             "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt_tokens}]}
    if thoughts:
        usage["thoughtsTokenCount"] = thoughts
    return {
        "candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}],
        "usageMetadata": usage,
        "modelVersion": spec.answering,
        "responseId": hashlib.sha256(f"{spec.id}\n{prompt}".encode()).hexdigest()[:22],
    }


def portrait_png_b64(prompt: str, config: dict[str, Any]) -> str:
    """A simple Pillow-drawn character portrait for the prompt, as base64 PNG (same prompt, same image)."""
    ratio = str((config.get("imageConfig") or {}).get("aspectRatio", "9:16"))
    width, height = IMAGE_SIZES.get(ratio, IMAGE_SIZES["9:16"])
    rng = random.Random(seed_for("image", prompt, ratio))
    top, bottom = _color(rng), _color(rng)
    image = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(image)
    for y in range(height):
        mix = y / height
        draw.line([(0, y), (width, y)], fill=tuple(int(a + (b - a) * mix) for a, b in zip(top, bottom)))
    _draw_character(draw, width, height, rng)
    font = ImageFont.truetype(FONT, max(18, width // 30))
    caption = " ".join(prompt.split())[:60]
    draw.rectangle([(0, height - height // 10), (width, height)], fill=(0, 0, 0))
    draw.text((width // 20, height - height // 14), caption, fill=(255, 255, 255), font=font)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def composed_png_b64(prompt: str, config: dict[str, Any], reference: bytes) -> str:
    """The reference image (a character) placed into a seeded scene for the prompt, as base64 PNG."""
    ratio = str((config.get("imageConfig") or {}).get("aspectRatio", "9:16"))
    width, height = IMAGE_SIZES.get(ratio, IMAGE_SIZES["9:16"])
    rng = random.Random(seed_for("scene", prompt, ratio))
    scene = Image.new("RGB", (width, height), _color(rng))
    draw = ImageDraw.Draw(scene)
    horizon = int(height * rng.uniform(0.45, 0.65))
    draw.rectangle([(0, horizon), (width, height)], fill=_color(rng))
    for _ in range(6):
        x, y, r = rng.randrange(width), rng.randrange(horizon), rng.randrange(20, width // 5)
        draw.ellipse([(x - r, y - r), (x + r, y + r)], fill=_color(rng))
    try:
        character = Image.open(io.BytesIO(reference)).convert("RGB")
    except OSError:
        raise invalid("Unable to process input image.") from None
    character.thumbnail((int(width * 0.8), int(height * 0.7)))
    scene.paste(character, ((width - character.width) // 2, height - character.height - height // 20))
    buffer = io.BytesIO()
    scene.save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _color(rng: random.Random) -> tuple[int, int, int]:
    return rng.randrange(40, 230), rng.randrange(40, 230), rng.randrange(40, 230)


def _draw_character(draw: ImageDraw.ImageDraw, width: int, height: int, rng: random.Random) -> None:
    cx, head_y, r = width // 2, int(height * 0.38), width // 6
    draw.rounded_rectangle([(cx - int(r * 1.6), head_y + r), (cx + int(r * 1.6), int(height * 0.85))],
                           radius=r // 2, fill=_color(rng))
    draw.ellipse([(cx - r, head_y - r), (cx + r, head_y + r)], fill=(240, 200, 170))
    draw.pieslice([(cx - r, head_y - r - r // 8), (cx + r, head_y + r // 2)], 180, 360, fill=_color(rng))
    for dx in (-r // 2.5, r // 2.5):
        ex = cx + int(dx)
        draw.ellipse([(ex - r // 8, head_y - r // 8), (ex + r // 8, head_y + r // 8)], fill=(30, 30, 30))
    draw.arc([(cx - r // 2, head_y + r // 6), (cx + r // 2, head_y + r // 1.6)], 20, 160, fill=(120, 40, 40),
             width=max(2, r // 15))
