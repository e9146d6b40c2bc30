"""What a creator sees, on the real local cloud: optional music ("none") and the music catalogue by mood with
short previews, narrator voices with samples, My videos' cards (thumbnails signed in the list, delivered
duration sort, character filter), idempotent creates, and no orphan job when the start message cannot be sent."""
from __future__ import annotations

import dataclasses
import datetime as dt
import uuid

import pytest
import requests
from google.cloud.firestore_v1.base_query import FieldFilter

from shared.api import routes
from shared.api.auth import Identity
from shared.assembly.music import MOODS
from shared.core import layout, status
from shared.core.errors import TransientError
from shared.core.storage import gs_uri, upload_bytes
from shared.core.vocabulary import VOICES
from shared.ops.monitor import run_monitor
from tests.support import check_signed_url, ffprobe, make_job

pytestmark = [pytest.mark.timeout(300), pytest.mark.usefixtures("pull_mode")]


def _user(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _body(**extra) -> dict:
    return {"theme": f"A lantern maker {uuid.uuid4().hex[:6]} who lights a harbour", "preset": "quick_social",
            "review": True, **extra}


def _owned_by(clients, user: str) -> list:
    return clients.db.collection(layout.VIDEO_STATUS).where(filter=FieldFilter("owner", "==", user)).get()


def _videos_used(pipeline, user: str) -> int:
    return pipeline.api("GET", "/me", user).json()["quotas"]["day"]["videos"]["used"]


# --- music -------------------------------------------------------------------------------------------

def test_catalogue_covers_every_mood_with_licences_and_short_previews(pipeline, tmp_path):
    answer = pipeline.api("GET", "/music").json()
    tracks = answer["tracks"]
    assert 5 <= len(tracks) <= 10 and answer["no_music"] == "none"
    assert {t["mood"] for t in tracks} == set(MOODS) == {"lofi", "upbeat", "ambient", "epic", "calm"}
    for track in tracks:
        assert track["licence"] == "CC0-1.0" and "synthesised" in track["made"], track
        local = tmp_path / f"{track['id']}.m4a"
        fetched = requests.get(track["preview_url"], timeout=30)
        assert fetched.status_code == 200
        local.write_bytes(fetched.content)
        seconds = float(ffprobe(local)["format"]["duration"])
        assert 5 <= seconds <= 10 < track["duration"], (track["id"], seconds)  # a clip, not the whole track
        assert len(fetched.content) < 80_000


def test_no_music_is_a_valid_choice_and_an_unknown_track_is_not(pipeline):
    user = _user("quiet")
    made = pipeline.create_video(_body(music="none"), user_id=user)
    assert made.status_code == 202, made.text
    assert pipeline.api("GET", f"/videos/{made.json()['video_id']}", user).json()["music"] == "none"
    refused = pipeline.create_video(_body(music="silence-please"), user_id=user)
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "invalid_music"


# --- voices ------------------------------------------------------------------------------------------

def test_every_voice_has_a_sample_and_can_be_chosen(pipeline, tmp_path):
    voices = pipeline.api("GET", "/voices").json()["voices"]
    assert [v["id"] for v in voices] == list(VOICES)
    for voice in voices:
        local = tmp_path / f"{voice['id']}.m4a"
        local.write_bytes(requests.get(voice["sample_url"], timeout=30).content)
        probed = ffprobe(local)
        assert probed["streams"][0]["codec_type"] == "audio" and 2 < float(probed["format"]["duration"]) < 10
    user = _user("voiced")
    made = pipeline.create_video(_body(voice="male_senior_deep"), user_id=user).json()
    assert pipeline.api("GET", f"/videos/{made['video_id']}", user).json()["voice"] == "male_senior_deep"
    wrong = pipeline.create_video(_body(voice="robot"), user_id=user)
    assert wrong.status_code == 400 and wrong.json()["error"]["field"] == "voice"


# --- my videos ---------------------------------------------------------------------------------------

def _delivered(clients, owner: str, *, duration: float | None, planned: int, character_id: str | None = None,
               views: int = 0) -> tuple[str, bytes]:
    video_id = make_job(clients, 2, owner=owner, favourite=False, views=views, planned_seconds=planned,
                        duration=duration, character_id=character_id)
    thumb = uuid.uuid4().bytes * 8
    if duration is not None:
        uri = upload_bytes(clients.storage, gs_uri(clients.settings.bucket, f"thumbnails/{video_id}.jpg"), thumb,
                           "image/jpeg")
        status.doc_ref(clients.db, video_id).update({"thumbnail_url": uri, "status": "completed"})
    return video_id, thumb


def test_the_list_carries_signed_thumbnails_views_and_sorts_by_delivered_duration(pipeline, clients):
    user = _user("cards")
    # planned and delivered lengths disagree on purpose: the sort must follow the delivered one
    short, short_thumb = _delivered(clients, user, duration=31.2, planned=90, views=4)
    long, _ = _delivered(clients, user, duration=64.4, planned=30, character_id="c-ada")
    running, _ = _delivered(clients, user, duration=None, planned=60, character_id="c-ada")
    cards = {c["video_id"]: c for c in pipeline.api("GET", "/videos", user).json()["videos"]}
    assert cards[short]["views"] == 4 and cards[long]["duration"] == pytest.approx(64.4)
    url = cards[short]["thumbnail"]["url"]
    assert check_signed_url(url, clients.settings.signing_key_file) is None
    assert requests.get(url, timeout=30).content == short_thumb
    assert "thumbnail" not in cards[running]

    def order(**params) -> list[str]:
        return [v["video_id"] for v in pipeline.api("GET", "/videos", user, params=params).json()["videos"]]

    assert order(sort="duration") == [long, short, running]  # longest delivered first, not yet delivered last
    assert order(sort="duration", order="asc") == [running, short, long]
    assert set(order(character_id="c-ada")) == {long, running}


# --- idempotent creates ------------------------------------------------------------------------------

def test_a_retried_create_with_the_same_key_is_the_same_video(pipeline, clients):
    user, key = _user("retry"), f"key-{uuid.uuid4()}"
    body = _body(review=False)
    headers = {**pipeline.headers(user), "Idempotency-Key": key}
    first = pipeline.api("POST", "/videos", json=body, headers=headers)
    again = pipeline.api("POST", "/videos", json=dict(reversed(list(body.items()))), headers=headers)
    assert first.status_code == 202 and again.status_code == 200, again.text
    assert again.json()["video_id"] == first.json()["video_id"] and again.headers["Idempotent-Replayed"] == "true"
    assert _videos_used(pipeline, user) == 1
    assert [d.id for d in _owned_by(clients, user)] == [first.json()["video_id"]]
    other_body = pipeline.api("POST", "/videos", json={**body, "theme": "Something else entirely"}, headers=headers)
    assert other_body.status_code == 422 and other_body.json()["error"]["code"] == "idempotency_key_reused"
    other_user = _user("retry2")
    theirs = pipeline.api("POST", "/videos", json=body,
                          headers={**pipeline.headers(other_user), "Idempotency-Key": key})
    assert theirs.status_code == 202 and theirs.json()["video_id"] != first.json()["video_id"]
    bad = pipeline.api("POST", "/videos", json=body, headers={**pipeline.headers(user), "Idempotency-Key": "a b"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_idempotency_key"


def test_a_refused_create_frees_its_key(pipeline):
    user, key = _user("refused"), f"key-{uuid.uuid4()}"
    headers = {**pipeline.headers(user), "Idempotency-Key": key}
    assert pipeline.api("POST", "/videos", json={"theme": "x"}, headers=headers).status_code == 400
    assert pipeline.api("POST", "/videos", json=_body(), headers=headers).status_code == 202


def test_a_failed_publish_leaves_no_job_for_the_monitor_and_charges_nothing(pipeline, clients):
    user = _user("orphan")
    pipeline.key_for(user)
    broken = dataclasses.replace(clients, settings=dataclasses.replace(clients.settings,
                                                                       topic_prefix="no-such-topic-"))
    before = status.utcnow()
    with pytest.raises(TransientError, match="no-such-topic-"):
        routes.create_video(broken, _body(review=False), Identity(user_id=user, method="api_key"))
    owned = [d.to_dict() for d in _owned_by(clients, user)]
    assert len(owned) == 1 and owned[0]["status"] == "failed" and owned[0]["error"]["code"] == "publish_failed"
    assert owned[0]["created_at"] >= before
    later = run_monitor(clients, now=status.utcnow() + dt.timedelta(hours=6))
    assert owned[0]["video_id"] not in [job["video_id"] for job in later["jobs"]]
    assert pipeline.doc(owned[0]["video_id"])["status"] == "failed"
    assert _videos_used(pipeline, user) == 0
