"""Narrator voice samples: one short spoken clip per voice id of shared.core.vocabulary.VOICES.

    .venv/bin/python tools/voice_samples.py [--out DIR]   # shared/api/assets/voices by default

The samples are offline approximations (espeak-ng with a gender/age variant, pitch and pace per voice),
so a creator hears the kind of voice each id asks Veo for; the video's own voice is Veo's. They are the
project's own work (CC0-1.0), mono AAC of a few seconds each, written deterministically.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from shared.api.voices import SAMPLES_DIR, sample_file
from shared.core.vocabulary import VOICES
from shared.media.ffmpeg import run

SAMPLE_TEXT = "Hello! I will tell your story, from the first scene to the last."
# espeak-ng variant, pitch (0-99) and words per minute approximating each voice's description.
ESPEAK: dict[str, tuple[str, int, int]] = {
    "female_young_bright": ("en-us+f3", 72, 175),
    "female_adult_warm": ("en-us+f2", 50, 150),
    "female_senior_gentle": ("en-us+f4", 38, 128),
    "male_young_bright": ("en-us+m3", 58, 175),
    "male_adult_warm": ("en-us+m1", 40, 150),
    "male_senior_deep": ("en-us+m7", 18, 122),
}


def generate(folder: Path) -> list[Path]:
    """Speak SAMPLE_TEXT in every voice; the .m4a files written."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory() as tmp:
        for voice in VOICES:
            variant, pitch, speed = ESPEAK[voice]
            wav = Path(tmp) / f"{voice}.wav"
            subprocess.run(["espeak-ng", "-v", variant, "-p", str(pitch), "-s", str(speed), "-w", str(wav),
                            SAMPLE_TEXT], check=True, capture_output=True, timeout=60)
            out = folder / sample_file(voice)
            run(["-i", str(wav), "-af", "aresample=48000,loudnorm=I=-18:TP=-2", "-ac", "1", "-c:a", "aac",
                 "-b:a", "40k", "-ar", "48000", "-map_metadata", "-1", "-fflags", "+bitexact", "-flags:a",
                 "+bitexact", "-movflags", "+faststart", str(out)], what="voice_sample")
            written.append(out)
            print(out)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tools/voice_samples.py", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=SAMPLES_DIR)
    generate(parser.parse_args(argv).out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
