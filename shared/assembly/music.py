"""Background music: a catalogue of tracks we synthesise ourselves (license-free by construction).

`python tools/music_catalogue.py generate` re-creates shared/assembly/assets/music/*.m4a, their short
previews (previews/*.m4a) and catalogue.json deterministically (numpy synthesis of chords, pads and soft
percussion, then AAC through ffmpeg). Every track is the project's own work, dedicated to the public domain
(CC0-1.0, recorded per track in the catalogue with how it was made). Each track has a mood (its
`category`: lofi, upbeat, ambient, epic, calm) and each style a default track.
`prepare_bed` loops a track to a video's length with crossfades at the loop points and fades in/out; the
`none` choice (NO_MUSIC) gives a silent bed: no music is mixed.
"""
from __future__ import annotations

import json
import math
import wave
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from shared.core.errors import ErrorCode, InvalidInputError, PermanentError
from shared.media.ffmpeg import run
from shared.media.probe import probe

MUSIC_DIR = Path(__file__).resolve().parent / "assets" / "music"
CATALOGUE = MUSIC_DIR / "catalogue.json"
SYNTH_RATE = 48000
LOOP_CROSSFADE_SECONDS = 2.0
MOODS = ("lofi", "upbeat", "ambient", "epic", "calm")
NO_MUSIC = "none"  # the request's "no music" choice
LICENCE = "CC0-1.0"
MADE_BY = ("synthesised by shared.assembly.music (recipe {id!r}: numpy pads, bass and percussion, "
           "AAC via ffmpeg) with tools/music_catalogue.py generate; the project's own work")
PREVIEW_SECONDS = 8.0


@dataclass(frozen=True)
class Track:
    """One catalogue entry; `file` is relative to the music folder."""

    id: str
    name: str
    category: str
    duration: float
    default_for: tuple[str, ...]
    file: str
    licence: str = LICENCE
    made: str = ""
    preview: str = ""  # a short clip of the track, relative to the music folder

    @property
    def path(self) -> Path:
        return MUSIC_DIR / self.file

    @property
    def preview_path(self) -> Path:
        return MUSIC_DIR / (self.preview or self.file)


# "No music": its path is no file; prepare_bed renders silence for it.
SILENT = Track(NO_MUSIC, "No music", NO_MUSIC, 0.0, (), NO_MUSIC, licence="", made="")


def load_catalogue(path: Path = CATALOGUE) -> list[Track]:
    """All tracks listed in catalogue.json."""
    entries = json.loads(path.read_text(encoding="utf-8"))["tracks"]
    return [Track(**{**e, "default_for": tuple(e["default_for"])}) for e in entries]


def choose_track(track_id: str | None, style: str) -> Track:
    """The requested track (SILENT for "none"), else the default for the style, else the first track."""
    if track_id == NO_MUSIC:
        return SILENT
    tracks = load_catalogue()
    if track_id:
        for track in tracks:
            if track.id == track_id:
                return track
        raise InvalidInputError(f"unknown music track {track_id!r}; known: {[t.id for t in tracks]}",
                                field="music")
    return next((t for t in tracks if style in t.default_for), tracks[0])


def loop_count(track_seconds: float, target_seconds: float, crossfade: float) -> int:
    """How many copies, each overlapping the next by `crossfade`, cover `target_seconds`."""
    if track_seconds >= target_seconds:
        return 1
    return 1 + math.ceil((target_seconds - track_seconds) / (track_seconds - crossfade))


def bed_filter(copies: int, seconds: float, *, volume: float, crossfade: float = LOOP_CROSSFADE_SECONDS,
               fade_in: float = 1.0, fade_out: float = 2.5, first_input: int = 0, out: str = "bed") -> str:
    """filter_complex text: chain `copies` inputs with crossfades, trim, fade, set the level."""
    chain, label = [], f"[{first_input}:a]"
    for k in range(1, copies):
        nxt = f"[x{k}]"
        chain.append(f"{label}[{first_input + k}:a]acrossfade=d={crossfade}:c1=qsin:c2=qsin{nxt}")
        label = nxt
    fade_out_start = max(0.0, seconds - fade_out)
    chain.append(f"{label}aformat=sample_rates=48000:channel_layouts=stereo,atrim=0:{seconds:.3f},"
                 f"asetpts=N/SR/TB,afade=t=in:d={fade_in},afade=t=out:st={fade_out_start:.3f}:d={fade_out},"
                 f"volume={volume:.4f}[{out}]")
    return ";".join(chain)


def prepare_bed(track: Path, seconds: float, out_wav: Path, *, volume: float,
                crossfade: float = LOOP_CROSSFADE_SECONDS) -> Path:
    """Render the music bed for a video: looped with crossfades to `seconds`, faded, at `volume`
    (digital silence for the SILENT track: nothing is mixed under the voice)."""
    if track == SILENT.path:
        run(["-f", "lavfi", "-t", f"{seconds:.3f}", "-i", "anullsrc=r=48000:cl=stereo", "-c:a", "pcm_s16le",
             str(out_wav)], what="music_bed")
        return out_wav
    if not track.is_file():
        raise PermanentError(f"music track missing: {track}", code=ErrorCode.MISSING_MUSIC)
    track_seconds = probe(track).duration
    if track_seconds <= crossfade * 2:
        raise PermanentError(f"music track {track.name} is too short to loop ({track_seconds:.1f} s)")
    copies = loop_count(track_seconds, seconds, crossfade)
    inputs = [arg for _ in range(copies) for arg in ("-i", str(track))]
    graph = bed_filter(copies, seconds, volume=volume, crossfade=crossfade)
    run([*inputs, "-filter_complex", graph, "-map", "[bed]", "-c:a", "pcm_s16le", "-ar", "48000", str(out_wav)],
        what="music_bed")
    return out_wav


# --- synthesis -----------------------------------------------------------------------------------

def _note_hz(semitones_from_a4: float) -> float:
    return 440.0 * 2 ** (semitones_from_a4 / 12)


def _envelope(n: int, attack: float, release: float) -> np.ndarray:
    t = np.arange(n) / SYNTH_RATE
    env = np.minimum(1.0, t / max(attack, 1e-3))
    tail = np.clip((n / SYNTH_RATE - t) / max(release, 1e-3), 0.0, 1.0)
    return env * tail


def _pad(chord: list[float], seconds: float, rng: np.random.Generator) -> np.ndarray:
    n = int(seconds * SYNTH_RATE)
    t = np.arange(n) / SYNTH_RATE
    left, right = np.zeros(n), np.zeros(n)
    for semis in chord:
        for detune in (-0.06, 0.0, 0.06):
            hz = _note_hz(semis + detune)
            phase = rng.uniform(0, 2 * np.pi)
            tone = np.sin(2 * np.pi * hz * t + phase) + 0.25 * np.sin(4 * np.pi * hz * t + phase)
            pan = 0.5 + detune * 4
            left += tone * (1 - pan)
            right += tone * pan
    env = _envelope(n, attack=seconds * 0.3, release=seconds * 0.3)
    pad: np.ndarray = np.stack([left, right]) * env / (len(chord) * 3)
    return pad


def _kick(seconds: float = 0.35) -> np.ndarray:
    n = int(seconds * SYNTH_RATE)
    t = np.arange(n) / SYNTH_RATE
    freq = 50 + 70 * np.exp(-t * 25)
    return np.sin(2 * np.pi * np.cumsum(freq) / SYNTH_RATE) * np.exp(-t * 9)


def _hat(rng: np.random.Generator, seconds: float = 0.08) -> np.ndarray:
    n = int(seconds * SYNTH_RATE)
    noise = rng.standard_normal(n)
    noise = np.diff(noise, prepend=0.0)  # crude high-pass
    return noise * np.exp(-np.arange(n) / SYNTH_RATE * 60) * 0.15


def _add(buffer: np.ndarray, sound: np.ndarray, at: float, gain: float) -> None:
    start = int(at * SYNTH_RATE)
    if sound.ndim == 1:
        sound = np.stack([sound, sound])
    end = min(buffer.shape[1], start + sound.shape[1])
    buffer[:, start:end] += gain * sound[:, : end - start]


def synthesise(progression: list[list[float]], *, bpm: float, bars: int, seed: int,
               kick_gain: float, hat_gain: float) -> np.ndarray:
    """A stereo float track: one pad chord per bar, optional kick on beats 1/3 and off-beat hats."""
    rng = np.random.default_rng(seed)
    bar = 4 * 60.0 / bpm
    total = np.zeros((2, int(bar * bars * SYNTH_RATE) + SYNTH_RATE))
    for k in range(bars):
        chord = progression[k % len(progression)]
        _add(total, _pad(chord, bar * 1.25, rng), k * bar, 0.9)
        _add(total, _pad([chord[0] - 12], bar, rng), k * bar, 0.5)  # bass an octave down
        for beat in range(4):
            at = k * bar + beat * bar / 4
            if kick_gain and beat in (0, 2):
                _add(total, _kick(), at, kick_gain)
            if hat_gain:
                _add(total, _hat(rng), at + bar / 8, hat_gain)
    total = total[:, : int(bar * bars * SYNTH_RATE)]
    normalised: np.ndarray = total / (np.max(np.abs(total)) + 1e-9) * 0.7
    return normalised


_RECIPES: dict[str, dict[str, Any]] = {
    "calm-horizon": dict(name="Calm Horizon", category="ambient", default_for=["cinematic"],
                         progression=[[-9, -5, -2], [-4, 0, 3], [-7, -3, 0], [-2, 2, 5]],
                         bpm=70, bars=10, seed=11, kick_gain=0.0, hat_gain=0.0),
    "neon-pulse": dict(name="Neon Pulse", category="upbeat", default_for=["cyberpunk", "anime"],
                       progression=[[-9, -5, -2], [-11, -7, -4], [-4, 0, 3], [-6, -2, 1]],
                       bpm=112, bars=18, seed=23, kick_gain=0.55, hat_gain=0.5),
    "paper-days": dict(name="Paper Days", category="lofi", default_for=["sketch", "vintage"],
                       progression=[[-12, -8, -5, -1], [-7, -3, 0, 4], [-10, -7, -3, 0], [-5, -1, 2, 5]],
                       bpm=84, bars=12, seed=37, kick_gain=0.35, hat_gain=0.3),
    "summit-call": dict(name="Summit Call", category="epic", default_for=["fantasy"],
                        progression=[[-21, -14, -9, -5], [-17, -10, -5, -1], [-14, -7, -2, 2], [-19, -12, -7, -3]],
                        bpm=76, bars=11, seed=41, kick_gain=0.8, hat_gain=0.0),
    "still-water": dict(name="Still Water", category="calm", default_for=["realistic"],
                        progression=[[-5, -1, 2, 7], [-10, -5, -1, 2], [-3, 0, 4, 7], [-8, -5, -1, 4]],
                        bpm=60, bars=9, seed=53, kick_gain=0.0, hat_gain=0.0),
    "sunny-steps": dict(name="Sunny Steps", category="upbeat", default_for=[],
                        progression=[[-9, -5, -2, 3], [-4, 0, 3, 7], [-2, 2, 5, 10], [-7, -3, 0, 5]],
                        bpm=124, bars=18, seed=67, kick_gain=0.5, hat_gain=0.6),
}


def _write_wav(samples: np.ndarray, path: Path) -> None:
    pcm = (np.clip(samples.T, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as fh:
        fh.setnchannels(2)
        fh.setsampwidth(2)
        fh.setframerate(SYNTH_RATE)
        fh.writeframes(pcm.tobytes())


def _write_preview(track: Path, out: Path) -> None:
    """A short, faded clip of the track (the page's preview), mono 48 kbps."""
    out.parent.mkdir(parents=True, exist_ok=True)
    fade_at = PREVIEW_SECONDS - 1.5
    run(["-i", str(track), "-t", f"{PREVIEW_SECONDS}", "-af", f"afade=t=out:st={fade_at}:d=1.5", "-ac", "1",
         "-c:a", "aac", "-b:a", "48k", "-ar", "48000", "-map_metadata", "-1", "-fflags", "+bitexact",
         "-flags:a", "+bitexact", "-movflags", "+faststart", str(out)], what="music_preview")


def generate(folder: Path = MUSIC_DIR, *, echo: Callable[[str], None] = print) -> list[Track]:
    """Synthesise every recipe into folder/*.m4a (AAC ~96 kbps) plus previews, and write catalogue.json."""
    folder.mkdir(parents=True, exist_ok=True)
    tracks = []
    for track_id, recipe in _RECIPES.items():
        params = {k: v for k, v in recipe.items() if k not in ("name", "category", "default_for")}
        wav, m4a = folder / f"{track_id}.wav", folder / f"{track_id}.m4a"
        _write_wav(synthesise(**params), wav)
        run(["-i", str(wav), "-c:a", "aac", "-b:a", "96k", "-ar", "48000", "-map_metadata", "-1",
             "-fflags", "+bitexact", "-flags:a", "+bitexact", "-movflags", "+faststart", str(m4a)],
            what="music_encode")
        wav.unlink()
        preview = f"previews/{track_id}.m4a"
        _write_preview(m4a, folder / preview)
        track = Track(track_id, recipe["name"], recipe["category"], round(probe(m4a).duration, 2),
                      tuple(recipe["default_for"]), m4a.name, LICENCE, MADE_BY.format(id=track_id), preview)
        tracks.append(track)
        echo(f"{m4a} {track.duration:.1f} s")
    catalogue = {"tracks": [{**asdict(t), "default_for": list(t.default_for)} for t in tracks]}
    (folder / "catalogue.json").write_text(json.dumps(catalogue, indent=2) + "\n", encoding="utf-8")
    return tracks
