"""QA's speech spans leave out the VAD's padding: a cue is not charged for the quiet before and after a line."""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from shared.qa import step
from shared.qa.checks import speech_coverage


def test_speech_spans_lose_the_vad_padding_and_follow_each_file_on_one_timeline(monkeypatch):
    found = {"a.mp4": [(1.0, 3.6), (5.0, 5.3)], "b.mp4": [(0.8, 2.0)]}  # (5.0, 5.3) is padding around a click
    monkeypatch.setattr(step, "load_audio", lambda path: path.name)
    monkeypatch.setattr(step, "speech_spans", lambda audio: found[audio])
    monkeypatch.setattr(step, "probe", lambda path: SimpleNamespace(duration=8.0))
    spans = step.speech_spans_of([Path("a.mp4"), Path("b.mp4")])
    assert [round(t, 6) for span in spans for t in span] == [1.2, 3.4, 9.0, 9.8]
    cue = SimpleNamespace(start=1.2, end=3.4)  # a cue from the first word's start to the last word's end
    assert speech_coverage([cue], spans[:1]) == pytest.approx(1.0)
    assert speech_coverage([cue], [(1.0, 3.6)]) < 0.9, "with the padding the same cue would look short"
