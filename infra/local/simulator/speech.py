"""Gemini TTS (`gemini-3.8-flash{,-lite}-tts` on generateContent): real speech, spoken by the machine's espeak-ng.

The simulator stands in for Google, so it may use the machine's tools; what it checks and answers is the written
contract (docs/google-ai-contract.md, T1-T8 and the C-TTS-* lines of section 9):

- C-TTS-TEXT-ONLY (T2): the models take text only: any other part (inline data, a file) → 400 INVALID_ARGUMENT.
- C-TTS-AUDIO-ONLY (T2): they answer audio only: `responseModalities` must be `["AUDIO"]`, else 400.
- C-TTS-VOICE (T4): `voiceName` must be one of the 30 prebuilt voices (none given: the default voice, Kore here).
- C-TTS-INPUT-LIMIT (T3): at most 8,192 input tokens (counted here as characters / 4, like the text models).
- C-TTS-WAV (T5): one inline part, `audio/wav`, 24 kHz mono signed 16-bit little-endian, with its RIFF header.
- C-TTS-BILL (T8, B11): usage = text tokens in, audio tokens out (32 per second of speech), no thinking (T2);
  the ledger prices them with models.TOKEN_PRICES.
The espeak-ng voice follows `speechConfig.languageCode` (en/fr/es, default en): the real models detect the language.
google-genai 2.34 sends `speechConfig`'s inside in snake_case (`voice_config`, `prebuilt_voice_config`, `voice_name`,
`language_code`); proto JSON accepts both spellings, and so does the simulator (`_field`).
"""
from __future__ import annotations

import base64
import hashlib
import io
import math
import tempfile
import wave
from pathlib import Path
from typing import Any

import numpy as np

from infra.local.simulator import models
from infra.local.simulator.protocol import invalid
from shared.media.speech import espeak_synthesize

SAMPLE_RATE = 24_000
DEFAULT_VOICE = "Kore"
_LANGUAGES = ("en", "fr", "es")


def speech_response(spec: models.Model, body: dict[str, Any], text: str) -> dict[str, Any]:
    """The generateContent answer of a TTS model: the checks above, then the spoken text as a WAV part."""
    _text_only(body)
    config = body.get("generationConfig") or {}
    _audio_only(config)
    speech_config = _field(config, "speechConfig") or {}
    _voice(speech_config)
    prompt_tokens = max(1, len(text) // 4)
    if prompt_tokens > models.TTS_INPUT_TOKEN_LIMIT:
        raise invalid(f"The input token count ({prompt_tokens}) exceeds the maximum number of tokens allowed "
                      f"({models.TTS_INPUT_TOKEN_LIMIT}).")
    if not text.strip():
        raise invalid("* GenerateContentRequest.contents: contents is not specified")
    wav, seconds = _spoken_wav(text, str(_field(speech_config, "languageCode") or "en"))
    audio_tokens = math.ceil(seconds * models.TTS_AUDIO_TOKENS_PER_SECOND)
    part = {"inlineData": {"mimeType": "audio/wav", "data": base64.b64encode(wav).decode("ascii")}}
    return {
        "candidates": [{"content": {"role": "model", "parts": [part]}, "finishReason": "STOP", "index": 0}],
        "usageMetadata": {"promptTokenCount": prompt_tokens, "candidatesTokenCount": audio_tokens,
                          "totalTokenCount": prompt_tokens + audio_tokens,
                          "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt_tokens}],
                          "candidatesTokensDetails": [{"modality": "AUDIO", "tokenCount": audio_tokens}]},
        "modelVersion": spec.answering,
        "responseId": hashlib.sha256(f"{spec.id}\n{text}".encode()).hexdigest()[:22],
    }


def _field(message: dict[str, Any], camel: str) -> Any:
    """A proto JSON field under its lowerCamelCase name or its original snake_case one."""
    snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in camel)
    return message.get(camel, message.get(snake)) if isinstance(message, dict) else None


def _text_only(body: dict[str, Any]) -> None:
    for content in body.get("contents") or []:
        for part in (content.get("parts", []) if isinstance(content, dict) else []):
            if isinstance(part, dict) and set(part) - {"text", "thought"}:
                kinds = ", ".join(sorted(set(part) - {"text", "thought"}))
                raise invalid(f"This model only supports text input; the request has {kinds}.")


def _audio_only(config: dict[str, Any]) -> None:
    modalities = [str(m).upper() for m in _field(config, "responseModalities") or []]
    if modalities != ["AUDIO"]:
        raise invalid(f"The requested combination of response modalities ({', '.join(modalities) or 'TEXT'}) is "
                      "not supported by the model. This model only supports the AUDIO response modality.")


def _voice(speech_config: dict[str, Any]) -> str:
    voice_config = _field(speech_config, "voiceConfig") or {}
    name = _field(_field(voice_config, "prebuiltVoiceConfig") or {}, "voiceName") or voice_config.get("voice")
    if name is None:
        return DEFAULT_VOICE
    if name not in models.TTS_VOICES:
        raise invalid(f"Voice name {name!r} is not supported. Use one of the prebuilt voices.")
    return str(name)


def _spoken_wav(text: str, language_code: str) -> tuple[bytes, float]:
    """`text` spoken by espeak-ng, resampled to 24 kHz mono 16-bit WAV bytes; its duration."""
    language = language_code.split("-")[0].lower()
    with tempfile.TemporaryDirectory(prefix="sim-tts-") as tmp:
        raw = Path(tmp) / "espeak.wav"
        espeak_synthesize(text, language if language in _LANGUAGES else "en", raw)
        with wave.open(str(raw), "rb") as source:
            rate, frames = source.getframerate(), source.readframes(source.getnframes())
    samples = np.frombuffer(frames, dtype="<i2").astype(np.float64)
    count = round(len(samples) * SAMPLE_RATE / rate)
    resampled = np.interp(np.arange(count) * rate / SAMPLE_RATE, np.arange(len(samples)), samples)
    pcm = np.clip(np.round(resampled), -32768, 32767).astype("<i2").tobytes()
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(pcm)
    return buffer.getvalue(), count / SAMPLE_RATE
