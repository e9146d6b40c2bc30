"""agent-qa's step: check the delivered file, store the report, and complete (or hold) the job."""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from shared import log, status
from shared.clients import Clients
from shared.errors import InvalidInputError
from shared.messages import QaRequest
from shared.qa import QaSpec, check_file
from shared.status import Status
from shared.storage import download_file, gs_uri, upload_json


def spec_for(clients: Clients) -> QaSpec:
    settings = clients.settings
    return QaSpec(min_seconds=settings.min_video_seconds, max_seconds=settings.max_video_seconds)


def check_delivery(clients: Clients, message: QaRequest) -> str:
    """Check a job once it is assembled; `completed` only after a passing report is stored."""
    video_id = message.video_id
    doc = status.read(clients.db, video_id)
    if doc is None:
        raise InvalidInputError(f"no job {video_id}", code="unknown_job")
    current = Status(doc["status"])
    if current == Status.QA_PASSED:  # an earlier invocation stopped between the two transitions
        return _complete(clients, video_id)
    if current != Status.ASSEMBLED:
        log.info("duplicate message: job not waiting for QA", current=current.value)
        return "duplicate"
    report = _run_checks(clients, doc)
    report_uri = upload_json(clients.storage, gs_uri(clients.settings.bucket, f"qa_reports/{video_id}.json"),
                             report)
    summary = {"passed": report["passed"], "blocking_failures": report["blocking_failures"],
               "warnings": report["warnings"]}
    fields: dict[str, Any] = {"qa": summary, "qa_report_url": report_uri}
    try:
        if not report["passed"]:
            reason = "QA failed: " + ", ".join(report["blocking_failures"])
            status.transition(clients.db, video_id, Status.QA_FAILED,
                              {**fields, "error": {"code": "qa_failed", "message": reason, "step": "qa"}})
            return "qa_failed"
        status.transition(clients.db, video_id, Status.QA_PASSED, fields)
    except status.IllegalTransition:
        return "duplicate"
    return _complete(clients, video_id)


def _run_checks(clients: Clients, doc: dict[str, Any]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="qa-") as tmp:
        local = download_file(clients.storage, doc["final_video_url"], Path(tmp) / "final.mp4")
        report = check_file(local, spec_for(clients))
    return {"video_id": doc["video_id"], "file": doc["final_video_url"], **report}


def _complete(clients: Clients, video_id: str) -> str:
    try:
        status.transition(clients.db, video_id, Status.COMPLETED, {"next_attempt_at": None})
    except status.IllegalTransition:
        return "duplicate"
    return "completed"
