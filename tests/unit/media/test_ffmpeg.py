"""shared.media.ffmpeg: probe of tiny files made with ffmpeg, the packet-copy join, graph building."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import ffmpeg as ffmpeg_python
import pytest

from shared.core.errors import GenerationError, PermanentError
from shared.media import ffmpeg as media
from shared.media.probe import duration, probe
from shared.video.segments import _MATCHING_FIELDS, stream_signature

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
    info = probe(clip)
    assert (info.width, info.height, info.fps) == (64, 48, 24.0)
    assert (info.video_codec, info.profile, info.pix_fmt) == ("h264", "Constrained Baseline", "yuv420p")
    assert (info.audio_codec, info.sample_rate, info.audio_channels) == ("aac", 48000, 2)
    assert info.has_video and info.has_audio and info.faststart
    assert info.duration == pytest.approx(1.0, abs=0.05)


def test_probe_keeps_the_raw_json(clip: Path) -> None:
    info = probe(clip)
    assert [s["codec_type"] for s in info.streams] == ["video", "audio"]
    assert info.video_stream["r_frame_rate"] == "24/1" and info.audio_stream["codec_name"] == "aac"
    assert info.container["format_name"].startswith("mov,mp4")
    assert int(info.container["size"]) == clip.stat().st_size
    assert "raw" not in repr(info)


def test_duration_is_frames_over_rate(clip: Path) -> None:
    assert duration(clip) == 1.0
    assert probe(clip).nominal_duration == 1.0


def test_audio_only_file(tmp_path: Path) -> None:
    wav = tmp_path / "tone.wav"
    media.run(["-f", "lavfi", "-i", "sine=f=440:r=16000:d=0.5", str(wav)], what="fixture")
    info = probe(wav)
    assert not info.has_video and info.video_stream == {} and (info.width, info.fps) == (0, 0.0)
    assert info.audio_codec == "pcm_s16le" and info.sample_rate == 16000 and not info.faststart
    with pytest.raises(PermanentError, match="no video stream") as caught:
        duration(wav)
    assert caught.value.code == "bad_media"


def test_probe_errors(tmp_path: Path) -> None:
    with pytest.raises(PermanentError) as missing:
        probe(tmp_path / "nothing.mp4")
    assert missing.value.code == "missing_media"
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all")
    with pytest.raises(PermanentError, match="cannot read media file") as bad:
        probe(junk)
    assert bad.value.code == "bad_media"


def test_probe_runs_no_process(clip: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The probe reads the file in-process (PyAV): no ffprobe, which the runtime does not have."""
    def no_process(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"probe started a process: {args[0] if args else kwargs}")
    monkeypatch.setattr(subprocess, "Popen", no_process)
    monkeypatch.setattr(subprocess, "run", no_process)
    assert probe(clip).video_codec == "h264"


# --- the probe against ffprobe (independent evidence) ---------------------------------------------

# The fields callers read (shared.qa.measure, shared.video.segments _MATCHING_FIELDS, MediaInfo).
FORMAT_FIELDS = ("format_name", "duration", "bit_rate", "size")
STREAM_FIELDS = ("index", "codec_type", "codec_name", "profile", "pix_fmt", "width", "height", "r_frame_rate",
                 "avg_frame_rate", "time_base", "nb_frames", "duration", "bit_rate", "sample_rate", "channels")
# The container duration is computed by libavformat: PyAV's (62.x) gives the exact value where Debian's
# ffprobe (59.x) rounds up by a millisecond on some AAC files; the format bitrate is derived from it.
TOLERANCE = {"duration": 0.0015, "bit_rate": 0.001}


def _ffprobe(path: Path) -> dict[str, Any]:
    exe = shutil.which("ffprobe")
    if exe is None:
        pytest.skip("no ffprobe on this machine to compare with (infra/local/setup.sh installs Debian's ffmpeg)")
    out = subprocess.run([exe, "-v", "error", "-print_format", "json", "-show_format", "-show_streams", str(path)],
                         capture_output=True, text=True, check=True, timeout=60)
    data: dict[str, Any] = json.loads(out.stdout)
    return data


def _differences(section: str, ours: dict[str, Any], theirs: dict[str, Any], fields: tuple[str, ...]) -> list[str]:
    found = []
    for key in fields:
        mine, ref = ours.get(key), theirs.get(key)
        if section == "format" and key in TOLERANCE and mine is not None and ref is not None:
            relative = key == "bit_rate"
            limit = TOLERANCE[key] * (float(ref) if relative else 1.0)
            if abs(float(mine) - float(ref)) <= limit:
                continue
        if mine != ref:  # the same value and type, or both absent (ffprobe leaves unknown values out)
            found.append(f"{section}.{key}: probe {mine!r}, ffprobe {ref!r}")
    return found


def _make(kind: str, path: Path) -> Path:
    """Files as the pipeline makes them, with the pinned wheel's ffmpeg."""
    video = ["-f", "lavfi", "-i", "testsrc2=s=180x320:r=24:d=1.5"]
    tone = ["-f", "lavfi", "-i", "sine=f=440:r=48000:d=1.5"]
    args = {
        # the final's shape: H.264 High, 24 fps CFR, AAC-LC 48 kHz stereo, moov first
        "final": [*video, *tone, "-c:v", "libx264", "-preset", "veryfast", "-profile:v", "high", "-pix_fmt",
                  "yuv420p", "-r", "24", "-fps_mode", "cfr", "-c:a", "aac", "-b:a", "128k", "-ar", "48000", "-ac",
                  "2", "-movflags", "+faststart"],
        "m4a": ["-f", "lavfi", "-i", "sine=f=330:r=44100:d=1.3", "-c:a", "aac", "-b:a", "96k"],  # a music track
        "wav": ["-f", "lavfi", "-i", "sine=f=440:r=16000:d=0.5"],  # a speech stand-in
        "silent": [*video, "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"],  # a Veo clip, no audio
    }[kind]
    media.run([*args, str(path)], what=f"fixture_{kind}", loglevel="error")
    return path


@pytest.mark.parametrize("kind, name", [("final", "final.mp4"), ("m4a", "track.m4a"), ("wav", "speech.wav"),
                                        ("silent", "veo.mp4")])
def test_probe_fields_match_ffprobe(tmp_path: Path, kind: str, name: str) -> None:
    path = _make(kind, tmp_path / name)
    reference = _ffprobe(path)
    raw = probe(path).raw
    problems = _differences("format", raw["format"], reference["format"], FORMAT_FIELDS)
    assert [s["codec_type"] for s in raw["streams"]] == [s["codec_type"] for s in reference["streams"]]
    for ours, theirs in zip(raw["streams"], reference["streams"]):
        problems += _differences(f"stream{theirs['index']}", ours, theirs, STREAM_FIELDS)
    assert problems == []


def test_segment_signatures_match_ffprobe(tmp_path: Path) -> None:
    """The fields shared.video.segments compares before a packet-copy join are exactly ffprobe's."""
    path = _make("final", tmp_path / "segment.mp4")
    reference = _ffprobe(path)
    assert stream_signature(path) == [{k: s.get(k) for k in _MATCHING_FIELDS} for s in reference["streams"]]


def test_concat_copy_joins_without_reencoding(tmp_path: Path) -> None:
    first, second = _clip(tmp_path / "first.mp4", sound=False), _clip(tmp_path / "second.mp4", seconds=2, sound=False)
    joined = tmp_path / "joined.mp4"
    media.concat_copy([(first, duration(first)), (second, duration(second))], joined, tmp_path)
    assert duration(joined) == 3.0
    assert probe(joined).faststart


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
    assert probe(wav).duration == pytest.approx(0.5, abs=0.01)
