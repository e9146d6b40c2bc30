"""Each QA check fails on a crafted bad file and passes on a good one (small lavfi-made files, real ffmpeg).

The checks run against a test preset that is brand_campaign shrunk to 180x320 and 4–8 s, so every
file takes a fraction of a second to make and to check; the 40 s file is judged by the real presets.
"""
from __future__ import annotations

import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from shared.assembly.transcribe import Word
from shared.media.ffmpeg import measure_loudness
from shared.pricing.presets import ALL_CHECKS, PRESETS
from shared.qa.checks import SubtitleEvidence, check_file
from shared.video.plan import single_chain

pytestmark = pytest.mark.timeout(300)
W, H, SECONDS = 180, 320, 6
TEST_PRESET = replace(PRESETS["premium_spot"], width=W, height=H, min_seconds=4, max_seconds=8,
                      max_bitrate_kbps=600, max_size_mb=5.0)
DIALOGUE = "Hello there, my old friend. The storm is coming."
GOOD_SRT = ("1\n00:00:00,900 --> 00:00:03,100\nHello there, my old friend.\n\n"
            "2\n00:00:03,300 --> 00:00:05,200\nThe storm is coming.\n")
SPEECH = [(1.0, 3.0), (3.4, 5.0)]
# What Whisper heard (the raw transcript the dialogue checks measure against), in the speech spans above.
HEARD = [Word(w, 1.0 + 0.4 * k, 1.35 + 0.4 * k) for k, w in enumerate("Hello there, my old friend.".split())] + \
    [Word(w, 3.4 + 0.4 * k, 3.75 + 0.4 * k) for k, w in enumerate("The storm is coming.".split())]


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-hide_banner", "-nostdin", "-y", "-v", "error", *args], check=True)


def _make(path: Path, *, video: str = "", audio: str = "", size: str = f"{W}x{H}", seconds: float = SECONDS,
          audio_seconds: float | None = None, faststart: bool = True, crf: int = 30, extra: tuple = (),
          gain_db: float = 0.0) -> Path:
    """A test clip: moving testsrc2 picture + a steady 440 Hz tone, with optional filters."""
    vf = f"format=yuv420p{',' + video if video else ''}"
    af = f"volume={gain_db:.2f}dB{',' + audio if audio else ''}"
    _ffmpeg("-f", "lavfi", "-i", f"testsrc2=s={size}:r=24:d={seconds}",
            "-f", "lavfi", "-i", f"sine=f=440:sample_rate=48000:duration={audio_seconds or seconds}",
            "-vf", vf, "-af", af, "-c:v", "libx264", "-preset", "veryfast", "-crf", str(crf), "-profile:v", "high",
            "-c:a", "aac", "-b:a", "128k", "-ac", "2", *extra, *(["-movflags", "+faststart"] if faststart else []),
            str(path))
    return path


@pytest.fixture(scope="module")
def level(tmp_path_factory) -> float:
    """The gain that puts the tone at the preset's -14 LUFS."""
    probe = _make(tmp_path_factory.mktemp("level") / "probe.mp4")
    return TEST_PRESET.loudness_lufs - measure_loudness(probe).integrated_lufs


@pytest.fixture(scope="module")
def files(tmp_path_factory, level) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("qa-files")
    return {
        "good": _make(d / "good.mp4", gain_db=level),
        "too_loud": _make(d / "loud.mp4", gain_db=level + 8),
        "clipped": _make(d / "clipped.mp4", gain_db=level + 30, audio="alimiter=limit=1:level=false,volume=6dB"),
        "black": _make(d / "black.mp4", gain_db=level,
                       video="drawbox=x=0:y=0:w=iw:h=ih:color=black:t=fill:enable='between(t,2,3.5)'"),
        "frozen": _make(d / "frozen.mp4", gain_db=level, video="trim=0:2,setpts=PTS-STARTPTS,"
                                                                 "tpad=stop_mode=clone:stop_duration=4"),
        "wrong_resolution": _make(d / "wrong_res.mp4", gain_db=level, size="240x320"),
        "no_faststart": _make(d / "no_faststart.mp4", gain_db=level, faststart=False),
        "silent_gap": _make(d / "gap.mp4", gain_db=level, audio="volume=enable='between(t,1.5,4.5)':volume=0"),
        "short_audio": _make(d / "short_audio.mp4", gain_db=level, audio_seconds=4),
        "over_bitrate": _make(d / "heavy.mp4", gain_db=level, crf=8, video="noise=alls=60:allf=t+u"),
        "variable_rate": _make(d / "vfr.mp4", gain_db=level, video="select='not(between(n\\,30\\,70))'",
                               extra=("-fps_mode", "vfr")),
        "forty_seconds": _make(d / "forty.mp4", gain_db=level, seconds=40),
    }


def _check(path: Path, srt: str = GOOD_SRT, preset=TEST_PRESET, heard: list[Word] = HEARD) -> dict[str, dict]:
    evidence = SubtitleEvidence(srt, DIALOGUE, SPEECH, heard=heard, blocks=[{"index": 0, "dialogue": DIALOGUE}],
                                windows=single_chain(1).windows(), language="en")
    report = check_file(path, preset, evidence)
    return {c["name"]: c for c in report["checks"]} | {"_report": report}


def test_good_file_passes_every_check(files):
    checks = _check(files["good"])
    failed = [name for name in ALL_CHECKS if not checks[name]["passed"]]
    assert failed == [], {name: checks[name] for name in failed}
    assert checks["_report"]["passed"] is True


@pytest.mark.parametrize("name, check", [
    ("too_loud", "integrated_loudness_lufs"),
    ("clipped", "clipped_sample_ratio"),
    ("clipped", "true_peak_dbtp"),
    ("black", "black_seconds"),
    ("frozen", "longest_freeze_seconds"),
    ("wrong_resolution", "resolution"),
    ("no_faststart", "faststart"),
    ("silent_gap", "longest_silence_seconds"),
    ("short_audio", "av_drift_seconds"),
    ("over_bitrate", "video_bitrate_kbps"),
    ("variable_rate", "constant_frame_rate"),
])
def test_each_check_fails_on_its_crafted_bad_file(files, name, check):
    checks = _check(files[name])
    assert checks[check]["passed"] is False, checks[check]
    assert check in checks["_report"]["blocking_failures"]
    assert checks["_report"]["passed"] is False


def test_forty_seconds_is_too_long_for_a_campaign_but_fits_quick_social(files):
    brand = _check(files["forty_seconds"], preset=replace(PRESETS["brand_campaign"], width=W, height=H))
    assert brand["duration_seconds"]["passed"] is False and brand["duration_seconds"]["measured"] == pytest.approx(40)
    quick = _check(files["forty_seconds"], preset=replace(PRESETS["quick_social"], width=W, height=H))
    assert quick["duration_seconds"]["passed"] is True


def test_mismatched_subtitles_fail_caption_agreement_and_coverage(files):
    wrong_words = GOOD_SRT.replace("Hello there, my old friend.", "Buy our new soap today.")
    checks = _check(files["good"], srt=wrong_words)
    assert checks["caption_speech_wer"]["passed"] is False and checks["caption_speech_wer"]["measured"]["worst"] > 0.3
    assert checks["dialogue_delivered"]["passed"] is True  # the speech itself was the scripted line
    late = "1\n00:00:05,100 --> 00:00:06,000\nHello there, my old friend. The storm is coming.\n"
    checks = _check(files["good"], srt=late)
    assert checks["subtitle_speech_coverage"]["passed"] is False
    assert checks["caption_speech_wer"]["passed"] is True


def test_speech_that_is_not_the_script_fails_whatever_the_captions_say(files):
    paraphrase = [Word(w, 1.0 + 0.4 * k, 1.35 + 0.4 * k) for k, w in enumerate("Buy our new soap today.".split())]
    checks = _check(files["good"], heard=paraphrase)  # the captions still show the script: they lie
    assert checks["speech_script_wer"]["passed"] is False and checks["dialogue_delivered"]["passed"] is False
    assert checks["caption_speech_wer"]["passed"] is False
    assert checks["_report"]["dialogue_issues"][0]["verdict"] == "changed"


def test_non_blocking_failures_are_warnings_not_failures(files):
    lenient = replace(TEST_PRESET, blocking=frozenset(ALL_CHECKS) - {"black_seconds"})
    report = _check(files["black"], preset=lenient)["_report"]
    assert report["passed"] is True and report["warnings"] == ["black_seconds"]
