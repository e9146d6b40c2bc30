"""`make chaos`: the full chaos suites, then their table and the one-line verdict.

    python -m tests.chaos.run [pytest arguments...]

Runs pytest on tests/chaos with CHAOS_FULL=1 and a fresh results file, prints the summary table and,
as the very last line, `jobs=<n> lost=<n> duplicate_veo_calls=<n> http_5xx=<n>`. The exit code is
non-zero when pytest failed or any job was lost, any Veo block billed twice or any request answered 5xx.
"""
from __future__ import annotations

import os
import subprocess
import sys

from tests.chaos import report


def run_suites(pytest_args: list[str]) -> int:
    """pytest's exit code for the full suites, results written to a fresh file."""
    path = report.results_path()
    path.unlink(missing_ok=True)
    env = {**os.environ, "CHAOS_FULL": "1", "CHAOS_RESULTS": str(path)}
    command = [sys.executable, "-m", "pytest", "tests/chaos", *pytest_args]
    return subprocess.run(command, cwd=report.ROOT, env=env, check=False).returncode


def summary(rows: list[report.SuiteResult]) -> str:
    """The table, each suite's extra figures, and the final line last."""
    extras = [f"{r.suite}: " + " ".join(f"{k}={v}" for k, v in r.extra.items()) for r in rows if r.extra]
    return "\n".join([report.table(rows), *extras, report.final_line(rows)])


def main(argv: list[str] | None = None) -> int:
    code = run_suites(sys.argv[1:] if argv is None else argv)
    rows = report.load()
    print(summary(rows))
    bad = any(getattr(r, c) for r in rows for c in ("lost", "duplicate_veo_calls", "http_5xx"))
    return 1 if code != 0 or bad or not rows else 0


if __name__ == "__main__":
    sys.exit(main())
