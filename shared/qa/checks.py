"""Quality checks of a delivered file against its preset: each check a measured value, a threshold, a verdict.

The file is measured once (shared.qa.measure: a probe + a single decode); the subtitle checks compare
the delivered SRT with the speech spans of the source audio (coverage) and with the script's
dialogue (word error rate). Which failures block delivery is the preset's decision.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from shared.assembly.alignment import normalise
from shared.assembly.subtitles import Cue, parse_srt
from shared.pricing.presets import ALL_CHECKS, Preset
from shared.qa.measure import Measurements, measure

Span = tuple[float, float]


@dataclass(frozen=True)
class Check:
    """One verdict: what was measured, what was required, and whether it blocks delivery."""

    name: str
    measured: Any
    threshold: Any
    passed: bool
    blocking: bool = True
    unit: str = ""


@dataclass(frozen=True)
class SubtitleEvidence:
    """What the subtitle checks compare: the delivered SRT, the script's dialogue, the speech spans."""

    srt_text: str
    dialogue: str
    speech_spans: Sequence[Span]


def _window(value: float, low: float, high: float) -> bool:
    return low <= value <= high


def _format_checks(m: Measurements, p: Preset) -> list[tuple[str, Any, Any, bool, str]]:
    return [
        ("container", m.format_name, p.container, p.container in m.format_name.split(","), ""),
        ("video_codec", m.video_codec, p.video_codec, m.video_codec == p.video_codec, ""),
        ("video_profile", m.video_profile, p.video_profile, m.video_profile == p.video_profile, ""),
        ("audio_codec", m.audio_codec, p.audio_codec, m.audio_codec == p.audio_codec, ""),
        ("resolution", f"{m.width}x{m.height}", f"{p.width}x{p.height}", (m.width, m.height) == (p.width, p.height),
         ""),
        ("constant_frame_rate", {"avg": round(m.avg_fps, 3), "r": round(m.real_fps, 3)}, p.fps,
         abs(m.avg_fps - p.fps) < 0.01 and abs(m.real_fps - p.fps) < 0.01, "fps"),
        ("duration_seconds", round(m.duration, 3), [p.min_seconds, p.max_seconds],
         _window(m.duration, p.min_seconds, p.max_seconds), "s"),
        ("video_bitrate_kbps", m.video_bitrate_kbps, p.max_bitrate_kbps, m.video_bitrate_kbps <= p.max_bitrate_kbps,
         "kb/s"),
        ("file_size_mb", m.size_mb, p.max_size_mb, m.size_mb <= p.max_size_mb, "MB"),
        ("faststart", m.faststart, True, m.faststart, ""),
    ]


def _audio_checks(m: Measurements, p: Preset) -> list[tuple[str, Any, Any, bool, str]]:
    if not m.has_audio:
        return [(name, None, "audio stream", False, "") for name in (
            "integrated_loudness_lufs", "true_peak_dbtp", "clipped_sample_ratio", "longest_silence_seconds",
            "av_drift_seconds")]
    low, high = p.loudness_lufs - p.loudness_tolerance, p.loudness_lufs + p.loudness_tolerance
    drift = round(abs(m.video_duration - m.audio_duration), 3)
    return [
        ("integrated_loudness_lufs", m.integrated_lufs, [low, high], _window(m.integrated_lufs or -99, low, high),
         "LUFS"),
        ("true_peak_dbtp", m.true_peak_dbtp, p.true_peak_max_dbtp, (m.true_peak_dbtp or 0) <= p.true_peak_max_dbtp,
         "dBTP"),
        ("clipped_sample_ratio", round(m.clipped_ratio or 0.0, 6), p.max_clipped_ratio,
         (m.clipped_ratio or 0.0) <= p.max_clipped_ratio, ""),
        ("longest_silence_seconds", m.longest_silence, p.max_silence_seconds,
         (m.longest_silence or 0.0) <= p.max_silence_seconds, "s"),
        ("av_drift_seconds", drift, p.max_av_drift_seconds, drift <= p.max_av_drift_seconds, "s"),
    ]


def _picture_checks(m: Measurements, p: Preset) -> list[tuple[str, Any, Any, bool, str]]:
    return [
        ("black_seconds", m.black_seconds, p.max_black_seconds, m.black_seconds <= p.max_black_seconds, "s"),
        ("longest_freeze_seconds", m.longest_freeze, p.max_freeze_seconds, m.longest_freeze <= p.max_freeze_seconds,
         "s"),
    ]


# --- subtitles ---------------------------------------------------------------------------------

def _merge(spans: Sequence[Span]) -> list[Span]:
    merged: list[list[float]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(s, e) for s, e in merged]


def speech_coverage(cues: Sequence[Cue], speech: Sequence[Span]) -> float:
    """Share of speech time during which a subtitle cue is on screen (1.0 when there is no speech)."""
    cue_spans = _merge([(c.start, c.end) for c in cues])
    total = sum(e - s for s, e in speech)
    if total <= 0:
        return 1.0
    covered = sum(max(0.0, min(e, ce) - max(s, cs)) for s, e in _merge(speech) for cs, ce in cue_spans)
    return covered / total


def word_error_rate(reference: Sequence[str], hypothesis: Sequence[str]) -> float:
    """Word-level edit distance over the reference length (0 = identical)."""
    if not reference:
        return 0.0 if not hypothesis else 1.0
    previous = list(range(len(hypothesis) + 1))
    for i, ref in enumerate(reference, 1):
        current = [i]
        for j, hyp in enumerate(hypothesis, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ref != hyp)))
        previous = current
    return previous[-1] / len(reference)


def words_of(text: str) -> list[str]:
    """Normalised words of a text (case, accents and punctuation ignored)."""
    return [w for w in (normalise(t) for t in text.split()) if w]


def _subtitle_checks(evidence: SubtitleEvidence | None, p: Preset) -> list[tuple[str, Any, Any, bool, str]]:
    if evidence is None:
        return [(name, None, "subtitles and script", False, "") for name in (
            "subtitle_speech_coverage", "subtitle_wer")]
    cues = parse_srt(evidence.srt_text)
    coverage = round(speech_coverage(cues, evidence.speech_spans), 3)
    subtitled = " ".join(" ".join(c.lines) for c in cues)
    wer = round(word_error_rate(words_of(evidence.dialogue), words_of(subtitled)), 3)
    return [
        ("subtitle_speech_coverage", coverage, p.min_subtitle_coverage, coverage >= p.min_subtitle_coverage, ""),
        ("subtitle_wer", wer, p.max_subtitle_wer, wer <= p.max_subtitle_wer, ""),
    ]


# --- report ------------------------------------------------------------------------------------

CheckRow = tuple[str, Any, Any, bool, str]
_GROUPS: tuple[Callable[[Measurements, Preset], list[CheckRow]], ...] = (_format_checks, _audio_checks,
                                                                          _picture_checks)


def evaluate(m: Measurements, preset: Preset, evidence: SubtitleEvidence | None) -> list[Check]:
    """Every check of ALL_CHECKS, in that order, judged against the preset."""
    rows = [row for group in _GROUPS for row in group(m, preset)] + _subtitle_checks(evidence, preset)
    by_name = {name: Check(name, measured, threshold, bool(passed), preset.is_blocking(name), unit)
               for name, measured, threshold, passed, unit in rows}
    return [by_name[name] for name in ALL_CHECKS]


def report_of(checks: Sequence[Check], preset: Preset) -> dict[str, Any]:
    """The JSON report: verdict, blocking failures, warnings, every check, and the preset judged against."""
    failures = [c.name for c in checks if c.blocking and not c.passed]
    return {
        "passed": not failures,
        "blocking_failures": failures,
        "warnings": [c.name for c in checks if not c.blocking and not c.passed],
        "checks": [asdict(c) for c in checks],
        "preset": {"name": preset.name, "version": preset.version},
    }


def check_file(path: Path, preset: Preset, evidence: SubtitleEvidence | None = None) -> dict[str, Any]:
    """Measure a local file once and judge every check against the preset; the JSON report."""
    measured = measure(Path(path))
    report = {**report_of(evaluate(measured, preset, evidence), preset), "measurements": asdict(measured)}
    safe: dict[str, Any] = json_safe(report)
    return safe


def json_safe(value: Any) -> Any:
    """The value with non-finite floats (-inf LUFS of silence) replaced by None, for JSON and Firestore."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value
