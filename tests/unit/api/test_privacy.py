"""Personal fields are stripped from the text sent to Gemini."""
from __future__ import annotations

from shared.api.privacy import REDACTED, strip_personal


def test_personal_fields_are_stripped_from_text_for_gemini():
    text = "Ada Lovelace's robot, mail ada@example.com or call +33 6 12 34 56 78"
    cleaned = strip_personal(text, ("ada@example.com", "Ada Lovelace"))
    assert "Ada" not in cleaned and "@" not in cleaned and "56 78" not in cleaned
    assert cleaned.count(REDACTED) == 3 and "robot" in cleaned
