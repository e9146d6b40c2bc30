"""Block windows and the merge of transcripts made block by block (no audio decoded here)."""
from __future__ import annotations

import math

import pytest

from shared.assembly import block_transcripts
from shared.assembly.block_transcripts import Window, complete, windows_of_plan
from shared.assembly.transcribe import Detection, Transcript, Word
from shared.core.config import GEMINI_API, VERTEX
from shared.video.plan import plan_video


def test_one_chain_windows_follow_the_blocks_and_cover_the_whole_video() -> None:
    windows = windows_of_plan(plan_video(9, GEMINI_API).to_doc())
    assert [w.block for w in windows] == list(range(9))
    assert windows[0].start == -math.inf and windows[-1].end == math.inf
    assert [(w.start, w.end) for w in windows[1:-1]] == [(8 + 7 * k, 15 + 7 * k) for k in range(7)]
    assert all(w.offset == 0 for w in windows)
    assert all(a.end == b.start for a, b in zip(windows, windows[1:]))


def test_later_segments_are_offset_by_the_segments_before_them() -> None:
    plan = plan_video(9, VERTEX)  # 5 + 4 blocks: 36 s + 29 s
    windows = windows_of_plan(plan.to_doc())
    first_of_second = plan.segments[1].first_block
    assert windows[first_of_second].offset == plan.segments[0].seconds == 36
    assert (windows[first_of_second].start, windows[first_of_second].end) == (36, 44)
    assert all(a.end == b.start for a, b in zip(windows, windows[1:]))


def test_no_plan_gives_no_windows() -> None:
    assert windows_of_plan({}) == []


def test_a_word_belongs_to_the_window_holding_its_middle() -> None:
    window = Window(1, 8.0, 15.0, 0.0)
    assert window.holds(Word("edge", 7.6, 8.6)) and not window.holds(Word("before", 7.0, 8.6))
    assert not window.holds(Word("after", 14.8, 15.4))


def _said(text: str, start: float) -> Transcript:
    return Transcript(words=[Word(w, start + i, start + i + 0.5) for i, w in enumerate(text.split())],
                      speech_spans=[(start, start + len(text.split()))])


def test_stored_blocks_are_merged_in_time_order_without_hearing_anything() -> None:
    windows = windows_of_plan(plan_video(3, GEMINI_API).to_doc())
    stored = {2: _said("and goodbye", 16.0), 0: _said("hello there", 1.0), 1: _said("general", 9.0)}
    merged = complete(stored, windows, audio=None, language="en")
    assert [w.text for w in merged.words] == ["hello", "there", "general", "and", "goodbye"]
    assert merged.speech_spans == sorted(merged.speech_spans)


def test_each_run_of_missing_blocks_is_heard_once(monkeypatch: pytest.MonkeyPatch) -> None:
    heard: list[tuple[float, float]] = []

    def fake_span(audio, start, end, language, offset=0.0):  # noqa: ANN001 - stands in for Whisper
        heard.append((start, end))
        return Transcript(language=language)

    monkeypatch.setattr(block_transcripts, "transcribe_span", fake_span)
    windows = windows_of_plan(plan_video(6, GEMINI_API).to_doc())
    complete({0: _said("a", 1.0), 3: _said("b", 23.0)}, windows, audio=None, language="en")
    assert heard == [(windows[1].start, windows[2].end), (windows[4].start, math.inf)]


def test_a_block_transcript_keeps_its_language_detection_when_stored() -> None:
    detected = Detection(8.0, 15.0, "es", 0.97, {"es": 0.97, "en": 0.01, "fr": 0.0})
    heard = Transcript(words=[Word("Hola", 9.0, 9.4)], speech_spans=[(9.0, 9.4)], language="en",
                       detections=[detected])
    again = block_transcripts._from_json(block_transcripts._to_json(1, heard))
    assert again.detections == [detected] and again.words == heard.words
    merged = block_transcripts.merge([again, _said("hello", 1.0)], "en")
    assert merged.detections == [detected]
