"""shared.media.ffmpeg: probe of tiny files made with ffmpeg, the packet-copy join, graph building."""
from __future__ import annotations

from pathlib import Path

import ffmpeg as ffmpeg_python
import pytest

from shared.core.errors import GenerationError, PermanentError
from shared.media import ffmpeg as media

pytestmark = pytest.mark.timeout(120)


def _clip(path: Path, *, seconds: float = 1, sound: bool = True) -> Path:
    """A tiny H.264 (+ AAC) MP4, moov first."""
    audio = ["-f", "lavfi", "-i", f"sine=f=440:r=48000:d={seconds}", "-c:a", "aac", "-ac", "2"] if sound else []
    media.run(["-f", "lavfi", "-i", f"testsrc2=s=64x48:r=24:d={seconds}", *audio, "-c:v", "libx264", "-preset",
               "ultrafast", "-pix_fmt", "yuv420p", "-movflags", "+faststart", str(path)],
              what="fixture", loglevel="error")
    return path


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _clip(tmp_path_factory.mktemp("probe") / "tiny.mp4")


def test_probe_reads_video_and_audio(clip: Path) -> None:
    info = media.probe(clip)
    assert (info.width, info.height, info.fps) == (64, 48, 24.0)
    assert (info.video_codec, info.profile, info.pix_fmt) == ("h264", "Constrained Baseline", "yuv420p")
    assert (info.audio_codec, info.sample_rate, info.audio_channels) == ("aac", 48000, 2)
    assert info.has_video and info.has_audio and info.faststart
    assert info.duration == pytest.approx(1.0, abs=0.05)


def test_probe_keeps_the_raw_json(clip: Path) -> None:
    info = media.probe(clip)
    assert [s["codec_type"] for s in info.streams] == ["video", "audio"]
    assert info.video_stream["r_frame_rate"] == "24/1" and info.audio_stream["codec_name"] == "aac"
    assert info.container["format_name"].startswith("mov,mp4")
    assert int(info.container["size"]) == clip.stat().st_size
    assert "raw" not in repr(info)


def test_duration_is_frames_over_rate(clip: Path) -> None:
    assert media.duration(clip) == 1.0
    assert media.probe(clip).nominal_duration == 1.0


def test_audio_only_file(tmp_path: Path) -> None:
    wav = tmp_path / "tone.wav"
    media.run(["-f", "lavfi", "-i", "sine=f=440:r=16000:d=0.5", str(wav)], what="fixture")
    info = media.probe(wav)
    assert not info.has_video and info.video_stream == {} and (info.width, info.fps) == (0, 0.0)
    assert info.audio_codec == "pcm_s16le" and info.sample_rate == 16000 and not info.faststart
    with pytest.raises(PermanentError, match="no video stream") as caught:
        media.duration(wav)
    assert caught.value.code == "bad_media"


def test_probe_errors(tmp_path: Path) -> None:
    with pytest.raises(PermanentError) as missing:
        media.probe(tmp_path / "nothing.mp4")
    assert missing.value.code == "missing_media"
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all")
    with pytest.raises(PermanentError, match="ffprobe cannot read") as bad:
        media.probe(junk)
    assert bad.value.code == "bad_media"


def test_concat_copy_joins_without_reencoding(tmp_path: Path) -> None:
    first, second = _clip(tmp_path / "first.mp4", sound=False), _clip(tmp_path / "second.mp4", seconds=2, sound=False)
    joined = tmp_path / "joined.mp4"
    media.concat_copy([(first, media.duration(first)), (second, media.duration(second))], joined, tmp_path)
    assert media.duration(joined) == 3.0
    assert media.probe(joined).faststart


def test_failure_class_is_the_callers(tmp_path: Path) -> None:
    with pytest.raises(GenerationError) as caught:
        media.run(["-i", str(tmp_path / "absent.mp4"), str(tmp_path / "out.mp4")], what="missing_input",
                  failure=GenerationError)
    assert caught.value.code == "generation_failed" and "missing_input" in caught.value.message


def test_run_output_returns_stdout_bytes_and_stderr(clip: Path) -> None:
    out = media.run_output(["-i", str(clip), "-map", "0:a", "-af", media.ebur128_filter(), "-f", "s16le", "-"],
                           what="pcm")
    assert len(out.stdout) == pytest.approx(48000 * 2 * 2, rel=0.05)
    assert media.parse_ebur128(out.stderr).integrated_lufs < 0


def test_graph_args_match_ffmpeg_python_and_allow_source_only_graphs() -> None:
    src = ffmpeg_python.input("in.mp4")
    command = ffmpeg_python.output(src.video.filter("scale", 360, 640, flags="lanczos"), src.audio, "out.mp4",
                                   **{"c:a": "copy"})
    assert media.graph_args(command) == ffmpeg_python.get_args(command)
    assert media.command_line(command, loglevel="error")[1:6] == ["-hide_banner", "-nostdin", "-loglevel", "error",
                                                                  "-y"]
    noise = media.source("anoisesrc", d=1, c="brown").filter("atrim", end_sample=1024)
    assert media.graph_args(ffmpeg_python.output(noise, "n.wav")) == [
        "-filter_complex", "anoisesrc=c=brown:d=1[s0];[s0]atrim=end_sample=1024[s1]", "-map", "[s1]", "n.wav"]


def test_source_only_graph_runs(tmp_path: Path) -> None:
    wav = tmp_path / "noise.wav"
    noise = media.source("anoisesrc", d=0.5, c="brown", r=16000, seed=1)
    media.run(ffmpeg_python.output(noise, str(wav)), what="noise")
    assert media.probe(wav).duration == pytest.approx(0.5, abs=0.01)
