"""Pure parts of the product API: webhook signing and target checks, progress events, the script cache
key, personal-field stripping, review edits and the new statuses."""
from __future__ import annotations

import datetime as dt
import ipaddress
import json

import pytest

from shared.api import progress, script_cache, storyboard
from shared.core import status
from shared.ops import webhooks
from shared.core.errors import InvalidInputError
from shared.api.privacy import REDACTED, strip_personal
from shared.core.status import Status


def _resolver(address: str):
    return lambda host: [ipaddress.ip_address(address)]


@pytest.mark.parametrize("address, kind", [
    ("127.0.0.1", "loopback"), ("::1", "loopback"), ("10.1.2.3", "private"), ("192.168.0.9", "private"),
    ("169.254.169.254", "link_local"), ("fe80::1", "link_local"), ("::ffff:127.0.0.1", "loopback"),
    ("0.0.0.0", "reserved"), ("8.8.8.8", "public")])
def test_network_kinds(address, kind):
    assert webhooks.network_kind(ipaddress.ip_address(address)) == kind


def test_non_public_callbacks_are_refused_unless_allowed():
    with pytest.raises(InvalidInputError, match="loopback"):
        webhooks.check_target("http://localhost:9/x", (), _resolver("127.0.0.1"))
    with pytest.raises(InvalidInputError, match="link_local"):
        webhooks.check_target("http://metadata/x", ("loopback",), _resolver("169.254.169.254"))
    webhooks.check_target("http://localhost:9/x", ("loopback",), _resolver("127.0.0.1"))
    webhooks.check_target("https://hooks.example.com/x", (), _resolver("93.184.216.34"))
    for bad in ("ftp://example.com/x", "http://user:pw@example.com/x", "not a url"):
        with pytest.raises(InvalidInputError):
            webhooks.check_target(bad, (), _resolver("93.184.216.34"))


def test_signatures_verify_only_for_the_same_secret_and_body():
    body = json.dumps({"event": "video.completed"}).encode()
    header = webhooks.signature("s3cret", 1700000000, body)
    assert header.startswith("t=1700000000,v1=")
    assert webhooks.verify_signature("s3cret", header, body)
    assert not webhooks.verify_signature("other", header, body)
    assert not webhooks.verify_signature("s3cret", header, body + b" ")


def _doc(history: list[str], blocks: int = 0, total: int = 9, **extra) -> dict:
    at = dt.datetime(2026, 11, 23, tzinfo=dt.timezone.utc)
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
    assert summary["error"]["code"] == "veo_rejected" and summary["percent"] == progress.percent("video_generating", 4, 9)


def test_resuming_after_a_last_event_id_skips_what_was_sent():
    cursor = progress._Cursor(1)
    events = _events(cursor.events(_doc(["script_ready", "video_generating", "video_generated"])))
    assert [d["status"] for _, d in events] == ["video_generated"]


def test_cache_key_ignores_case_spacing_and_edge_punctuation_only():
    a = script_cache.key_fields("  A Lighthouse   keeper! ", "cinematic", "en", None, "brand_campaign", 9)
    b = script_cache.key_fields("a lighthouse keeper", "cinematic", "en", None, "brand_campaign", 9)
    assert script_cache.cache_key(a) == script_cache.cache_key(b)
    for change in ({"style": "anime"}, {"language": "fr"}, {"character_id": "c1"}, {"preset": "quick_social"},
                   {"blocks": 10}, {"theme": "a lighthouse keeper's dog"}):
        assert script_cache.cache_key({**b, **change}) != script_cache.cache_key(b)


def test_personal_fields_are_stripped_from_text_for_gemini():
    text = "Ada Lovelace's robot, mail ada@example.com or call +33 6 12 34 56 78"
    cleaned = strip_personal(text, ("ada@example.com", "Ada Lovelace"))
    assert "Ada" not in cleaned and "@" not in cleaned and "56 78" not in cleaned
    assert cleaned.count(REDACTED) == 3 and "robot" in cleaned


def test_review_edits_are_validated_again():
    script = {"language": "en", "blocks": [{"index": 0, "visual": "a harbour", "dialogue": "Hello there."},
                                           {"index": 1, "visual": "a boat", "dialogue": ""}]}
    edited = storyboard.apply_edits(script, {"blocks": [{"index": 1, "dialogue": "We sail at dawn."}]})
    assert edited["blocks"][1]["dialogue"] == "We sail at dawn." and edited["blocks"][0] == script["blocks"][0]
    for bad, code in [({"blocks": [{"index": 5, "visual": "x y z"}]}, "invalid_blocks"),
                      ({"blocks": [{"index": 0, "dialogue": " ".join(["word"] * 15)}]}, "invalid_blocks"),
                      ({"blocks": [{"index": 0, "visual": "ab"}]}, "invalid_blocks"),
                      ({"blocks": [{"index": 0, "dialogue": ""}]}, "invalid_blocks"),
                      ({"blocks": [{"index": 0, "speed": 2}]}, "unknown_field")]:
        with pytest.raises(InvalidInputError) as caught:
            storyboard.apply_edits(script, bad)
        assert caught.value.code == code, bad


def test_review_statuses_join_the_state_machine_without_changing_the_old_paths():
    assert status.can_transition(Status.AWAITING_APPROVAL, Status.SCRIPT_READY)
    assert status.can_transition(Status.AWAITING_APPROVAL, Status.CANCELLED)
    assert not status.can_transition(Status.SCRIPT_READY, Status.CANCELLED)
    assert not status.can_transition(Status.AWAITING_APPROVAL, Status.VIDEO_GENERATING)
    assert Status.CANCELLED in status.TERMINAL and Status.AWAITING_APPROVAL not in status.TERMINAL
    assert status.TRANSITIONS[Status.SCRIPT_READY] == frozenset({Status.VIDEO_GENERATING, Status.FAILED})
