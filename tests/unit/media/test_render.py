"""shared.media.render: real ffmpeg renders, checked with ffprobe and decoded pixels/samples (no network)."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from shared.media import render as render_module
from shared.media.render import (
    FPS,
    HEIGHT,
    SAMPLE_RATE,
    WIDTH,
    RenderInfo,
    extend_clip,
    render_clip,
    seed_for,
    wrap_scene_text,
)

pytestmark = pytest.mark.timeout(120)

DIALOGUE = "The little robot discovers the ocean for the very first time."
HOSTILE_TEXT = 'He said "stop": C:\\path\\to 100% done \'quoted\' [x];y,z 🚀🎬\nsecond line %{pts} $HOME `ls`'


def probe(path: Path) -> dict:
    """ffprobe streams and format as JSON."""
    out = subprocess.run(["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", str(path)],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def stream(info: dict, kind: str) -> dict:
    return next(s for s in info["streams"] if s["codec_type"] == kind)


def frame_at(path: Path, seconds: float) -> np.ndarray:
    """One decoded RGB frame as an array (height, width, 3)."""
    raw = subprocess.run(["ffmpeg", "-v", "error", "-ss", f"{seconds}", "-i", str(path), "-frames:v", "1",
                          "-f", "rawvideo", "-pix_fmt", "rgb24", "-"], check=True, capture_output=True).stdout
    return np.frombuffer(raw, dtype=np.uint8).reshape(HEIGHT, WIDTH, 3).astype(np.int16)


def audio_rms_db(path: Path, start: float, end: float) -> float:
    """RMS level in dBFS of the mono mix between two times."""
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-ss", f"{start}", "-to", f"{end}",
                          "-ac", "1", "-ar", "16000", "-f", "s16le", "-"], check=True, capture_output=True).stdout
    samples = np.frombuffer(raw, dtype=np.int16).astype(np.float64) / 32768.0
    return float(20 * np.log10(np.sqrt(np.mean(samples ** 2)) + 1e-12))


def video_packet_hashes(path: Path) -> list[str]:
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_packets", "-show_data_hash",
                          "md5", "-show_entries", "packet=pts,data_hash", "-of", "csv=p=0", str(path)],
                         check=True, capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if line]


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, RenderInfo]:
    path = tmp_path_factory.mktemp("render") / "clip.mp4"
    info = render_clip(path, scene_text="A robot walks on the beach", dialogue=DIALOGUE, language="en",
                       seconds=4, seed=seed_for("clip", "1"))
    return path, info


def test_clip_has_the_contract_encoding(clip: tuple[Path, RenderInfo]) -> None:
    path, info = clip
    media = probe(path)
    video, audio = stream(media, "video"), stream(media, "audio")
    assert (video["codec_name"], video["width"], video["height"]) == ("h264", WIDTH, HEIGHT)
    assert video["pix_fmt"] == "yuv420p" and video["r_frame_rate"] == f"{FPS}/1"
    assert (audio["codec_name"], int(audio["sample_rate"]), audio["channels"]) == ("aac", SAMPLE_RATE, 2)
    assert int(video["nb_frames"]) == 4 * FPS
    assert abs(float(media["format"]["duration"]) - 4) < 0.05
    assert info.duration == pytest.approx(4.0)


def test_speech_is_loud_in_its_window_and_ambience_is_quiet(clip: tuple[Path, RenderInfo]) -> None:
    path, info = clip
    assert info.speech_start is not None and info.speech_end is not None
    assert 0.4 <= info.speech_start < info.speech_end <= info.duration
    speech = audio_rms_db(path, info.speech_start, info.speech_end)
    ambience = audio_rms_db(path, 0.05, info.speech_start - 0.1)
    assert -45 < ambience < -28
    assert speech > ambience + 10


def test_hostile_scene_text_renders(tmp_path: Path) -> None:
    out = tmp_path / "hostile.mp4"
    info = render_clip(out, scene_text=HOSTILE_TEXT, dialogue='Un "test" : 100 % sûr\\ ok', language="fr",
                       seconds=2, seed=7)
    assert int(stream(probe(out), "video")["nb_frames"]) == 2 * FPS
    assert info.duration == pytest.approx(2.0)


def test_wrap_scene_text_keeps_lines_short_and_printable() -> None:
    wrapped = wrap_scene_text("first\r\nsecond\x00\x07 line " + "word " * 100)
    lines = wrapped.split("\n")
    assert lines[0] == "first" and "\x00" not in wrapped and "\x07" not in wrapped
    assert all(len(line) <= 26 for line in lines)
    assert len(lines) <= 9 and lines[-1].endswith("…")


def test_extension_appends_seven_seconds_without_touching_the_first_part(
        clip: tuple[Path, RenderInfo], tmp_path: Path) -> None:
    first, first_info = clip
    out = tmp_path / "extended.mp4"
    info = extend_clip(first, out, scene_text="The robot swims", dialogue="Waves sing softly to the robot.",
                       language="en", seed=seed_for("clip", "2"))
    assert info.duration == pytest.approx(first_info.duration + 7)
    assert int(stream(probe(out), "video")["nb_frames"]) == (4 + 7) * FPS
    before = video_packet_hashes(first)
    assert video_packet_hashes(out)[: len(before)] == before
    assert info.speech_start is not None and info.speech_end is not None
    assert first_info.duration < info.speech_start < info.speech_end <= info.duration
    assert audio_rms_db(out, info.speech_start, info.speech_end) > audio_rms_db(out, 4.05, 4.4) + 10


def test_seeds_give_different_pictures_and_a_seed_repeats(clip: tuple[Path, RenderInfo], tmp_path: Path) -> None:
    same, other = tmp_path / "same.mp4", tmp_path / "other.mp4"
    kwargs = dict(scene_text="A robot walks on the beach", dialogue=DIALOGUE, language="en", seconds=4)
    render_clip(same, seed=seed_for("clip", "1"), **kwargs)  # type: ignore[arg-type]
    render_clip(other, seed=seed_for("clip", "other"), **kwargs)  # type: ignore[arg-type]
    assert video_packet_hashes(same) == video_packet_hashes(clip[0])
    difference = np.abs(frame_at(clip[0], 2.0) - frame_at(other, 2.0)).mean()
    assert difference > 12


def test_long_dialogue_is_sped_up_not_cut(tmp_path: Path) -> None:
    long_line = " ".join(["the quick brown fox jumps over the lazy dog"] * 3)
    info = render_clip(tmp_path / "fast.mp4", scene_text="fast", dialogue=long_line, language="en", seconds=3,
                       seed=3)
    assert info.speech_end is not None and info.speech_end <= 3 - 0.3
    assert info.duration == pytest.approx(3.0)


def test_first_frame_is_where_the_clip_starts(tmp_path: Path) -> None:
    picture = tmp_path / "start.png"
    image = Image.new("RGB", (WIDTH, HEIGHT), (200, 40, 40))
    image.paste((30, 60, 220), (0, 0, WIDTH, HEIGHT // 3))
    image.save(picture)
    out = tmp_path / "from_image.mp4"
    info = render_clip(out, scene_text="opening", dialogue="", language="en", seconds=2, seed=5,
                       first_frame=picture)
    assert info.speech_start is None
    expected = np.asarray(image, dtype=np.int16)
    top = slice(0, HEIGHT // 2)  # the scene text sits lower down
    assert np.abs(frame_at(out, 0)[top] - expected[top]).mean() < 12


def test_seed_for_is_stable_and_discriminating() -> None:
    assert seed_for("a", "b") == seed_for("a", "b")
    assert seed_for("a", "b") != seed_for("ab")
    assert 0 <= seed_for("x") < 2 ** 31


def test_given_speech_is_used_and_no_local_engine_is_called(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The storyboard hands its Gemini TTS audio in: the clip carries that audio and espeak-ng is never run."""
    def refuse(*_args: object) -> float:
        raise AssertionError("espeak-ng must not run when the speech is given")

    monkeypatch.setattr(render_module, "espeak_synthesize", refuse)
    speech = tmp_path / "given.wav"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=f=330:r=24000:d=1.5", "-ac", "1",
                    "-c:a", "pcm_s16le", str(speech)], check=True)
    info = render_clip(tmp_path / "given.mp4", scene_text="given speech", dialogue="Hello there.", language="en",
                       seconds=3, seed=7, speech_wav=speech)
    assert info.speech_start is not None and info.speech_end is not None
    assert info.speech_end - info.speech_start == pytest.approx(1.5, abs=0.05)
    tone = audio_rms_db(tmp_path / "given.mp4", info.speech_start + 0.2, info.speech_end - 0.2)
    assert tone > audio_rms_db(tmp_path / "given.mp4", 0.05, info.speech_start - 0.1) + 10
