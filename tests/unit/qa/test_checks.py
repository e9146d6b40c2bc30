"""Word error rate and speech coverage of the subtitles."""
from __future__ import annotations

import pytest

from shared.assembly.subtitles import Cue
from shared.qa.checks import speech_coverage, word_error_rate, words_of


def test_wer_and_coverage():
    assert word_error_rate(words_of("Hello, old friend!"), words_of("hello old friend")) == 0
    assert word_error_rate(words_of("a b c d"), words_of("a x c")) == pytest.approx(0.5)
    cues = [Cue(1.0, 3.0, ("hi",)), Cue(5.0, 6.0, ("there",))]
    assert speech_coverage(cues, [(1.0, 3.0)]) == pytest.approx(1.0)
    assert speech_coverage(cues, [(3.0, 5.0)]) == pytest.approx(0.0)
    assert speech_coverage([], []) == 1.0
