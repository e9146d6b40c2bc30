"""Quality checks of a delivered file against its preset: each check a measured value, a threshold, a verdict.

The file is measured once (shared.qa.measure: a probe + a single decode). The subtitle and dialogue checks
measure truth against what Whisper heard in the Veo audio (the raw transcript), never the captions
against the script they were made from:

    subtitle_speech_coverage  share of speech time under a cue
    caption_speech_wer        captions vs what the speech heard says they must show (script spelling where the
                              line was spoken within tolerance, else the words heard); worst block
    speech_script_wer         speech heard vs the script, over every scripted block
    dialogue_delivered        per block: delivered / partial / changed / dropped / other_language / extra

The two last ones use the language's tolerance (shared.assembly.alignment.SCRIPT_MATCH_TOLERANCE) and
block or warn by the preset's `dialogue_mismatch`. Which other failures block delivery is the preset's.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from shared.assembly.alignment import BlockDialogue, Verdict, comparable, judge_blocks, match_tolerance, normalise
from shared.assembly.pictures import Span
from shared.assembly.subtitles import Cue, parse_srt
from shared.assembly.transcribe import Detection, Relistened, Word
from shared.pricing.presets import ALL_CHECKS, Preset
from shared.qa.measure import Measurements, measure


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
    """What the subtitle and dialogue checks compare: the delivered SRT, the script, the speech spans of
    the Veo audio, and what Whisper heard in it (the raw transcript, with the other languages detected)."""

    srt_text: str
    dialogue: str  # every block's scripted line, joined (kept for callers that only have the text)
    speech_spans: Sequence[Span]
    heard: Sequence[Word] | None = None
    blocks: Sequence[dict[str, Any]] = ()
    windows: Sequence[Span] = ()
    language: str = "en"
    other_languages: dict[int, Relistened] = field(default_factory=dict)  # blocks heard in another language
    detections: Sequence[Detection] = ()  # the language detected in each block's speech


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
        return [(name, None, "subtitles and speech", False, "") for name in ("subtitle_speech_coverage",)]
    cues = parse_srt(evidence.srt_text)
    coverage = round(speech_coverage(cues, evidence.speech_spans), 3)
    return [("subtitle_speech_coverage", coverage, p.min_subtitle_coverage, coverage >= p.min_subtitle_coverage, "")]


# --- dialogue: what was said, against the script and against the captions -----------------------

@dataclass(frozen=True)
class DialogueFindings:
    """The dialogue measurements: every block's verdict, and the caption-vs-speech error per block."""

    blocks: list[BlockDialogue]
    caption_errors: dict[int, float]
    language: str

    @property
    def tolerance(self) -> float:
        return match_tolerance(self.language)

    def speech_script_wer(self) -> float:
        """Heard vs scripted over every scripted block (each block's error capped at 1)."""
        scripted = [(b, len(b.scripted.split())) for b in self.blocks if b.scripted]
        total = sum(n for _, n in scripted)
        if not total:
            return 0.0
        return round(sum(min(1.0, b.error_rate or 0.0) * n for b, n in scripted) / total, 3)

    def worst_caption_error(self) -> tuple[int | None, float]:
        if not self.caption_errors:
            return None, 0.0
        block = max(self.caption_errors, key=lambda k: self.caption_errors[k])
        return block, self.caption_errors[block]

    def issues(self) -> list[dict[str, Any]]:
        """The blocks whose line was not delivered as scripted: index, verdict, scripted and heard text."""
        return [_issue(b) for b in self.blocks if b.is_issue]

    def verdicts(self) -> list[dict[str, Any]]:
        return [{**_issue(b), "error_rate": b.error_rate, "caption_error": self.caption_errors.get(b.block)}
                for b in self.blocks if b.verdict != Verdict.SILENT]


def _issue(block: BlockDialogue) -> dict[str, Any]:
    found: dict[str, Any] = {"block": block.block, "verdict": block.verdict.value, "scripted": block.scripted,
             "heard": block.heard}
    if block.verdict == Verdict.OTHER_LANGUAGE:
        found.update(language=block.language, language_probability=block.language_probability)
    if block.verdict == Verdict.PARTIAL:
        found["spoken"] = block.spoken
    return found


def dialogue_findings(evidence: SubtitleEvidence) -> DialogueFindings | None:
    """Judge the raw transcript against the script per block (shared.assembly.alignment), and the
    delivered captions against the raw transcript; None without a transcript."""
    if evidence.heard is None:
        return None
    stored = evidence.other_languages
    judged = judge_blocks(evidence.blocks, evidence.heard, evidence.windows, evidence.language,
                          lambda block, _window, _language: stored.get(block), evidence.detections)
    cues = parse_srt(evidence.srt_text)
    spans = [b.window for b in judged]
    shown: dict[int, list[str]] = {b.block: [] for b in judged}
    for cue in cues:
        for at, word in _timed_words(cue, evidence.heard):
            owner = _owner(at, spans)
            if owner is not None:
                shown[judged[owner].block].append(word)
    # What each block's captions must show, judged here from the raw transcript: the script's spelling where
    # the speech matched its line within tolerance, else the words heard (shared.assembly.alignment).
    errors = {b.block: round(word_error_rate([comparable(w.text, b.language) for w in b.words],
                                             [comparable(w, b.language) for w in shown[b.block]]), 3)
              for b in judged if b.words or shown[b.block]}
    return DialogueFindings(judged, errors, evidence.language)


def _timed_words(cue: Cue, heard: Sequence[Word]) -> list[tuple[float, str]]:
    """A cue's words, each at the time of the word heard in its place (the n-th of the cue's words at the time
    of the proportional heard word inside the cue), else spread evenly over the cue. The stored SRT keeps
    whole cues (only the burned picture splits them at block boundaries), so a cue running across a boundary
    gives each block its own words."""
    words = " ".join(cue.lines).split()
    inside = [(w.start + w.end) / 2 for w in heard if cue.start - 0.25 <= (w.start + w.end) / 2 <= cue.end + 0.25]
    if inside:
        return [(inside[i * len(inside) // len(words)], word) for i, word in enumerate(words)]
    step = (cue.end - cue.start) / max(len(words), 1)
    return [(cue.start + (i + 0.5) * step, word) for i, word in enumerate(words)]


def _owner(at: float, spans: Sequence[Span]) -> int | None:
    """The index of the span holding `at` (the nearest one when none does)."""
    if not spans:
        return None
    for k, (start, end) in enumerate(spans):
        if start <= at < end:
            return k
    return min(range(len(spans)), key=lambda k: min(abs(spans[k][0] - at), abs(spans[k][1] - at)))


def _dialogue_checks(findings: DialogueFindings | None) -> list[tuple[str, Any, Any, bool, str]]:
    if findings is None:
        return [(name, None, "a transcript of the speech", False, "") for name in (
            "caption_speech_wer", "speech_script_wer", "dialogue_delivered")]
    tolerance = findings.tolerance
    block, caption_error = findings.worst_caption_error()
    speech = findings.speech_script_wer()
    issues = findings.issues()
    delivered = {"issues": len(issues), "blocks": [f"{i['block']}: {i['verdict']}" for i in issues]}
    return [
        ("caption_speech_wer", {"worst": caption_error, "block": block}, tolerance, caption_error <= tolerance, ""),
        ("speech_script_wer", speech, tolerance, speech <= tolerance, ""),
        ("dialogue_delivered", delivered, "every scripted line spoken as written", not issues, ""),
    ]


# --- report ------------------------------------------------------------------------------------

CheckRow = tuple[str, Any, Any, bool, str]
_GROUPS: tuple[Callable[[Measurements, Preset], list[CheckRow]], ...] = (_format_checks, _audio_checks,
                                                                          _picture_checks)


def evaluate(m: Measurements, preset: Preset, evidence: SubtitleEvidence | None,
             findings: DialogueFindings | None = None) -> list[Check]:
    """Every check of ALL_CHECKS, in that order, judged against the preset."""
    rows = [row for group in _GROUPS for row in group(m, preset)] + _subtitle_checks(evidence, preset)
    rows += _dialogue_checks(findings)
    by_name = {name: Check(name, measured, threshold, bool(passed), preset.is_blocking(name), unit)
               for name, measured, threshold, passed, unit in rows}
    return [by_name[name] for name in ALL_CHECKS]


def report_of(checks: Sequence[Check], preset: Preset, findings: DialogueFindings | None = None) -> dict[str, Any]:
    """The JSON report: verdict, blocking failures, warnings, every check, the preset judged against, and
    the dialogue per block (`dialogue`) with the blocks not delivered as scripted (`dialogue_issues`)."""
    failures = [c.name for c in checks if c.blocking and not c.passed]
    return {
        "passed": not failures,
        "blocking_failures": failures,
        "warnings": [c.name for c in checks if not c.blocking and not c.passed],
        "checks": [asdict(c) for c in checks],
        "preset": {"name": preset.name, "version": preset.version},
        "dialogue": findings.verdicts() if findings else [],
        "dialogue_issues": findings.issues() if findings else [],
    }


def judged_report(measured: Measurements, preset: Preset, evidence: SubtitleEvidence | None) -> dict[str, Any]:
    """Every check of a measured file judged against the preset, with the dialogue findings; the JSON report."""
    findings = dialogue_findings(evidence) if evidence else None
    report = {**report_of(evaluate(measured, preset, evidence, findings), preset, findings),
              "measurements": asdict(measured)}
    safe: dict[str, Any] = json_safe(report)
    return safe


def check_file(path: Path, preset: Preset, evidence: SubtitleEvidence | None = None) -> dict[str, Any]:
    """Measure a local file once and judge every check against the preset; the JSON report."""
    return judged_report(measure(Path(path)), preset, evidence)


def json_safe(value: Any) -> Any:
    """The value with non-finite floats (-inf LUFS of silence) replaced by None, for JSON and Firestore."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value
