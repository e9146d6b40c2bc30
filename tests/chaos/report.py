"""Outcomes of the chaos suites: each suite records one row; the session prints a table.

A suite's size comes from `scale(sample, full)`: the default `make test` runs the sample, and
`make chaos` (CHAOS_FULL=1) the full size. Rows are appended as JSON lines to CHAOS_RESULTS (by
default test-artifacts/chaos/results.jsonl), so `make chaos` can print the table and its last line
after pytest has finished.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
COLUMNS = ("suite", "trials", "jobs", "completed", "failed_with_reason", "lost", "duplicate_veo_calls", "http_5xx")


@dataclass
class SuiteResult:
    """One suite's counts. `jobs` counts pipeline jobs; `trials` what the suite repeats (kills, requests...)."""

    suite: str
    trials: int = 0
    jobs: int = 0
    completed: int = 0
    failed_with_reason: int = 0
    lost: int = 0
    duplicate_veo_calls: int = 0
    http_5xx: int = 0
    extra: dict[str, Any] = field(default_factory=dict)  # throughput, p50/p95 per step, ...


def full_run() -> bool:
    """True under `make chaos`."""
    return os.environ.get("CHAOS_FULL") == "1"


def scale(sample: int, full: int) -> int:
    """The size of a suite in this run."""
    return full if full_run() else sample


def results_path() -> Path:
    return Path(os.environ.get("CHAOS_RESULTS") or ROOT / "test-artifacts" / "chaos" / "results.jsonl")


def record(result: SuiteResult) -> None:
    """Append one suite's row to this run's results."""
    path = results_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as out:
        out.write(json.dumps(asdict(result), default=str) + "\n")


def load(path: Path | None = None) -> list[SuiteResult]:
    path = path or results_path()
    if not path.exists():
        return []
    return [SuiteResult(**json.loads(line)) for line in path.read_text(encoding="utf-8").splitlines() if line]


def table(results: list[SuiteResult]) -> str:
    """A fixed-width table, one row per suite plus the totals."""
    rows = [[str(getattr(r, c)) for c in COLUMNS] for r in results]
    rows.append(["total", *(str(sum(getattr(r, c) for r in results)) for c in COLUMNS[1:])])
    widths = [max(len(c), *(len(row[i]) for row in rows)) for i, c in enumerate(COLUMNS)]
    line = lambda cells: "  ".join(cell.ljust(w) for cell, w in zip(cells, widths))  # noqa: E731
    return "\n".join([line(COLUMNS), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def final_line(results: list[SuiteResult]) -> str:
    """The last line `make chaos` prints."""
    total = {c: sum(getattr(r, c) for r in results) for c in ("jobs", "lost", "duplicate_veo_calls", "http_5xx")}
    return (f"jobs={total['jobs']} lost={total['lost']} "
            f"duplicate_veo_calls={total['duplicate_veo_calls']} http_5xx={total['http_5xx']}")
