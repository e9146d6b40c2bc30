"""The studio command's progress display: bar, line, elapsed time, TTY redraw vs one line per change."""
from __future__ import annotations

import datetime as dt
import io

from infra.studio.progress import ProgressPrinter, bar, format_elapsed, progress_line, seconds_since

GENERATING = {"status": "video_generating", "stage": "generating video", "blocks_done": 3, "blocks_total": 9,
              "percent": 28}


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_bar_fills_in_proportion_and_clamps():
    assert bar(0, 10) == "[----------]"
    assert bar(50, 10) == "[#####-----]"
    assert bar(100, 10) == "[##########]"
    assert bar(130, 10) == bar(100, 10) and bar(-5, 10) == bar(0, 10)


def test_elapsed_is_minutes_and_seconds_then_hours():
    assert format_elapsed(0) == "00:00"
    assert format_elapsed(133.9) == "02:13"
    assert format_elapsed(3723) == "1:02:03"


def test_line_names_stage_blocks_elapsed_and_cost():
    line = progress_line(GENERATING, 75, 1.4567)
    assert line.startswith("[#######-----------------]  28%  generating video")
    assert "blocks 3/9" in line and "01:15" in line and line.endswith("est. $1.46")


def test_line_without_blocks_or_cost_leaves_them_out():
    line = progress_line({"status": "script_ready", "stage": "script written", "percent": 5}, 2, None)
    assert "blocks" not in line and "est." not in line and "script written" in line


def test_seconds_since_reads_iso_times_with_or_without_zone():
    now = dt.datetime(2026, 11, 28, 10, 0, 30, tzinfo=dt.UTC)
    assert seconds_since("2026-11-28T10:00:00+00:00", now) == 30
    assert seconds_since("2026-11-28T10:00:00", now) == 30
    assert seconds_since(None, now) == 0 and seconds_since("yesterday", now) == 0


def test_pipe_gets_one_line_per_change_only():
    out = io.StringIO()
    printer = ProgressPrinter(out, None, 1.0, tty=False)
    for data in (GENERATING, GENERATING, {**GENERATING, "blocks_done": 4, "percent": 36}):
        printer.show(data)
    printer.close()
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 and "blocks 3/9" in lines[0] and "blocks 4/9" in lines[1]
    assert "\r" not in out.getvalue()


def test_terminal_redraws_one_line_and_ends_it():
    out = _Terminal()
    printer = ProgressPrinter(out, None, None, tty=True)
    printer.show(GENERATING)
    printer.show({**GENERATING, "percent": 100, "stage": "done"})
    printer.close()
    text = out.getvalue()
    assert text.count("\r\x1b[2K") == 2 and text.endswith("\n") and text.count("\n") == 1


def test_a_replayed_status_shows_when_it_happened():
    out = io.StringIO()
    printer = ProgressPrinter(out, "2026-11-28T10:00:00+00:00", None, tty=False)
    printer.show({**GENERATING, "at": "2026-11-28T10:01:05+00:00"})
    assert "01:05" in out.getvalue()
