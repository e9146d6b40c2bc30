"""The simulator's clock, its spend cap and its call/token counters (the Veo ledger itself is in veo.py).

- SimClock: wall time plus an offset tests move (`POST /_sim/clock {"advance_seconds": N}`); it drives file
  retention (C-RETENTION-2D), the spend window (C-RL-429) and the request quota. Operations still complete in
  real time: moving the clock does not finish a render.
- Accounts: what was charged and when (delivered Veo seconds, priced tokens), the optional spend cap
  (C-RL-429: `{"spend_usd_per_window": X, "window_seconds": W}`, off by default), how many API calls arrived
  and how many were refused, and the token counts per model (C-BILL-THINKING: thinking tokens billed as output).
"""
from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from infra.local.simulator.models import token_cost
from infra.local.simulator.protocol import invalid

DEFAULT_WINDOW_SECONDS = 60.0


class SimClock:
    """Wall-clock seconds plus a test-controlled offset; thread-safe."""

    def __init__(self) -> None:
        self._offset = 0.0
        self._lock = threading.Lock()

    def time(self) -> float:
        with self._lock:
            return time.time() + self._offset

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.time(), UTC)

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise invalid("advance_seconds must be >= 0: the simulator's clock never goes back.")
        with self._lock:
            self._offset += seconds

    def reset(self) -> None:
        with self._lock:
            self._offset = 0.0

    def state(self) -> dict[str, Any]:
        with self._lock:
            offset = self._offset
        return {"now": datetime.fromtimestamp(time.time() + offset, UTC).isoformat(timespec="milliseconds"),
                "offset_seconds": offset}

    def configure(self, raw: Any) -> None:
        """`{"advance_seconds": N}` moves the clock forward; `{"reset": true}` puts it back to wall time."""
        if not isinstance(raw, dict):
            raise invalid("POST {\"advance_seconds\": N} or {\"reset\": true}")
        if raw.get("reset"):
            self.reset()
        try:
            self.advance(float(raw.get("advance_seconds", 0)))
        except (TypeError, ValueError):
            raise invalid("advance_seconds must be a number") from None


class Accounts:
    """Charges over time (for the spend cap), API call counts, refusals and token usage; thread-safe."""

    def __init__(self, clock: SimClock) -> None:
        self.clock = clock
        self.spend_cap_usd = 0.0  # 0: no cap
        self.window_seconds = DEFAULT_WINDOW_SECONDS
        self.cap_rejected = 0
        self._charges: list[tuple[float, float]] = []  # (clock time, USD)
        self._calls: Counter[str] = Counter()
        self._refused: Counter[str] = Counter()
        self._tokens: dict[str, Counter[str]] = {}
        self._lock = threading.Lock()

    # -- spend cap (C-RL-429) ---------------------------------------------------------------------
    def configure_limits(self, raw: Any) -> None:
        """Set `{"spend_usd_per_window": X, "window_seconds": W}` (X = 0 turns the cap off); resets the count
        of refusals, not the charges."""
        if not isinstance(raw, dict):
            raise invalid("POST {\"spend_usd_per_window\": X, \"window_seconds\": W}")
        try:
            cap = float(raw.get("spend_usd_per_window", 0))
            window = float(raw.get("window_seconds", DEFAULT_WINDOW_SECONDS))
        except (TypeError, ValueError):
            raise invalid("spend_usd_per_window and window_seconds must be numbers") from None
        with self._lock:
            self.spend_cap_usd, self.window_seconds = max(cap, 0.0), max(window, 0.001)
            self.cap_rejected = 0

    def over_cap(self) -> bool:
        """True (and counted) when the spend of the current window has reached the cap."""
        now = self.clock.time()
        with self._lock:
            if not self.spend_cap_usd or self._spend_since(now - self.window_seconds) < self.spend_cap_usd:
                return False
            self.cap_rejected += 1
            return True

    def charge(self, usd: float) -> None:
        if usd > 0:
            now = self.clock.time()
            with self._lock:
                self._charges.append((now, usd))

    def _spend_since(self, start: float) -> float:
        return sum(usd for at, usd in self._charges if at > start)

    def limits(self) -> dict[str, Any]:
        now = self.clock.time()
        with self._lock:
            return {"spend_usd_per_window": self.spend_cap_usd, "window_seconds": self.window_seconds,
                    "spend_in_window_usd": round(self._spend_since(now - self.window_seconds), 6),
                    "rejected": self.cap_rejected}

    # -- counters ---------------------------------------------------------------------------------
    def count_call(self, method: str) -> None:
        with self._lock:
            self._calls[method] += 1

    def count_refusal(self, method: str, code: int) -> None:
        with self._lock:
            self._refused[f"{method} {code}"] += 1

    def record_tokens(self, model: str, usage: dict[str, Any]) -> float:
        """Count one generateContent response's usageMetadata for `model` (the answering model); its cost."""
        prompt = int(usage.get("promptTokenCount", 0))
        output = int(usage.get("candidatesTokenCount", 0)) + int(usage.get("thoughtsTokenCount", 0))
        cost = token_cost(model, prompt, output)
        with self._lock:
            tally = self._tokens.setdefault(model, Counter())
            tally.update({"calls": 1, "prompt": prompt, "candidates": int(usage.get("candidatesTokenCount", 0)),
                          "thoughts": int(usage.get("thoughtsTokenCount", 0)), "output_billed": output})
        self.charge(cost)
        return cost

    def summary(self) -> dict[str, Any]:
        with self._lock:
            tokens = {model: dict(tally) for model, tally in self._tokens.items()}
            return {"calls": dict(self._calls), "refused": dict(self._refused), "tokens": tokens,
                    "charged_usd": round(sum(usd for _, usd in self._charges), 6)}

    def clear(self) -> None:
        """Forget counts, tokens and charges (with the ledger); the cap setting stays."""
        with self._lock:
            self._charges.clear()
            self._calls.clear()
            self._refused.clear()
            self._tokens.clear()
            self.cap_rejected = 0
