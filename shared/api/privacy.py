"""What is sent to Gemini carries none of the user's personal fields (their email, their name) and no
contact details typed into a theme."""
from __future__ import annotations

import re

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
PHONE = re.compile(r"(?<!\w)\+?\d[\d ().-]{7,}\d(?!\w)")
REDACTED = "[redacted]"


def strip_personal(text: str, personal_fields: tuple[str, ...] = ()) -> str:
    """`text` with e-mail addresses, phone numbers and the given personal values replaced."""
    for value in sorted((v for v in personal_fields if v and len(v) >= 3), key=len, reverse=True):
        text = re.sub(re.escape(value), REDACTED, text, flags=re.IGNORECASE)
    text = EMAIL.sub(REDACTED, text)
    return PHONE.sub(REDACTED, text)
