"""The product API on the real local cloud: authentication and cross-user isolation on every route,
quotas and the rate limit (Firestore transactions), history with pagination, filters and sorts,
favourites, views, deletion, signed URLs and their expiry, the music catalogue, CORS."""
from __future__ import annotations

import datetime as dt
import re
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from shared.api import quotas
from shared.api.routes import URLS
from shared.core import layout, status
from shared.core.storage import gs_uri, upload_bytes
from tests.support import check_signed_url, ffprobe, make_job

pytestmark = [pytest.mark.timeout(300), pytest.mark.usefixtures("pull_mode")]
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def _all_routes(video_id: str, character_id: str) -> list[tuple[str, str]]:
    routes = []
    for rule in URLS.iter_rules():
        path = rule.rule.replace("<video_id>", video_id).replace("<character_id>", character_id)
        routes += [(m, path) for m in sorted(rule.methods or ()) if m in METHODS]
    return routes


def _owned_job(clients, owner: str, **fields) -> str:
    return make_job(clients, 2, **{"owner": owner, "favourite": False, "views": 0, "planned_seconds": 15, **fields})


def test_every_route_refuses_missing_or_bad_credentials(pipeline):
    base = pipeline.cloud.url_of("agent-script")
    bogus = {"Authorization": "Bearer vk_" + "0" * 16 + "_" + "1" * 48}
    for method, path in _all_routes("v20260101000000-abcdef123456", "c0000"):
        for headers in ({}, bogus, {"X-API-Key": "nope"}, {"Authorization": "Bearer not-a-token"}):
            response = requests.request(method, base + path, headers=headers, json={}, timeout=30)
            assert response.status_code == 401, (method, path, headers, response.text)
            assert response.json()["error"]["code"] == "unauthenticated"


def test_a_revoked_key_stops_working(pipeline, clients):
    from shared.api.auth import revoke_api_key

    key = pipeline.key_for(f"revoked-{uuid.uuid4().hex[:6]}")
    headers = {"X-API-Key": key}
    assert pipeline.api("GET", "/me", headers=headers).status_code == 200
    revoke_api_key(clients.db, key.split("_")[1])
    assert pipeline.api("GET", "/me", headers=headers).status_code == 401
    assert clients.db.collection("api_keys").document(key.split("_")[1]).get().to_dict()["secret_sha256"] not in key


def test_another_users_video_and_character_are_404_on_every_route(pipeline, clients):
    video_id = _owned_job(clients, "alice-iso", review=True)
    character_id = f"c{uuid.uuid4().hex[:16]}"
    clients.db.collection("characters").document(character_id).set(
        {"owner": "alice-iso", "name": "Mila", "description": "a fox", "style": "anime",
         "image_uri": gs_uri(clients.settings.bucket, f"characters/{character_id}.png"), "created_at": status.utcnow()})
    own_paths = [(m, p) for m, p in _all_routes(video_id, character_id) if video_id in p or character_id in p]
    assert len(own_paths) == sum(1 for rule in URLS.iter_rules() if "<" in rule.rule) == 13
    edit = {"blocks": [{"index": 0, "visual": "a new scene"}]}
    for method, path in own_paths:
        response = pipeline.api(method, path, "bob-iso", **({"json": edit} if method == "PATCH" else {}))
        assert response.status_code == 404, (method, path, response.text)
    assert pipeline.api("GET", f"/videos/{video_id}", "alice-iso").status_code == 200
    assert pipeline.api("GET", f"/characters/{character_id}", "alice-iso").status_code == 200
    listed = pipeline.api("GET", "/videos", "bob-iso").json()["videos"]
    assert video_id not in [v["video_id"] for v in listed]
    body = {"theme": "A fox who learns to sail", "character_id": character_id, "review": True}
    assert pipeline.create_video(body, user_id="bob-iso").json()["error"]["code"] == "character_not_found"


def test_quota_boundaries_are_enforced_in_transactions(clients):
    plan = quotas.Plan("tiny", videos_per_day=3, videos_per_month=4, ai_calls_per_day=100, ai_calls_per_month=100,
                       burst=100)
    user, day1 = f"quota-{uuid.uuid4().hex[:8]}", dt.datetime(2026, 11, 23, 10, tzinfo=dt.UTC)
    with ThreadPoolExecutor(6) as pool:  # six concurrent requests for three units
        outcomes = list(pool.map(lambda _: _try(clients, user, plan, day1), range(6)))
    assert sorted(outcomes) == ["ok"] * 3 + ["quota_exceeded"] * 3
    with pytest.raises(quotas.QuotaError) as caught:
        quotas.consume(clients.db, user, plan, videos=1, now=day1)
    assert caught.value.retry_after == 14 * 3600  # until midnight UTC
    day2 = day1 + dt.timedelta(days=1)
    quotas.consume(clients.db, user, plan, videos=1, now=day2)  # a new day, but the month…
    with pytest.raises(quotas.QuotaError, match="per month"):
        quotas.consume(clients.db, user, plan, videos=1, now=day2)
    quotas.refund(clients.db, user, videos=1, now=day2)
    assert quotas.consume(clients.db, user, plan, videos=1, now=day2)["videos_month"] == 4


def _try(clients, user: str, plan: quotas.Plan, now: dt.datetime) -> str:
    try:
        quotas.consume(clients.db, user, plan, videos=1, now=now)
        return "ok"
    except quotas.QuotaError as exc:
        return exc.code


def test_rate_limit_and_daily_quota_answer_429_with_retry_after(pipeline, clients):
    user = f"free-{uuid.uuid4().hex[:8]}"
    pipeline.key_for(user, plan="free")
    body = {"theme": f"A paper boat number {uuid.uuid4().hex[:6]} crossing a rainy city", "preset": "quick_social",
            "review": True}
    assert pipeline.create_video({"theme": "x"}, user_id=user).status_code == 400  # invalid: nothing taken
    for _ in range(quotas.PLANS["free"].burst):
        assert pipeline.create_video(body, user_id=user).status_code == 202
    limited = pipeline.create_video(body, user_id=user)
    assert limited.status_code == 429 and limited.json()["error"]["code"] == "rate_limited"
    assert 0 < int(limited.headers["Retry-After"]) <= clients.settings.rate_limit_window_seconds
    me = pipeline.api("GET", "/me", user).json()["quotas"]
    # The second request's script came from the cache: its AI call was given back.
    assert me["day"]["ai_calls"]["used"] == 1 and me["rate_limit"]["used"] == 2 and me["plan"]["name"] == "free"
    ref = clients.db.collection(layout.USER_QUOTAS).document(user)
    ref.update({"recent": [], "videos_day": quotas.PLANS["free"].videos_per_day})
    over = pipeline.create_video({**body, "review": False}, user_id=user)
    assert over.status_code == 429 and over.json()["error"]["code"] == "quota_exceeded"
    assert int(over.headers["Retry-After"]) == pytest.approx(quotas.seconds_until_reset("day", status.utcnow()), abs=60)


def test_history_is_paginated_filtered_and_sorted(pipeline, clients):
    user = f"lister-{uuid.uuid4().hex[:6]}"
    made = [_owned_job(clients, user, style=style, language=lang, views=views, duration=seconds,
                       favourite=fav, character_id=cid)
            for style, lang, views, seconds, fav, cid in [
                ("anime", "en", 5, 29, True, None), ("cinematic", "fr", 1, 64, False, "c1"),
                ("anime", "fr", 9, 50, False, None), ("cinematic", "en", 0, 92, True, "c1"),
                ("sketch", "es", 3, 36, False, None)]]
    seen, token = [], None
    while True:
        params = {"limit": 2, **({"page_token": token} if token else {})}
        page = pipeline.api("GET", "/videos", user, params=params).json()
        assert len(page["videos"]) <= 2
        seen += [v["video_id"] for v in page["videos"]]
        token = page["next_page_token"]
        if not token:
            break
    assert seen == list(reversed(made)), "newest first, every video exactly once"

    def ids(**params) -> list[str]:
        return [v["video_id"] for v in pipeline.api("GET", "/videos", user, params=params).json()["videos"]]

    assert ids(sort="views") == [made[i] for i in (2, 0, 4, 1, 3)]
    assert ids(sort="duration", order="asc") == [made[i] for i in (0, 4, 2, 1, 3)]
    assert set(ids(favourite="true")) == {made[0], made[3]}
    assert set(ids(style="anime", language="fr")) == {made[2]}
    assert set(ids(character_id="c1")) == {made[1], made[3]}
    bad = pipeline.api("GET", "/videos", user, params={"sort": "colour"})
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "sort"


def test_favourite_and_views(pipeline, clients):
    user = f"fan-{uuid.uuid4().hex[:6]}"
    video_id = _owned_job(clients, user)
    assert pipeline.api("PUT", f"/videos/{video_id}/favourite", user).json()["favourite"] is True
    assert [v["video_id"] for v in pipeline.api("GET", "/videos", user, params={"favourite": True}).json()["videos"]] \
        == [video_id]
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda _: pipeline.api("POST", f"/videos/{video_id}/views", user), range(8)))
    assert pipeline.api("POST", f"/videos/{video_id}/views", user).json()["views"] == 9
    assert pipeline.api("DELETE", f"/videos/{video_id}/favourite", user).json()["favourite"] is False
    assert pipeline.api("GET", f"/videos/{video_id}", user).json()["favourite"] is False


def _completed_job(clients, owner: str) -> tuple[str, bytes]:
    video_id = _owned_job(clients, owner)
    bucket, payload = clients.settings.bucket, uuid.uuid4().bytes * 64
    uris = {"final_video_url": upload_bytes(clients.storage, gs_uri(bucket, f"final_videos/{video_id}.mp4"), payload,
                                            "video/mp4"),
            "srt_url": upload_bytes(clients.storage, gs_uri(bucket, f"subtitles/{video_id}.srt"), b"1\n", "text/plain")}
    upload_bytes(clients.storage, gs_uri(bucket, f"veo31_blocks/{video_id}/b1-a1/sample_0.mp4"), b"x", "video/mp4")
    status.doc_ref(clients.db, video_id).update({**uris, "status": "completed"})
    return video_id, payload


def test_delivered_files_are_short_lived_signed_urls(pipeline, clients):
    user = f"viewer-{uuid.uuid4().hex[:6]}"
    video_id, payload = _completed_job(clients, user)
    files = pipeline.api("GET", f"/videos/{video_id}/files", user, params={"ttl": 2}).json()["files"]
    url = files["final_video"]["url"]
    assert "X-Goog-Signature=" in url and "X-Goog-Expires=2" in url
    assert requests.get(url, timeout=30).content == payload
    key_file = clients.settings.signing_key_file
    assert check_signed_url(url, key_file) is None
    assert check_signed_url(url.replace("final_videos", "final_videoz"), key_file) == "signature does not match"
    time.sleep(3)
    assert check_signed_url(url, key_file).startswith("expired")
    full = pipeline.api("GET", f"/videos/{video_id}", user).json()["files"]
    assert set(full) == {"final_video", "subtitles_srt"} and "X-Goog-Expires=900" in full["final_video"]["url"]
    too_long = pipeline.api("GET", f"/videos/{video_id}/files", user, params={"ttl": 10**6})
    assert too_long.status_code == 400 and too_long.json()["error"]["code"] == "invalid_ttl"


def test_delete_removes_the_document_and_every_file(pipeline, clients):
    user = f"deleter-{uuid.uuid4().hex[:6]}"
    video_id, _ = _completed_job(clients, user)
    bucket = clients.storage.bucket(clients.settings.bucket)
    assert [b.name for b in bucket.list_blobs(prefix=f"veo31_blocks/{video_id}/")]
    running = _owned_job(clients, user)
    status.transition(clients.db, running, status.Status.VIDEO_GENERATING)
    assert pipeline.api("DELETE", f"/videos/{running}", user).status_code == 409
    assert pipeline.api("DELETE", f"/videos/{video_id}", user).status_code == 204
    assert pipeline.api("GET", f"/videos/{video_id}", user).status_code == 404
    assert status.read(clients.db, video_id) is None
    left = [b.name for b in bucket.list_blobs() if video_id in b.name]
    assert left == [], left


def test_music_catalogue_with_preview_urls(pipeline, tmp_path):
    tracks = pipeline.api("GET", "/music").json()["tracks"]
    assert {t["category"] for t in tracks} and all(t["name"] and t["duration"] > 10 for t in tracks)
    first = tracks[0]
    assert re.search(r"X-Goog-Signature=[0-9a-f]+", first["preview_url"])
    local = tmp_path / "preview.m4a"
    local.write_bytes(requests.get(first["preview_url"], timeout=30).content)
    assert 5 <= float(ffprobe(local)["format"]["duration"]) < first["duration"]  # a short preview clip


def test_cors_answers_only_configured_origins(pipeline, clients):
    base = pipeline.cloud.url_of("agent-script")
    allowed, other = clients.settings.cors_origins[0], "https://evil.example.com"
    preflight = requests.options(f"{base}/videos", timeout=10, headers={
        "Origin": allowed, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type"})
    assert preflight.status_code == 204 and preflight.headers["Access-Control-Allow-Origin"] == allowed
    assert "Authorization" in preflight.headers["Access-Control-Allow-Headers"]
    refused = requests.options(f"{base}/videos", timeout=10, headers={
        "Origin": other, "Access-Control-Request-Method": "POST"})
    assert refused.status_code == 403 and "Access-Control-Allow-Origin" not in refused.headers
    got = pipeline.api("GET", "/me", headers={"Origin": allowed})
    assert got.headers["Access-Control-Allow-Origin"] == allowed
    assert "Access-Control-Allow-Origin" not in pipeline.api("GET", "/me", headers={"Origin": other}).headers
