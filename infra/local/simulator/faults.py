"""Fault injection for tests: rules that make matching calls fail in the ways the real API does.

Kinds: `429`, `500`, `400` (answered at once, nothing recorded), `safety` and `audio_block` (the operation is
done with `raiMediaFilteredCount`, no video, not charged; `audio_block` is Veo 3.1 blocking a clip for its audio,
which a plain retry gets past), `malformed` (done without the video), `slow` (the operation completes
`delay_seconds` later) and `stall` (the HTTP request itself is held `delay_seconds`, then processed as usual,
later rules included, so a client with a shorter timeout gives up while the call still takes effect, as on a
real server: C-SDK-TIMEOUT-MS).

Speech deviations (issue 14): `speech_paraphrase`, `speech_dropped`, `speech_partial` (the first half of the
line), `speech_other_language` (a line in another language: Spanish in an English job, English otherwise) and
`speech_extra` (the line, then an unscripted one) do not fail the call: the clip is rendered and charged as
usual, but its speech is not the prompt's quoted dialogue, as when Veo (or prompt enhancement) rewrites it. A
rule may name `"block"` (the pipeline's 0-based block index) to deviate only that block; speech rules are
looked up apart from the other kinds, so one call can have both. `deviate` gives the words actually spoken.

A rule applies to Veo `predictLongRunning` calls unless it names `"method": "generateContent"` (then only the
kinds 429, 500, 400 and stall make sense, and its `match` is searched in the request's text).
"""
from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any

from infra.local.simulator.models import VERTEX
from infra.local.simulator.protocol import ApiError, invalid

SPEECH_KINDS = ("speech_paraphrase", "speech_dropped", "speech_partial", "speech_other_language", "speech_extra")
KINDS = ("429", "500", "400", "safety", "slow", "malformed", "audio_block", "stall", *SPEECH_KINDS)
REJECTING_KINDS = ("429", "500", "400")  # answered at once, nothing billed
PREDICT, GENERATE = "predictLongRunning", "generateContent"
KINDS_BY_METHOD = {PREDICT: KINDS, GENERATE: (*REJECTING_KINDS, "stall")}
DEFAULT_SLOW_SECONDS = 5.0
# L4 (secondary, wavespeed 2026-11-22): the Gemini API's 429 text. Vertex AI's is not in the contract; the
# classic Google Cloud text is kept for it.
QUOTA_TEXT = "You exceeded your current quota, please check your plan and billing details."
VERTEX_QUOTA_TEXT = "Resource has been exhausted (e.g. check quota)."


def quota_exhausted(mode: str = "") -> ApiError:
    """429 RESOURCE_EXHAUSTED with the protocol's text (C-RL-429)."""
    return ApiError(429, VERTEX_QUOTA_TEXT if mode == VERTEX else QUOTA_TEXT, "RESOURCE_EXHAUSTED")


def rejection(kind: str, mode: str = "") -> ApiError:
    """The error a rejecting fault answers with."""
    if kind == "400":
        return invalid("The prompt could not be processed (simulated INVALID_ARGUMENT).")
    if kind == "429":
        return quota_exhausted(mode)
    return ApiError(500, "Internal error encountered.", "INTERNAL")


@dataclass
class FaultRule:
    """Fire `kind` on the next `times` calls of `method` whose prompt contains `match` ('' matches all)
    and, when `model` is set, that ask for that model (and, when `block` is set, render that 0-based block)."""

    kind: str
    match: str = ""
    times: int = 1
    delay_seconds: float = DEFAULT_SLOW_SECONDS
    model: str = ""
    method: str = PREDICT
    block: int | None = None

    @classmethod
    def from_json(cls, raw: Any) -> FaultRule:
        """A rule from its JSON form; 400 when it is malformed."""
        if not isinstance(raw, dict):
            raise invalid("each fault rule must be an object")
        kind = str(raw.get("kind", ""))
        if kind not in KINDS:
            raise invalid(f"fault kind must be one of {list(KINDS)}, not {kind!r}")
        try:
            times = int(raw.get("times", 1))
            delay = float(raw.get("delay_seconds", DEFAULT_SLOW_SECONDS))
            block = None if raw.get("block") is None else int(raw["block"])
        except (TypeError, ValueError):
            raise invalid("times and block must be integers and delay_seconds a number") from None
        method = str(raw.get("method", PREDICT) or PREDICT)
        if kind not in KINDS_BY_METHOD.get(method, ()):
            raise invalid(f"fault kind {kind!r} cannot apply to method {method!r} "
                          f"(methods and kinds: {KINDS_BY_METHOD})")
        return cls(kind=kind, match=str(raw.get("match", "") or ""), times=max(times, 0), delay_seconds=delay,
                   model=str(raw.get("model", "") or ""), method=method, block=block)


class FaultBook:
    """The active rules; thread-safe. Each firing uses up one of a rule's `times`."""

    def __init__(self) -> None:
        self._rules: list[FaultRule] = []
        self._lock = threading.Lock()

    def add(self, rules: list[FaultRule]) -> None:
        """Append rules (checked in the order they were added)."""
        with self._lock:
            self._rules.extend(rules)

    def clear(self) -> None:
        """Remove every rule."""
        with self._lock:
            self._rules.clear()

    def listing(self) -> list[dict[str, Any]]:
        """The rules with their remaining counts."""
        with self._lock:
            return [asdict(rule) for rule in self._rules]

    def take(self, prompt: str, model: str = "", method: str = PREDICT, *, speech: bool = False,
             block: int | None = None) -> FaultRule | None:
        """The first live rule of `method` matching `prompt` (and `model`, and `block`), with one use consumed;
        None if none fires. `speech` looks up the speech deviations only, else every other kind."""
        with self._lock:
            for rule in self._rules:
                if (rule.times > 0 and rule.method == method and rule.match in prompt
                        and (rule.kind in SPEECH_KINDS) == speech
                        and (rule.block is None or rule.block == block)
                        and (not rule.model or rule.model == model)):
                    rule.times -= 1
                    return replace(rule, times=1)
        return None


class RequestQuota:
    """An optional per-project quota on Veo generate calls: at most `limit` in any `window_seconds`;
    beyond it 429 RESOURCE_EXHAUSTED, counted (nothing billed). Off until a test sets it."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.limit = 0  # 0: no quota
        self.window_seconds = 60.0
        self.accepted = 0
        self.rejected = 0
        self._times: deque[float] = deque()
        self._lock = threading.Lock()

    def configure(self, raw: Any) -> None:
        """Set `{"requests_per_window": n, "window_seconds": s}` and reset the counts; 400 if malformed."""
        if not isinstance(raw, dict):
            raise invalid("POST {\"requests_per_window\": n, \"window_seconds\": s}")
        try:
            limit, window = int(raw.get("requests_per_window", 0)), float(raw.get("window_seconds", 60.0))
        except (TypeError, ValueError):
            raise invalid("requests_per_window must be an integer and window_seconds a number") from None
        with self._lock:
            self.limit, self.window_seconds = max(limit, 0), max(window, 0.001)
            self.accepted = self.rejected = 0
            self._times.clear()

    def admit(self) -> bool:
        """Count one generate call; False when it is over the quota."""
        now = self._clock()
        with self._lock:
            while self._times and self._times[0] <= now - self.window_seconds:
                self._times.popleft()
            if self.limit and len(self._times) >= self.limit:
                self.rejected += 1
                return False
            self._times.append(now)
            self.accepted += 1
            return True

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {"requests_per_window": self.limit, "window_seconds": self.window_seconds,
                    "accepted": self.accepted, "rejected": self.rejected}


# --- speech deviations ---------------------------------------------------------------------------------

# Lines Veo says instead of (or after) the scripted one; digit-free, so espeak-ng says them clearly.
PARAPHRASES = {
    "en": ("Honestly, nobody ever told me what to say right here.", "Well, let me put all of that another way."),
    "fr": ("Franchement, personne ne m'a dit quoi raconter ici.", "Bon, disons tout cela autrement."),
    "es": ("Francamente, nadie me dijo qué contar aquí.", "Bueno, digamos todo eso de otra manera."),
}
EXTRA_LINES = {"en": "And then a seagull stole my sandwich.", "fr": "Et puis une mouette a volé mon sandwich.",
               "es": "Y luego una gaviota robó mi bocadillo."}
OTHER_LANGUAGE_LINES = {"es": "Buenos días a todos, el barco sale ahora.",
                        "en": "Today the sea is calm and the sky is very blue."}


def deviate(kind: str, dialogue: str, language: str, seed: int = 0) -> tuple[str, str]:
    """What a deviating Veo says instead of `dialogue`, and in which language (`speech_*` kinds)."""
    words = dialogue.split()
    if kind == "speech_extra":
        return f"{dialogue} {EXTRA_LINES.get(language, EXTRA_LINES['en'])}".strip(), language
    if kind == "speech_dropped" or not words:
        return "", language
    if kind == "speech_paraphrase":
        lines = PARAPHRASES.get(language, PARAPHRASES["en"])
        return lines[seed % len(lines)], language
    if kind == "speech_partial":
        return " ".join(words[:(len(words) + 1) // 2]), language
    if kind == "speech_other_language":
        other = "es" if language == "en" else "en"
        return OTHER_LANGUAGE_LINES[other], other
    return dialogue, language
