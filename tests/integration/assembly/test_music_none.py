"""Music "none": the delivered file has no music under the voice; a catalogue track is heard in the same gap.

The clip speaks (a tone stands for the voice) for 3 s, then is silent: what the delivered audio carries in
that silent gap is only the music bed, measured with ffmpeg's volumedetect on the final MP4.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from shared.assembly.finish import produce_deliverables
from shared.assembly.transcribe import Transcript
from shared.media.ffmpeg import run_ffmpeg

GAP = (4.0, 7.5)  # seconds of the clip with no sound of its own


def _clip(folder: Path) -> Path:
    clip = folder / "voice-then-silence.mp4"
    run_ffmpeg(["-f", "lavfi", "-i", "testsrc2=s=720x1280:r=24:d=9", "-f", "lavfi", "-i",
                "sine=f=300:r=48000:d=3,apad=whole_dur=9", "-t", "9", "-c:v", "libx264", "-preset", "ultrafast",
                "-pix_fmt", "yuv420p", "-c:a", "aac", "-ac", "2", str(clip)], what="fixture")
    return clip


def _peak_db(path: Path, start: float, end: float) -> float:
    stderr = run_ffmpeg(["-i", str(path), "-vn", "-af", f"atrim={start}:{end},volumedetect", "-f", "null", "-"],
                        what="volumedetect")
    return float(re.search(r"max_volume: (-?[\d.]+|-inf) dB", stderr).group(1))


@pytest.mark.parametrize("track", ["none", "calm-horizon"])
def test_the_gap_after_the_voice_carries_music_only_when_a_track_is_chosen(tmp_path: Path, track: str) -> None:
    script = {"title": "t", "style": "realistic", "language": "en", "blocks": [{"index": 0, "dialogue": ""}]}
    result = produce_deliverables(_clip(tmp_path), script, tmp_path / "work", music_track=track,
                                  hear=lambda: Transcript(language="en"))
    assert result.music_track == track
    voice_peak, gap_peak = _peak_db(result.final_video, 0.5, 2.5), _peak_db(result.final_video, *GAP)
    assert voice_peak > -20, voice_peak
    if track == "none":
        assert gap_peak < -70, f"music heard in the gap ({gap_peak} dB) though none was chosen"
    else:
        assert gap_peak > -45, f"the chosen track is not heard in the gap ({gap_peak} dB)"
