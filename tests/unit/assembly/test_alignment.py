"""Captions show what was said: each deviation of the speech from the scripted line (no Whisper: words given)."""
from __future__ import annotations

import pytest

from shared.assembly.alignment import (
    SCRIPT_MATCH_TOLERANCE,
    Verdict,
    align_words,
    comparable,
    dialogue_report,
    error_rate,
    judge_block,
    judge_blocks,
)
from shared.assembly.transcribe import Detection, Relistened, Word
from shared.video.plan import single_chain

LINE = "The lighthouse keeper waits for the storm tonight."
WINDOW = (8.0, 15.0)


def _heard(text: str, start: float = 9.0, step: float = 0.35) -> list[Word]:
    return [Word(w, start + k * step, start + k * step + 0.3) for k, w in enumerate(text.split())]


def _shown(judged) -> str:
    return " ".join(w.text for w in judged.words)


def test_spoken_line_keeps_the_script_spelling_and_whisper_timings() -> None:
    heard = _heard("the light house keeper waits for the storm to night")
    judged = judge_block(LINE, heard, 1, WINDOW, "en")
    assert judged.verdict == Verdict.DELIVERED
    assert _shown(judged) == LINE
    assert judged.words[0].start == pytest.approx(9.0) and judged.words[-1].end == pytest.approx(heard[-1].end)


def test_whisper_spelling_slips_and_numbers_are_not_changes() -> None:
    assert comparable("three") == comparable("3") == "3"
    assert comparable("trois", "fr") == comparable("3", "fr")
    judged = judge_block("Every wave carries a story, colour and light.",
                         _heard("Every Wayne Carrey's story color and light."), 1, WINDOW, "en")
    assert judged.verdict == Verdict.DELIVERED
    assert _shown(judged) == "Every wave carries a story, colour and light."


def test_a_word_boundary_whisper_moved_is_not_a_change() -> None:
    """Measured on the simulator's espeak speech: "A lighthouse keeper" heard as "White Housekeeper"."""
    line = "Look closely, A lighthouse keeper who befriends hides many surprises."
    judged = judge_block(line, _heard("Look closely, White Housekeeper, who befriend hides many surprises."), 1,
                         WINDOW, "en")
    assert judged.verdict == Verdict.DELIVERED and _shown(judged) == line
    changed = judge_block(line, _heard("Look closely, the white house keeps many surprises."), 1, WINDOW, "en")
    assert changed.verdict != Verdict.DELIVERED


def test_paraphrase_is_captioned_as_heard() -> None:
    said = "Tonight the old man expects a big tempest near his tower."
    judged = judge_block(LINE, _heard(said), 1, WINDOW, "en")
    assert judged.verdict == Verdict.CHANGED and judged.error_rate > SCRIPT_MATCH_TOLERANCE["en"]
    assert _shown(judged) == said
    assert "lighthouse" not in _shown(judged)


def test_partial_line_shows_only_the_spoken_part_in_script_spelling() -> None:
    judged = judge_block(LINE, _heard("the light house keeper"), 1, WINDOW, "en")
    assert judged.verdict == Verdict.PARTIAL
    assert _shown(judged) == "The lighthouse keeper"
    assert "storm" not in _shown(judged)


def test_dropped_line_shows_nothing() -> None:
    judged = judge_block(LINE, [], 1, WINDOW, "en")
    assert judged.verdict == Verdict.DROPPED and judged.words == ()


def test_extra_speech_after_the_line_is_captioned_too() -> None:
    judged = judge_block(LINE, _heard(f"{LINE} And then a seagull stole my sandwich."), 1, WINDOW, "en")
    assert judged.verdict == Verdict.EXTRA
    assert _shown(judged) == f"{LINE} And then a seagull stole my sandwich."
    assert [w.start for w in judged.words] == sorted(w.start for w in judged.words)


def test_speech_in_a_block_without_dialogue_is_captioned() -> None:
    judged = judge_block("", _heard("Surprise!"), 2, WINDOW, "en")
    assert judged.verdict == Verdict.EXTRA and _shown(judged) == "Surprise!"


def test_other_language_is_flagged_and_captioned_in_that_language() -> None:
    garbled = _heard("Oil Marissa and Kielo yellow smooth")
    spanish = Relistened("es", 0.47, _heard("Hoy el mar está tranquilo."), {"es": 0.47, "en": 0.03})
    judged = judge_block(LINE, garbled, 3, WINDOW, "en", lambda block, window, language: spanish)
    assert judged.verdict == Verdict.OTHER_LANGUAGE and judged.language == "es"
    assert _shown(judged) == "Hoy el mar está tranquilo."
    unsure = Relistened("es", 0.47, _heard("Hoy el mar."), {"es": 0.47, "en": 0.3})  # English nearly as likely
    assert judge_block(LINE, garbled, 3, WINDOW, "en", lambda b, w, lang: unsure).verdict == Verdict.CHANGED
    unrelated = Relistened("cs", 0.88, _heard("Hagáh co kůše"), {"cs": 0.88, "en": 0.0, "es": 0.01})
    assert judge_block(LINE, garbled, 3, WINDOW, "en", lambda b, w, lang: unrelated).verdict == Verdict.CHANGED


def test_speech_whisper_translated_into_the_script_is_still_another_language() -> None:
    """Told "en", Whisper turns Spanish speech into English: only the language detection tells."""
    detected = Detection(8.0, 15.0, "es", 0.99, {"es": 0.99, "en": 0.0, "fr": 0.0})
    heard_in: list[str | None] = []

    def relisten(block, window, language):
        heard_in.append(language)
        return Relistened("es", 1.0, _heard("El guardián del faro espera la tormenta esta noche."))

    judged = judge_block(LINE, _heard(LINE), 1, WINDOW, "en", relisten, detected)
    assert judged.verdict == Verdict.OTHER_LANGUAGE and heard_in == ["es"]
    assert _shown(judged) == "El guardián del faro espera la tormenta esta noche."
    english = Detection(8.0, 15.0, "en", 0.95, {"en": 0.95, "es": 0.01, "fr": 0.0})
    assert judge_block(LINE, _heard(LINE), 1, WINDOW, "en", relisten, english).verdict == Verdict.DELIVERED


def test_a_matching_block_is_never_heard_again() -> None:
    def relisten(block, window, language):
        raise AssertionError("without a detection, only speech that does not match its line is heard again")

    assert judge_block(LINE, _heard(LINE), 1, WINDOW, "en", relisten).verdict == Verdict.DELIVERED


def test_french_tolerance_absorbs_accents_and_a_slip() -> None:
    line = "Écoutez bien, la mer a une leçon pour nous."
    judged = judge_block(line, _heard("Ecoutez bien la mère a une lecon pour nous"), 0, (0.0, 8.0), "fr")
    assert judged.verdict == Verdict.DELIVERED and _shown(judged) == line


def test_blocks_and_report() -> None:
    blocks = [{"index": 0, "dialogue": "Hello there."}, {"index": 1, "dialogue": "Goodbye now."}]
    heard = [Word("Hello", 1.0, 1.3), Word("there.", 1.3, 1.7)]
    judged = judge_blocks(blocks, heard, single_chain(2).windows(), "en")
    assert [b.verdict for b in judged] == [Verdict.DELIVERED, Verdict.DROPPED]
    report = dialogue_report(judged, heard, "en")
    assert report["issues"] == [1] and report["words"][0] == ["Hello", 1.0, 1.3]
    assert report["blocks"][1]["window"] == [8.0, 15.0]


def test_word_alignment() -> None:
    assert [tag for tag, _, _ in align_words(list("abcd"), list("axcd"))] == ["equal", "sub", "equal", "equal"]
    assert error_rate(list("abcd"), list("ab")) == pytest.approx(0.5)
    assert error_rate([], []) == 0.0


def test_a_line_cut_short_is_partial_even_within_a_loose_tolerance() -> None:
    """French's tolerance (0.60) absorbs Whisper's French, not a line whose end was never said."""
    line = "Ce gâteau au chocolat est vraiment délicieux."
    judged = judge_block(line, _heard("Ce gâteau au chocolat"), 2, WINDOW, "fr")
    assert judged.error_rate <= SCRIPT_MATCH_TOLERANCE["fr"]
    assert judged.verdict == Verdict.PARTIAL and _shown(judged) == "Ce gâteau au chocolat"
