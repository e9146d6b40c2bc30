"""The shipped music catalogue and the loop arithmetic."""
from __future__ import annotations

import json
import wave

import pytest

from shared.assembly.music import (
    CATALOGUE,
    MOODS,
    MUSIC_DIR,
    NO_MUSIC,
    SILENT,
    bed_filter,
    choose_track,
    load_catalogue,
    loop_count,
    prepare_bed,
)
from shared.core.errors import InvalidInputError
from shared.media.probe import probe

STYLES = ("cinematic", "anime", "realistic", "sketch", "cyberpunk", "vintage", "fantasy")


def test_catalogue_lists_at_least_three_real_tracks() -> None:
    tracks = load_catalogue()
    assert len(tracks) >= 3
    assert len({t.id for t in tracks}) == len(tracks)
    for track in tracks:
        assert track.path.is_file() and track.path.parent == MUSIC_DIR
        info = probe(track.path)
        assert info.audio_codec == "aac" and info.sample_rate == 48000
        assert 30.0 <= info.duration <= 45.0
        assert abs(info.duration - track.duration) < 0.5
        assert track.path.stat().st_size * 8 / info.duration < 130_000  # ~96 kbps


def test_catalogue_json_fields() -> None:
    entries = json.loads(CATALOGUE.read_text())["tracks"]
    for entry in entries:
        assert set(entry) == {"id", "name", "category", "duration", "default_for", "file", "licence", "made",
                              "preview"}
        assert set(entry["default_for"]) <= set(STYLES)
        assert entry["licence"] == "CC0-1.0" and entry["made"]


def test_catalogue_has_five_to_ten_tracks_covering_every_mood() -> None:
    tracks = load_catalogue()
    assert 5 <= len(tracks) <= 10
    assert {t.category for t in tracks} == set(MOODS) == {"lofi", "upbeat", "ambient", "epic", "calm"}


def test_every_track_has_a_short_small_preview_of_itself() -> None:
    for track in load_catalogue():
        info = probe(track.preview_path)
        assert track.preview_path != track.path and info.audio_codec == "aac"
        assert 5.0 <= info.duration <= 10.0 and track.preview_path.stat().st_size < 80_000


def test_no_music_is_a_silent_bed(tmp_path) -> None:
    assert choose_track(NO_MUSIC, "cinematic") is SILENT
    bed = prepare_bed(SILENT.path, 6.0, tmp_path / "bed.wav", volume=0.2)
    with wave.open(str(bed)) as wav:
        frames = wav.readframes(wav.getnframes())
        assert wav.getnframes() == pytest.approx(6.0 * 48000, abs=48)
    assert set(frames) == {0}


def test_every_style_has_a_default_track() -> None:
    for style in STYLES:
        assert style in choose_track(None, style).default_for


def test_unknown_track_is_rejected() -> None:
    with pytest.raises(InvalidInputError):
        choose_track("no-such-track", "cinematic")


@pytest.mark.parametrize("track,target", [(34.3, 64.0), (30.0, 90.0), (38.6, 148.0), (10.0, 16.0)])
def test_loop_count_covers_the_target(track: float, target: float) -> None:
    copies = loop_count(track, target, 2.0)
    assert copies * track - (copies - 1) * 2.0 >= target
    assert (copies - 1) * track - max(0, copies - 2) * 2.0 < target


def test_loop_count_one_copy_when_long_enough() -> None:
    assert loop_count(40.0, 20.0, 2.0) == 1


def test_bed_filter_crossfades_each_loop_point() -> None:
    graph = bed_filter(3, 70.0, volume=0.2)
    assert graph.count("acrossfade") == 2
    assert "atrim=0:70.000" in graph and "volume=0.2000" in graph and graph.endswith("[bed]")
