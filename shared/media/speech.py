"""Offline text-to-speech with espeak-ng: real, intelligible speech for simulated clips and previews."""
from __future__ import annotations

import subprocess
import wave
from pathlib import Path

from shared.core.errors import InvalidInputError

# espeak-ng voice per pipeline language; en-us is the voice Whisper transcribes best.
VOICES: dict[str, str] = {"en": "en-us", "fr": "fr-fr", "es": "es"}
WORDS_PER_MINUTE = 155


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


def synthesize(text: str, language: str, out_wav: Path) -> float:
    """Speak `text` into a mono WAV file with espeak-ng; returns the speech duration in seconds."""
    line = clean_speech_text(text)
    if not line:
        raise InvalidInputError("nothing to say: dialogue is empty", field="dialogue")
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
