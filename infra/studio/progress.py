"""Live progress in a terminal: a bar redrawn in place on a TTY, one line per change otherwise."""
from __future__ import annotations

import datetime as dt
from typing import Any, TextIO

BAR_WIDTH = 24


def format_elapsed(seconds: float) -> str:
    """`02:13`, or `1:02:13` past an hour."""
    minutes, secs = divmod(max(int(seconds), 0), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def bar(percent: int, width: int = BAR_WIDTH) -> str:
    """`[#########---------------]` for a percentage (clamped to 0-100)."""
    filled = round(width * min(max(percent, 0), 100) / 100)
    return "[" + "#" * filled + "-" * (width - filled) + "]"


def progress_line(data: dict[str, Any], elapsed: float, cost_usd: float | None) -> str:
    """One line of a progress event: bar, percent, stage, blocks, elapsed time and estimated cost."""
    percent = int(data.get("percent") or 0)
    parts = [f"{bar(percent)} {percent:3d}%", f"{data.get('stage') or data.get('status') or '?':<18}"]
    if data.get("blocks_total"):
        parts.append(f"blocks {data.get('blocks_done') or 0}/{data['blocks_total']}")
    parts.append(format_elapsed(elapsed))
    if cost_usd is not None:
        parts.append(f"est. ${cost_usd:.2f}")
    return "  ".join(parts)


def _parse_time(iso_time: Any) -> dt.datetime | None:
    """An ISO timestamp as an aware datetime (UTC when it names no zone); None when absent or invalid."""
    if not isinstance(iso_time, str):
        return None
    try:
        moment = dt.datetime.fromisoformat(iso_time)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def seconds_since(iso_time: str | None, now: dt.datetime | None = None) -> float:
    """Seconds from an ISO timestamp (the job's creation) until `now` (default: now); 0 when unknown."""
    start = _parse_time(iso_time)
    if start is None:
        return 0.0
    return ((now or dt.datetime.now(dt.UTC)) - start).total_seconds()


class ProgressPrinter:
    """Shows progress events: redraws one line on a TTY, else prints a line when something changes."""

    def __init__(self, out: TextIO, created_at: str | None, cost_usd: float | None, tty: bool) -> None:
        self.out, self.created_at, self.cost_usd, self.tty = out, created_at, cost_usd, tty
        self._last: tuple[Any, ...] | None = None

    def show(self, data: dict[str, Any]) -> None:
        key = (data.get("status"), data.get("blocks_done"), data.get("percent"))
        if key == self._last and not self.tty:
            return
        self._last = key
        # A status event carries when that status was entered: a replayed history shows its own times.
        at = _parse_time(data.get("at"))
        line = progress_line(data, seconds_since(self.created_at, at), self.cost_usd)
        if self.tty:
            self.out.write("\r\x1b[2K" + line)
        else:
            self.out.write(line + "\n")
        self.out.flush()

    def close(self) -> None:
        """End the redrawn line (a TTY only)."""
        if self.tty and self._last is not None:
            self.out.write("\n")
            self.out.flush()
