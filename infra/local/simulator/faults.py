"""Fault injection for tests: rules that make matching Veo calls fail in the ways the real API does."""
from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any

from infra.local.simulator.protocol import invalid

KINDS = ("429", "500", "400", "safety", "slow", "malformed")
REJECTING_KINDS = ("429", "500", "400")  # answered at once, nothing billed
DEFAULT_SLOW_SECONDS = 5.0


@dataclass
class FaultRule:
    """Fire `kind` on the next `times` Veo calls whose prompt contains `match` ('' matches all)
    and, when `model` is set, that ask for that model."""

    kind: str
    match: str = ""
    times: int = 1
    delay_seconds: float = DEFAULT_SLOW_SECONDS
    model: str = ""

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
        except (TypeError, ValueError):
            raise invalid("times must be an integer and delay_seconds a number") from None
        return cls(kind=kind, match=str(raw.get("match", "") or ""), times=max(times, 0), delay_seconds=delay,
                   model=str(raw.get("model", "") or ""))


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

    def take(self, prompt: str, model: str = "") -> FaultRule | None:
        """The first live rule matching `prompt` (and `model`), with one use consumed; None if none fires."""
        with self._lock:
            for rule in self._rules:
                if rule.times > 0 and rule.match in prompt and (not rule.model or rule.model == model):
                    rule.times -= 1
                    return FaultRule(rule.kind, rule.match, 1, rule.delay_seconds, rule.model)
        return None


class RequestQuota:
    """An optional per-project quota on Veo generate calls: at most `limit` in any `window_seconds`;
    beyond it 429 RESOURCE_EXHAUSTED, counted (nothing billed). Off until a test sets it."""

    def __init__(self) -> None:
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
        now = time.monotonic()
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
