"""The WER used to set the captions' match tolerance: normalisation, number folding and edit distance."""
from __future__ import annotations

import pytest

from tools.speech_measure import spell_number, text_wer, wer, words


@pytest.mark.parametrize(("n", "language", "said"), [
    (300, "fr", "trois cents"), (301, "fr", "trois cent un"), (21, "fr", "vingt et un"),
    (71, "fr", "soixante et onze"), (80, "fr", "quatre-vingts"), (91, "fr", "quatre-vingt onze"),
    (18, "fr", "dix-huit"), (1000, "fr", "mille"),
    (21, "es", "veintiuno"), (100, "es", "cien"), (115, "es", "ciento quince"), (35, "es", "treinta y cinco"),
    (500, "es", "quinientos"), (20, "en", "twenty"), (4050, "en", "four thousand fifty"),
])
def test_numbers_are_spelled_as_said(n: int, language: str, said: str) -> None:
    assert spell_number(n, language) == said


def test_raw_words_drop_case_and_punctuation_but_keep_accents_and_digits() -> None:
    assert words("¿Dónde está? L'été, 300 vélos!", "fr", fold=False) == ["dónde", "está", "l", "été", "300",
                                                                         "vélos"]


def test_folded_words_spell_numbers_amounts_and_hours() -> None:
    assert words("Bonjour Élodie, 300 vélos à 6h30", "fr", fold=True) == [
        "bonjour", "elodie", "trois", "cents", "velos", "a", "six", "heures", "trente"]
    assert words("This coffee cost $4 .50.", "en", fold=True) == [
        "this", "coffee", "cost", "four", "dollars", "and", "fifty", "cents"]
    assert words("Cuesta 3,50 €", "es", fold=True) == ["cuesta", "tres", "euros", "con", "cincuenta"]


def test_wer_counts_substitutions_deletions_and_insertions_over_the_reference() -> None:
    assert wer(["a", "b", "c", "d"], ["a", "x", "c", "d"]) == 0.25
    assert wer(["a", "b", "c", "d"], ["a", "b"]) == 0.5
    assert wer(["a", "b"], ["a", "b", "c", "d"]) == 1.0
    assert wer([], []) == 0.0


def test_text_wer_folds_what_whisper_writes_differently_only_when_asked() -> None:
    scripted, heard = "Hey Marcus, we leave in twenty minutes.", "Hey Marcus, we leave in 20 minutes."
    assert text_wer(scripted, heard, "en") == 0.0
    assert text_wer(scripted, heard, "en", fold=False) == pytest.approx(1 / 7)
