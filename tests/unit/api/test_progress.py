"""Progress events of the live stream: statuses from the history, block progress, failures, resuming."""
from __future__ import annotations

import datetime as dt
import json

from shared.api import progress


def _doc(history: list[str], blocks: int = 0, total: int = 9, **extra) -> dict:
    at = dt.datetime(2026, 11, 23, tzinfo=dt.UTC)
    return {"video_id": "v1", "status": history[-1], "completed_blocks": blocks, "total_blocks": total,
            "history": [{"status": s, "at": at} for s in history], **extra}


def _events(chunks: list[str]) -> list[tuple[str, dict]]:
    out = []
    for chunk in chunks:
        lines = dict(line.split(": ", 1) for line in chunk.strip().splitlines())
        out.append((lines["event"], json.loads(lines["data"])))
    return out


def test_progress_events_follow_history_even_when_snapshots_coalesce():
    cursor = progress._Cursor(-1)
    first = _events(cursor.events(_doc(["script_ready"])))
    assert [(e, d["status"]) for e, d in first] == [("status", "script_ready")]
    both = _events(cursor.events(_doc(["script_ready", "video_generating", "video_generated"], blocks=9)))
    assert [d["status"] for _, d in both] == ["video_generating", "video_generated"]
    assert both[-1][1]["percent"] == 75 and [e for e, _ in both] == ["status", "status"]


def test_block_progress_is_an_event_with_a_percentage():
    cursor = progress._Cursor(-1)
    cursor.events(_doc(["script_ready", "video_generating"], blocks=0))
    [(event, data)] = _events(cursor.events(_doc(["script_ready", "video_generating"], blocks=3)))
    assert event == "progress" and (data["blocks_done"], data["blocks_total"]) == (3, 9)
    assert 5 < data["percent"] < 75


def test_a_failed_job_reports_where_it_stopped_and_why():
    doc = _doc(["script_ready", "video_generating", "failed"], blocks=4,
               error={"code": "veo_rejected", "message": "no", "step": "video"})
    summary = progress.progress_of(doc)
    assert summary["error"]["code"] == "veo_rejected"
    assert summary["percent"] == progress.percent("video_generating", 4, 9)


def test_resuming_after_a_last_event_id_skips_what_was_sent():
    cursor = progress._Cursor(1)
    events = _events(cursor.events(_doc(["script_ready", "video_generating", "video_generated"])))
    assert [d["status"] for _, d in events] == ["video_generated"]
