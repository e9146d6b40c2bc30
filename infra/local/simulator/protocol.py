"""Wire-level pieces shared by the simulator's endpoints: Google error bodies and prompt parsing."""
from __future__ import annotations

import re
from dataclasses import dataclass

LANGUAGE_NAMES = {"en": "English", "fr": "French", "es": "Spanish"}
_LANGUAGE_BY_NAME = {name.lower(): code for code, name in LANGUAGE_NAMES.items()}
# E1 (C-ERR-SHAPE): the HTTP status of each canonical error status the simulator answers with.
_STATUS_BY_CODE = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
                   409: "ABORTED", 429: "RESOURCE_EXHAUSTED", 499: "CANCELLED", 500: "INTERNAL",
                   501: "UNIMPLEMENTED", 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}
_FIELD_LINE = re.compile(r"^\s*([A-Za-z][A-Za-z ]{0,30}?)\s*:\s*(.*?)\s*$")
_BLOCK_OF = re.compile(r"(\d+)\s*(?:of|/)\s*(\d+)")
_QUOTES = "\"'“”«»„‘’"


class ApiError(Exception):
    """An error answered with Google's JSON error body: {"error": {code, message, status}}."""

    def __init__(self, code: int, message: str, status: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status or _STATUS_BY_CODE.get(code, "UNKNOWN")

    def body(self) -> dict[str, dict[str, object]]:
        """The JSON body Google APIs answer with."""
        return {"error": {"code": self.code, "message": self.message, "status": self.status}}


def invalid(message: str) -> ApiError:
    """A 400 INVALID_ARGUMENT error."""
    return ApiError(400, message, "INVALID_ARGUMENT")


def prompt_fields(text: str) -> dict[str, str]:
    """`Key: value` lines of a prompt, keyed by lower-case key; the first occurrence wins."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        match = _FIELD_LINE.match(line)
        if match:
            fields.setdefault(match.group(1).strip().lower(), match.group(2))
    return fields


def language_code(value: str | None, default: str = "en") -> str:
    """`English (en)`, `French`, `es`… → the two-letter code the pipeline uses."""
    if not value:
        return default
    inside = re.search(r"\(([a-zA-Z]{2})\)", value)
    if inside and inside.group(1).lower() in LANGUAGE_NAMES:
        return inside.group(1).lower()
    word = value.strip().split()[0].lower() if value.strip() else ""
    if word in LANGUAGE_NAMES:
        return word
    return _LANGUAGE_BY_NAME.get(word, default)


def block_position(value: str | None) -> tuple[int | None, int | None]:
    """`3 of 9` → (3, 9); anything else → (None, None)."""
    match = _BLOCK_OF.search(value or "")
    if not match:
        return None, None
    return int(match.group(1)), int(match.group(2))


def unquote(value: str | None) -> str:
    """The dialogue without its surrounding quotes."""
    text = (value or "").strip()
    while len(text) >= 2 and text[0] in _QUOTES and text[-1] in _QUOTES:
        text = text[1:-1].strip()
    return text


@dataclass(frozen=True)
class VeoPrompt:
    """The fields of one block's Veo prompt that the simulator acts on."""

    style: str
    scene: str
    language: str
    dialogue: str
    sound: str
    block: int | None
    blocks_total: int | None

    @classmethod
    def parse(cls, prompt: str) -> VeoPrompt:
        """Read the contract lines; a prompt without them is used whole as the scene."""
        fields = prompt_fields(prompt)
        block, total = block_position(fields.get("block"))
        return cls(
            style=fields.get("style", "").split("—")[0].split(" - ")[0].strip(),
            scene=fields.get("scene") or " ".join(prompt.split())[:300],
            language=language_code(fields.get("language")),
            dialogue=unquote(fields.get("dialogue")),
            sound=fields.get("sound", ""),
            block=block,
            blocks_total=total,
        )

    def caption(self) -> str:
        """The text drawn on the simulated clip."""
        position = f"Block {self.block}/{self.blocks_total}" if self.block else "Veo (simulated)"
        style = f" · {self.style}" if self.style else ""
        return f"{position}{style}\n{self.scene}"
