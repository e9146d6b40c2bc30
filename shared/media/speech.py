"""Speech: Gemini's text-to-speech model for storyboard previews, espeak-ng only for the local stand-in.

Production (shared.api.storyboard) asks the TTS model (`Settings.tts_model`, docs/google-ai-contract.md T1-T8)
through google-genai: `request_speech` is that one paid call. The unary answer is one inline audio part: WAV
(`audio/wav`, 24 kHz mono 16-bit, the Gemini 3.8 TTS default, T5) or, from the earlier TTS models, headerless
PCM (`audio/L16;codec=pcm;rate=24000`); `write_speech_audio` stores either as a WAV file.

`espeak_synthesize` is the machine's espeak-ng: the Veo simulator speaks its clips with it (and unit tests that
render clips). The Cloud Functions runtime image has no espeak-ng, so production code never calls it.
"""
from __future__ import annotations

import io
import subprocess
import wave
from dataclasses import dataclass
from pathlib import Path

from google import genai
from google.genai import types

from shared.core.errors import GenerationError, InvalidInputError
from shared.core.retry import call_gemini

# espeak-ng voice per pipeline language; en-us is the voice Whisper transcribes best.
VOICES: dict[str, str] = {"en": "en-us", "fr": "fr-fr", "es": "es"}
WORDS_PER_MINUTE = 155
# BCP-47 code sent as SpeechConfig.language_code (optional: the TTS models detect the language, T6).
TTS_LANGUAGES: dict[str, str] = {"en": "en-US", "fr": "fr-FR", "es": "es-US"}
TTS_SAMPLE_RATE = 24_000  # T5: 24 kHz, mono, signed 16-bit little-endian
_WAV_TYPES = ("audio/wav", "audio/x-wav", "audio/wave")
_PCM_TYPES = ("audio/l16", "audio/pcm")


@dataclass(frozen=True)
class SpokenLine:
    """One TTS call's result: the WAV's duration and the tokens it was billed (T8)."""

    seconds: float
    prompt_tokens: int
    output_tokens: int
    model: str


def voice_for(language: str) -> str:
    """The espeak-ng voice id for a pipeline language code (en, fr, es)."""
    try:
        return VOICES[language]
    except KeyError:
        raise InvalidInputError(f"unsupported language {language!r}; expected one of {sorted(VOICES)}",
                                field="language") from None


def clean_speech_text(text: str) -> str:
    """Dialogue as one plain line: no control characters, collapsed whitespace."""
    printable = "".join(ch if ch.isprintable() else " " for ch in text)
    return " ".join(printable.split())


def _line(text: str) -> str:
    line = clean_speech_text(text)
    if not line:
        raise InvalidInputError("nothing to say: dialogue is empty", field="dialogue")
    return line


def request_speech(client: genai.Client, *, model: str, voice: str, text: str, language: str,
                   out_wav: Path) -> SpokenLine:
    """Speak `text` with Gemini's TTS model into a WAV file: the one paid speech call (429/5xx retried, then
    TransientError; a refusal is a GenerationError). The text is sent verbatim: 3.8 TTS reads it as a transcript."""
    config = types.GenerateContentConfig(
        response_modalities=["AUDIO"],
        speech_config=types.SpeechConfig(
            voice_config=types.VoiceConfig(prebuilt_voice_config=types.PrebuiltVoiceConfig(voice_name=voice)),
            language_code=TTS_LANGUAGES.get(language)))
    response = call_gemini("Gemini TTS", client.models.generate_content, model=model, contents=_line(text),
                           config=config)
    audio = _inline_audio(response)
    seconds = write_speech_audio(audio.data or b"", audio.mime_type or "", out_wav)
    usage = response.usage_metadata
    return SpokenLine(seconds=seconds, prompt_tokens=int(usage.prompt_token_count or 0) if usage else 0,
                      output_tokens=int(usage.candidates_token_count or 0) if usage else 0,
                      model=response.model_version or model)


def _inline_audio(response: types.GenerateContentResponse) -> types.Blob:
    for candidate in response.candidates or []:
        for part in (candidate.content.parts if candidate.content else None) or []:
            if part.inline_data is not None and (part.inline_data.mime_type or "").lower().startswith("audio/"):
                return part.inline_data
    reason = response.candidates[0].finish_reason if response.candidates else None
    raise GenerationError(f"Gemini TTS answered without audio (finish reason {reason})")


def write_speech_audio(data: bytes, mime_type: str, out_wav: Path) -> float:
    """Store a TTS answer's audio as a WAV file: WAV kept as is, L16 PCM wrapped (its `rate=`, else 24 kHz, mono).
    Returns the duration in seconds; GenerationError for another type or an unreadable WAV."""
    kind, _, params = mime_type.lower().partition(";")
    kind = kind.strip()
    if kind in _WAV_TYPES:
        try:
            with wave.open(io.BytesIO(data), "rb") as check:
                check.getnframes()
        except (wave.Error, EOFError) as exc:
            raise GenerationError(f"Gemini TTS sent an unreadable WAV: {exc}") from exc
        out_wav.write_bytes(data)
    elif kind in _PCM_TYPES:
        pcm_to_wav(data, out_wav, rate=_rate(params))
    else:
        raise GenerationError(f"Gemini TTS sent audio of an unexpected type {mime_type!r}")
    return wav_duration(out_wav)


def _rate(params: str) -> int:
    for item in params.split(";"):
        name, _, value = item.strip().partition("=")
        if name == "rate" and value.isdigit():
            return int(value)
    return TTS_SAMPLE_RATE


def pcm_to_wav(pcm: bytes, out_wav: Path, *, rate: int = TTS_SAMPLE_RATE) -> None:
    """Headerless signed 16-bit little-endian mono PCM as a WAV file."""
    with wave.open(str(out_wav), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(pcm[: len(pcm) - len(pcm) % 2])


def espeak_synthesize(text: str, language: str, out_wav: Path) -> float:
    """Speak `text` into a mono WAV file with the machine's espeak-ng (local stand-in only); its duration in s."""
    line = _line(text)
    text_file = out_wav.with_suffix(".txt")
    text_file.write_text(line + "\n", encoding="utf-8")
    # The text goes through a file (-f), never the command line, so nothing in it is interpreted.
    subprocess.run(
        ["espeak-ng", "-v", voice_for(language), "-s", str(WORDS_PER_MINUTE), "-w", str(out_wav),
         "-f", str(text_file)],
        check=True, capture_output=True, timeout=60,
    )
    return wav_duration(out_wav)


def wav_duration(path: Path) -> float:
    """Duration of a PCM WAV file in seconds."""
    with wave.open(str(path), "rb") as wav:
        return wav.getnframes() / float(wav.getframerate())
