"""The typed job document: round trip, the named fields, and require_job on a missing job."""
import datetime as dt

import pytest

from shared.core.errors import InvalidInputError
from shared.core.job import Job, require_job
from shared.core.status import Status

AT = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
DOC = {"video_id": "v1", "status": "video_generating", "owner": "alice", "preset": "brand_campaign",
       "script_uri": "gs://b/scripts/v1.json", "total_blocks": 9, "completed_blocks": 2, "planned_seconds": 64,
       "plan": {"mode": "gemini_api", "segments": []}, "blocks": {"0": {"state": "done"}}, "usage": {"veo_seconds": 8},
       "history": [{"status": "script_ready", "at": AT}], "error": None, "created_at": AT, "updated_at": AT,
       "favourite": False, "views": 3, "theme": "a lighthouse"}


def test_a_document_round_trips_and_keeps_the_fields_it_does_not_name():
    job = Job.from_doc(DOC)
    assert job.to_doc() == DOC
    assert job.status is Status.VIDEO_GENERATING and job.total_blocks == 9 and job.blocks["0"]["state"] == "done"
    assert job.extra == {"favourite": False, "views": 3, "theme": "a lighthouse"}


def test_a_minimal_document_round_trips_without_invented_fields():
    doc = {"video_id": "v2", "status": "script_ready"}
    assert Job.from_doc(doc).to_doc() == doc
    assert not Job.from_doc(doc).is_terminal and Job.from_doc({**doc, "status": "failed"}).is_terminal


def test_an_unknown_status_is_refused():
    with pytest.raises(ValueError):
        Job.from_doc({"video_id": "v3", "status": "dancing"})


class _NoDocuments:
    """A Firestore stand-in with no documents: require_job only reads."""

    def collection(self, _name):
        return self

    def document(self, _id):
        return self

    def get(self):
        return type("Snap", (), {"exists": False, "to_dict": lambda self: None})()


def test_require_job_fails_unknown_job_as_a_permanent_error():
    with pytest.raises(InvalidInputError) as err:
        require_job(_NoDocuments(), "nope")
    assert err.value.code == "unknown_job" and "nope" in err.value.message
