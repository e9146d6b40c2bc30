"""shared.media.speech: the TTS answer's audio stored as WAV (both documented encodings), checked with ffprobe."""
from __future__ import annotations

import io
import json
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest

from shared.core.errors import GenerationError
from shared.media.speech import TTS_SAMPLE_RATE, write_speech_audio


def tone_pcm(seconds: float, rate: int = TTS_SAMPLE_RATE) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    return (np.sin(2 * np.pi * 220 * t) * 8000).astype("<i2").tobytes()


def ffprobe_audio(path: Path) -> dict:
    out = subprocess.run(["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", str(path)],
                         check=True, capture_output=True, text=True).stdout
    info = json.loads(out)
    return {**info["streams"][0], "duration": float(info["format"]["duration"])}


def test_headerless_l16_is_wrapped_at_the_rate_its_mime_type_names(tmp_path: Path) -> None:
    """T5 (earlier TTS models): `audio/L16;codec=pcm;rate=24000`, 16-bit little-endian mono, no header."""
    out = tmp_path / "l16.wav"
    seconds = write_speech_audio(tone_pcm(1.5), "audio/L16;codec=pcm;rate=24000", out)
    info = ffprobe_audio(out)
    assert (info["codec_name"], int(info["sample_rate"]), info["channels"]) == ("pcm_s16le", 24000, 1)
    assert info["duration"] == pytest.approx(1.5, abs=0.01) and seconds == pytest.approx(1.5, abs=0.01)
    other = tmp_path / "l16-16k.wav"
    assert write_speech_audio(tone_pcm(1.0, 16000), "audio/l16; rate=16000", other) == pytest.approx(1.0, abs=0.01)
    assert int(ffprobe_audio(other)["sample_rate"]) == 16000


def test_wav_answers_are_stored_as_sent(tmp_path: Path) -> None:
    """T5 (Gemini 3.8 TTS): `audio/wav` with its RIFF header, kept byte for byte."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(24000)
        wav.writeframes(tone_pcm(2.0))
    out = tmp_path / "answer.wav"
    assert write_speech_audio(buffer.getvalue(), "audio/wav", out) == pytest.approx(2.0, abs=0.01)
    assert out.read_bytes() == buffer.getvalue()
    assert ffprobe_audio(out)["duration"] == pytest.approx(2.0, abs=0.01)


@pytest.mark.parametrize(("data", "mime"), [(b"ID3...", "audio/mpeg"), (b"not a riff file", "audio/wav"),
                                            (b"\x00" * 10, "text/plain")])
def test_other_or_broken_audio_is_a_generation_error(tmp_path: Path, data: bytes, mime: str) -> None:
    with pytest.raises(GenerationError):
        write_speech_audio(data, mime, tmp_path / "x.wav")
