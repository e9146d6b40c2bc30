"""Clip renderer: stand-in Veo clips made with ffmpeg (procedural picture, scene text, real speech).

Every clip is 720x1280, 24 fps, H.264 yuv420p (no B-frames, IDR at the start) + AAC 48 kHz stereo, so
clips can be joined with the concat demuxer and `-c copy`: `extend_clip` never re-encodes what exists.
Identical inputs give identical pictures: every random choice derives from `seed`.
"""
from __future__ import annotations

import hashlib
import os
import random
import shutil
import tempfile
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ffmpeg as ffmpeg_python  # the ffmpeg-python package: builds the drawing graph

from shared.core import log
from shared.core.errors import GenerationError, InvalidInputError
from shared.media.ffmpeg import EXACT_MUX_ARGS, concat_copy, run, source
from shared.media.probe import duration
from shared.media.speech import clean_speech_text, espeak_synthesize, wav_duration

WIDTH, HEIGHT, FPS = 720, 1280, 24
SAMPLE_RATE = 48_000
SPEECH_OFFSET = 0.5  # speech starts this long after the clip starts
SPEECH_TAIL = 0.4  # and ends at least this long before the clip ends
AMBIENCE_AMPLITUDE = 0.14  # brown noise, low-passed: about -35 dBFS RMS
# DejaVu Sans from the repository's font folder (shared/assembly/assets/fonts, shared with the captions),
# never the machine's: the runtime image has no fonts. A path, not an import: media sits below assembly.
FONT_FILE = str(Path(__file__).resolve().parents[1] / "assembly" / "assets" / "fonts" / "DejaVuSans.ttf")
TEXT_COLUMNS = 26
TEXT_MAX_LINES = 9
FFMPEG_TIMEOUT_S = 300

_VIDEO_CODEC_OPTIONS = {
    "c:v": "libx264", "preset": "veryfast", "crf": "23", "bf": "0", "g": str(FPS * 2),
    "profile:v": "high", "pix_fmt": "yuv420p", "r": str(FPS),
}
_AUDIO_CODEC_OPTIONS = {"c:a": "aac", "b:a": "128k", "ar": str(SAMPLE_RATE), "ac": "2"}
# No edit lists: every stream starts at 0 so concatenated parts land exactly at their offsets.
_MUX_ARGS = EXACT_MUX_ARGS
_MUX_OPTIONS = dict(zip((flag.lstrip("-") for flag in _MUX_ARGS[::2]), _MUX_ARGS[1::2]))
Stream = Any  # an ffmpeg-python stream
AAC_FRAME = 1024  # samples per AAC packet; the encoder also emits one priming packet


@dataclass(frozen=True)
class RenderInfo:
    """What a render produced; speech times are relative to the returned file's start."""

    duration: float
    speech_start: float | None
    speech_end: float | None


def seed_for(*parts: str) -> int:
    """A stable 31-bit seed from strings (same parts, same seed, on every machine)."""
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def render_clip(out_path: str | Path, *, scene_text: str, dialogue: str, language: str,
                seconds: float, seed: int, first_frame: str | Path | None = None,
                speech_wav: str | Path | None = None) -> RenderInfo:
    """Render one standalone clip with the scene text drawn on it and `dialogue` spoken.

    `speech_wav`: the dialogue already spoken (the storyboard's Gemini TTS audio); without it the dialogue is
    spoken by the machine's espeak-ng, the local stand-in (the Veo simulator's clips).
    """
    if seconds < 1:
        raise InvalidInputError(f"clip too short: {seconds} s", field="seconds")
    out = Path(out_path)
    with tempfile.TemporaryDirectory(prefix="render-") as tmp:
        work = Path(tmp)
        (work / "scene.txt").write_text(wrap_scene_text(scene_text), encoding="utf-8")
        speech = _prepare_speech(dialogue, language, seconds, work, speech_wav)
        picture = _first_frame_graph(first_frame, seconds) if first_frame else _procedural_graph(seed, seconds)
        audio = _audio_graph(seed, seconds, speech)
        _encode(picture, audio, seconds, work)
        _publish(work / "clip.mp4", out)
    info = RenderInfo(duration=duration(out), speech_start=speech.start if speech else None,
                      speech_end=speech.end if speech else None)
    log.debug("clip rendered", path=str(out), seed=seed, duration=info.duration)
    return info


def extend_clip(prev_path: str | Path, out_path: str | Path, *, scene_text: str, dialogue: str,
                language: str, seconds: float = 7, seed: int) -> RenderInfo:
    """Render a new segment and append it to `prev_path` without re-encoding the earlier part."""
    prev, out = Path(prev_path), Path(out_path)
    if not prev.is_file():
        raise InvalidInputError(f"no video to extend at {prev}", field="prev_path")
    offset = duration(prev)
    with tempfile.TemporaryDirectory(prefix="extend-") as tmp:
        work = Path(tmp)
        segment = work / "segment.mp4"
        seg_info = render_clip(segment, scene_text=scene_text, dialogue=dialogue, language=language,
                               seconds=seconds, seed=seed)
        joined = work / "joined.mp4"
        concat_copy([(prev.resolve(), offset), (segment, duration(segment))], joined, work,
                    failure=GenerationError)
        _publish(joined, out)
    return RenderInfo(duration=duration(out), speech_start=_shifted(seg_info.speech_start, offset),
                      speech_end=_shifted(seg_info.speech_end, offset))


def _shifted(seconds: float | None, offset: float) -> float | None:
    return None if seconds is None else round(offset + seconds, 3)


def _encode(picture: Stream, sound: Stream, seconds: float, work: Path) -> None:
    """Encode the drawn picture and sound into work/clip.mp4."""
    video, audio = work / "video.mp4", work / "audio.aac"
    # Video and audio are encoded to separate files, then muxed: read back from raw ADTS the
    # audio starts at 0 like the video, so no stream is shifted or stretched by the muxer.
    encode = ffmpeg_python.merge_outputs(
        ffmpeg_python.output(picture, str(video), **{"frames:v": str(round(seconds * FPS))}, **_VIDEO_CODEC_OPTIONS,
                             an=None, **_MUX_OPTIONS),
        ffmpeg_python.output(sound, str(audio), **_AUDIO_CODEC_OPTIONS, format="adts"))
    _ffmpeg(encode, what="render_encode", cwd=work)
    _ffmpeg(["-i", str(video), "-i", str(audio), "-map", "0:v", "-map", "1:a", "-c", "copy", *_MUX_ARGS,
             str(work / "clip.mp4")], what="render_mux", cwd=work)


def _publish(built: Path, out: Path) -> None:
    """Move a finished file into place atomically (readers never see a partial MP4)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.with_name(f".{out.name}.partial")
    shutil.copyfile(built, staging)
    os.replace(staging, out)


def wrap_scene_text(text: str) -> str:
    """Scene text as short printable lines for drawtext (control characters removed, long text cut)."""
    lines: list[str] = []
    for paragraph in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        clean = "".join(ch if ch.isprintable() else " " for ch in paragraph).strip()
        if clean:
            lines.extend(textwrap.wrap(clean, TEXT_COLUMNS, break_long_words=True) or [""])
    if len(lines) > TEXT_MAX_LINES:
        lines = lines[:TEXT_MAX_LINES - 1] + [lines[TEXT_MAX_LINES - 1][: TEXT_COLUMNS - 1] + "…"]
    return "\n".join(lines) or " "


@dataclass(frozen=True)
class _Speech:
    wav: Path
    tempo: float
    start: float
    end: float


def _prepare_speech(dialogue: str, language: str, seconds: float, work: Path,
                    speech_wav: str | Path | None = None) -> _Speech | None:
    """The dialogue's speech (given, or synthesized locally) and how fast it must play to fit in the clip."""
    if speech_wav is not None:
        wav = Path(speech_wav).resolve()
        spoken = wav_duration(wav)
    elif not clean_speech_text(dialogue):
        return None
    else:
        wav = work / "speech.wav"
        spoken = espeak_synthesize(dialogue, language, wav)
    room = max(seconds - SPEECH_OFFSET - SPEECH_TAIL, 0.5)
    # Too long for the clip: speed it up (atempo keeps the pitch) rather than cut words off.
    tempo = max(1.0, spoken / room)
    start = SPEECH_OFFSET + AAC_FRAME / SAMPLE_RATE  # the played priming packet delays the audio
    return _Speech(wav=wav, tempo=round(tempo, 4), start=round(start, 3), end=round(start + spoken / tempo, 3))


def _palette(rng: random.Random, count: int) -> list[str]:
    return [f"0x{rng.randrange(30, 256):02x}{rng.randrange(30, 256):02x}{rng.randrange(30, 256):02x}"
            for _ in range(count)]


def _procedural_graph(seed: int, seconds: float) -> Stream:
    """A moving, seeded, coloured pattern (gradients blended with a fractal or automaton) + text."""
    rng = random.Random(seed)
    colors = _palette(rng, 4)
    small = "360x640"
    background = source("gradients", s=small, r=FPS, d=seconds + 1, c0=colors[0], c1=colors[1], c2=colors[2],
                        c3=colors[3], n=4, speed=f"{rng.uniform(0.01, 0.04):.4f}", seed=seed)
    kind = rng.choice(["mandelbrot", "cellauto", "life", "plain"])
    pattern = _pattern_source(kind, rng, seconds)
    hue_speed = rng.uniform(-25, 25)
    if pattern is None:
        mixed = background.filter("copy")
    else:
        mixed = ffmpeg_python.filter([background.filter("format", "gbrp"), pattern.filter("format", "gbrp")], "blend",
                                     all_mode=rng.choice(["screen", "overlay", "softlight"]), all_opacity=0.7)
    drawn = (mixed.filter("hue", h=f"{rng.randrange(360)}+{hue_speed:.2f}*t", s=1.15)
             .filter("scale", WIDTH, HEIGHT, flags="bicubic"))
    return _drawtext(drawn).filter("format", "yuv420p").filter("fps", FPS)


def _pattern_source(kind: str, rng: random.Random, seconds: float) -> Stream | None:
    if kind == "mandelbrot":
        x, y = rng.choice([(-0.7436438870, 0.1318259042), (-0.1011, 0.9563), (-1.2500, 0.0200),
                           (0.2850, 0.0100), (-0.7453, 0.1127)])
        return (source("mandelbrot", s="360x640", r=FPS, maxiter=200, start_x=x, start_y=y,
                       start_scale=f"{rng.uniform(1.5, 3.0):.3f}", end_scale=0.05, end_pts=seconds * FPS * 4)
                .filter("trim", duration=seconds + 1))
    if kind == "cellauto":
        rule = rng.choice([18, 30, 45, 73, 90, 105, 110, 150])
        return (source("cellauto", s="180x320", r=FPS, rule=rule, random_seed=rng.randrange(1 << 31), scroll=1,
                       full=1)
                .filter("trim", duration=seconds + 1).filter("scale", 360, 640, flags="neighbor"))
    if kind == "life":
        life_seed = rng.randrange(1 << 31)
        return (source("life", s="180x320", r=FPS, seed=life_seed, ratio=f"{rng.uniform(0.08, 0.3):.3f}", mold=8,
                       life_color="white", death_color="black", mold_color="0x404040")
                .filter("trim", duration=seconds + 1).filter("scale", 360, 640, flags="neighbor"))
    return None


def _first_frame_graph(first_frame: str | Path, seconds: float) -> Stream:
    """A slow zoom into the given opening image, with the scene text."""
    frames = int(seconds * FPS)
    image = ffmpeg_python.input(str(Path(first_frame).resolve()), loop=1, framerate=FPS, t=f"{seconds + 1}")
    zoomed = (image.video.filter("scale", WIDTH, HEIGHT, force_original_aspect_ratio="increase")
              .filter("crop", WIDTH, HEIGHT).filter("setsar", 1)
              .filter("zoompan", z=f"min(1+0.15*on/{frames},1.15)", d=1, x="iw/2-(iw/zoom/2)",
                      y="ih/2-(ih/zoom/2)", s=f"{WIDTH}x{HEIGHT}", fps=FPS))
    return _drawtext(zoomed).filter("format", "yuv420p")


def _drawtext(picture: Stream) -> Stream:
    # textfile= + expansion=none: the text never passes through filter syntax or %{} expansion.
    return picture.filter("drawtext", fontfile=FONT_FILE, textfile="scene.txt", expansion="none", fontsize=40,
                          fontcolor="white", line_spacing=10, box=1, boxcolor="black@0.45", boxborderw=18,
                          x="(w-text_w)/2", y="h*0.10")  # upper band: the lower third is where subtitles go


def _audio_graph(seed: int, seconds: float, speech: _Speech | None) -> Stream:
    """Quiet brown-noise ambience, with the speech mixed in from SPEECH_OFFSET."""
    ambience = (source("anoisesrc", d=seconds, c="brown", r=SAMPLE_RATE, a=AMBIENCE_AMPLITUDE, seed=seed)
                .filter("lowpass", f=900)
                .filter("aformat", sample_fmts="fltp", sample_rates=SAMPLE_RATE, channel_layouts="stereo"))
    # Without edit lists the encoder's priming packet is played, so the audio is cut to a whole
    # number of packets, priming included, that ends at or just before `seconds`: joined parts
    # then never overlap and the next part's audio starts exactly at its offset.
    packets = int(round(seconds * SAMPLE_RATE)) // AAC_FRAME
    end_sample = (packets - 1) * AAC_FRAME
    if speech is None:
        return ambience.filter("atrim", end_sample=end_sample)
    spoken = (ffmpeg_python.input(str(speech.wav)).audio.filter("aresample", SAMPLE_RATE)
              .filter("atempo", speech.tempo).filter("adelay", delays=int(SPEECH_OFFSET * 1000), all=1)
              .filter("aformat", sample_fmts="fltp", sample_rates=SAMPLE_RATE, channel_layouts="stereo"))
    return (ffmpeg_python.filter([ambience, spoken], "amix", inputs=2, duration="first", normalize=0)
            .filter("atrim", end_sample=end_sample))


def _ffmpeg(command: Any, *, what: str, cwd: Path) -> None:
    run(command, what=what, cwd=cwd, timeout=FFMPEG_TIMEOUT_S, loglevel="error", failure=GenerationError)
