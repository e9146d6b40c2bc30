"""The product API's video routes: status, history, favourites, views, files, live progress, review;
the caller's plan and quotas; the music catalogue. Every route serves only the caller's own videos:
anyone else's is a 404 (its existence is not revealed).

    GET    /videos                   my videos, paginated (filters, sort)
    GET    /videos/{id}              status, progress, signed URLs of delivered files
    DELETE /videos/{id}              the video and every file of it (not while it is being made)
    GET    /videos/{id}/files        signed URLs only (?ttl=seconds, at most SIGNED_URL_SECONDS)
    GET    /videos/{id}/events       Server-Sent Events (shared.api.progress)
    PUT    /videos/{id}/favourite    DELETE /videos/{id}/favourite
    POST   /videos/{id}/views        count one view
    GET    /videos/{id}/storyboard   PATCH /videos/{id}/script   POST /videos/{id}/approve|cancel
    GET    /me                       plan, quota use, webhook secret
    GET    /music                    the music catalogue with preview URLs ("none": no music)
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal, cast

import flask
from google.api_core import exceptions as gexc
from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter
from pydantic import BaseModel, ConfigDict, Field

from shared.api import auth, progress, quotas, script_cache, signed_urls, storyboard
from shared.api.http import ascii_digits, read_json_body
from shared.assembly import music
from shared.core import layout, status, users
from shared.core.clients import Clients
from shared.core.errors import ErrorCode, InvalidInputError
from shared.core.messages import VIDEO_ID_PATTERN
from shared.core.responses import json_response, public_error
from shared.core.status import Status
from shared.core.storage import split_uri
from shared.core.validation import parse_body
from shared.pricing import spend

PUBLIC_FIELDS = ("video_id", "status", "theme", "style", "language", "music", "character_id", "title",
                 "total_blocks", "completed_blocks", "planned_seconds", "duration", "final_video_url",
                 "thumbnail_url", "srt_url", "vtt_url", "qa_report_url", "qa", "error", "history",
                 "created_at", "updated_at", "usage", "preset", "estimate", "receipt", "downgrade",
                 "remedial", "qa_report_md_url", "rendition_urls", "favourite", "views", "review",
                 "script_cache", "script_revision", "callback_url", "webhook", "voice", "dialogue_issues")
LISTED_FIELDS = ("video_id", "status", "title", "theme", "style", "language", "character_id", "preset",
                 "favourite", "views", "planned_seconds", "duration", "created_at", "thumbnail_url", "music",
                 "voice")
# "duration" is the delivered length (written by the assembler; null until then, so those sort first/last).
SORT_FIELDS = {"date": "created_at", "views": "views", "duration": "duration"}
DELETABLE = status.TERMINAL | {Status.AWAITING_APPROVAL}
TTL_MAX_DIGITS = 9  # far beyond any allowed lifetime; int() never sees a huge string


def not_found(video_id: str) -> InvalidInputError:
    return InvalidInputError(f"no video {video_id!r}", code=ErrorCode.NOT_FOUND)


def owned_video(clients: Clients, request: flask.Request, video_id: str) -> dict[str, Any]:
    """The caller's status document, or a 404 for a missing video or anyone else's."""
    if not re.match(VIDEO_ID_PATTERN, video_id):
        raise not_found(video_id)
    doc = status.read(clients.db, video_id)
    if doc is None or doc.get("owner") != auth.identity_of(request).user_id:
        raise not_found(video_id)
    return doc


def public_view(clients: Clients, doc: dict[str, Any]) -> dict[str, Any]:
    """What the owner sees of a job: public fields, progress and, once delivered, signed file URLs."""
    view = {k: doc[k] for k in PUBLIC_FIELDS if k in doc}
    if "error" in view:
        view["error"] = public_error(view["error"])  # code, fixed message, error_id: never the upstream text
    view["progress"] = progress.progress_of(doc)
    if doc.get("status") == Status.COMPLETED.value:
        view["files"] = signed_urls.delivered_files(clients.storage, clients.settings, doc)
    return view


# --- one video -------------------------------------------------------------------------------------

def get_route(clients: Clients, request: flask.Request, args: dict[str, str]) -> flask.Response:
    """GET /videos/{id}."""
    return json_response(public_view(clients, owned_video(clients, request, args["video_id"])), 200)


def files_route(clients: Clients, request: flask.Request, args: dict[str, str]) -> flask.Response:
    """GET /videos/{id}/files?ttl=N: fresh signed URLs of the delivered files."""
    doc = owned_video(clients, request, args["video_id"])
    raw_ttl = request.args.get("ttl")
    ttl = None if raw_ttl is None else ascii_digits(raw_ttl, TTL_MAX_DIGITS)
    if raw_ttl is not None and ttl is None:
        raise InvalidInputError(f"ttl must be a whole number of seconds (ASCII digits, at most {TTL_MAX_DIGITS})",
                                code=ErrorCode.INVALID_TTL, field="ttl")
    files = signed_urls.delivered_files(clients.storage, clients.settings, doc, ttl)
    return json_response({"video_id": doc["video_id"], "status": doc["status"], "files": files}, 200)


def events_route(clients: Clients, request: flask.Request, args: dict[str, str]) -> flask.Response:
    """GET /videos/{id}/events: the live progress stream."""
    doc = owned_video(clients, request, args["video_id"])
    return progress.stream_response(clients, doc["video_id"], request, doc["owner"])


def _set_favourite(clients: Clients, request: flask.Request, video_id: str, value: bool) -> flask.Response:
    doc = owned_video(clients, request, video_id)
    status.doc_ref(clients.db, doc["video_id"]).update({"favourite": value})
    return json_response({"video_id": doc["video_id"], "favourite": value}, 200)


def favourite_route(clients: Clients, request: flask.Request, args: dict[str, str]) -> flask.Response:
    """PUT /videos/{id}/favourite."""
    return _set_favourite(clients, request, args["video_id"], True)


def unfavourite_route(clients: Clients, request: flask.Request, args: dict[str, str]) -> flask.Response:
    """DELETE /videos/{id}/favourite."""
    return _set_favourite(clients, request, args["video_id"], False)


def view_route(clients: Clients, request: flask.Request, args: dict[str, str]) -> flask.Response:
    """POST /videos/{id}/views: count one view (atomic increment)."""
    doc = owned_video(clients, request, args["video_id"])
    ref = status.doc_ref(clients.db, doc["video_id"])
    ref.update({"views": firestore.Increment(1), "last_viewed_at": status.utcnow()})
    counted = cast(dict[str, Any], ref.get().to_dict())  # it exists: update() above fails on a missing document
    return json_response({"video_id": doc["video_id"], "views": int(counted.get("views", 0))}, 200)


def _job_uris(doc: dict[str, Any]) -> set[str]:
    uris = {v for k, v in doc.items() if isinstance(v, str) and v.startswith("gs://") and k.endswith(("_url", "_uri"))}
    uris |= set(doc.get("veo_segment_uris") or []) | set((doc.get("rendition_urls") or {}).values())
    return uris


def delete_video(clients: Clients, doc: dict[str, Any]) -> int:
    """Delete a finished (or unapproved) job's files and document; how many objects were removed."""
    if Status(doc["status"]) not in DELETABLE:
        raise InvalidInputError("the video is still being made; delete it once it is finished",
                                code=ErrorCode.VIDEO_IN_PROGRESS)
    blobs = [clients.storage.bucket(b).blob(p) for b, p in map(split_uri, _job_uris(doc))]
    bucket = clients.storage.bucket(clients.settings.bucket)
    for prefix in layout.job_prefixes(doc["video_id"]):
        blobs += list(bucket.list_blobs(prefix=prefix))
    removed = 0
    for blob in blobs:
        try:
            blob.delete()
            removed += 1
        except gexc.NotFound:
            pass
    spend.reconcile(clients.db, doc["video_id"])  # an unapproved job's reserved Veo spend goes back
    script_cache.purge(clients.db, doc)
    status.doc_ref(clients.db, doc["video_id"]).delete()
    return removed


def delete_route(clients: Clients, request: flask.Request, args: dict[str, str]) -> flask.Response:
    """DELETE /videos/{id}."""
    delete_video(clients, owned_video(clients, request, args["video_id"]))
    return flask.Response(status=204)


# --- my videos -------------------------------------------------------------------------------------

class ListQuery(BaseModel):
    """Query parameters of GET /videos."""

    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=20, ge=1, le=50)
    page_token: str | None = Field(default=None, pattern=VIDEO_ID_PATTERN)
    sort: Literal["date", "views", "duration"] = "date"
    order: Literal["asc", "desc"] = "desc"
    favourite: bool | None = None
    style: str | None = Field(default=None, max_length=40)
    language: str | None = Field(default=None, max_length=8)
    character_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{1,64}$")


def list_videos(clients: Clients, user_id: str, query: ListQuery) -> dict[str, Any]:
    """One page of the user's videos and the token of the next page (None at the end)."""
    q: Any = clients.db.collection(layout.VIDEO_STATUS).where(filter=FieldFilter("owner", "==", user_id))
    for field in ("favourite", "style", "language", "character_id"):
        value = getattr(query, field)
        if value is not None:
            q = q.where(filter=FieldFilter(field, "==", value))
    direction = firestore.Query.DESCENDING if query.order == "desc" else firestore.Query.ASCENDING
    q = q.order_by(SORT_FIELDS[query.sort], direction=direction)
    if query.page_token:
        cursor = status.doc_ref(clients.db, query.page_token).get()
        if not cursor.exists or (cursor.to_dict() or {}).get("owner") != user_id:
            raise InvalidInputError("page_token: unknown page", code=ErrorCode.INVALID_PAGE_TOKEN, field="page_token")
        q = q.start_after(cursor)
    docs = [snap.to_dict() for snap in q.limit(query.limit + 1).stream()]
    page = docs[:query.limit]
    next_token = page[-1]["video_id"] if len(docs) > query.limit else None
    return {"videos": [listed(clients, d) for d in page], "next_page_token": next_token}


def listed(clients: Clients, doc: dict[str, Any]) -> dict[str, Any]:
    """A card of My videos: its fields and, once delivered, the thumbnail's signed URL (no request per card)."""
    card = {k: doc[k] for k in LISTED_FIELDS if k in doc}
    if doc.get("status") == Status.COMPLETED.value and doc.get("thumbnail_url"):
        card["thumbnail"] = signed_urls.signed_url(clients.storage, clients.settings, doc["thumbnail_url"])
    return card


def list_route(clients: Clients, request: flask.Request, _: dict[str, str]) -> flask.Response:
    """GET /videos?limit&page_token&sort=date|views|duration&order&favourite&style&language&character_id."""
    query = parse_body(ListQuery, dict(request.args))
    return json_response(list_videos(clients, auth.identity_of(request).user_id, query), 200)


# --- review ----------------------------------------------------------------------------------------

def storyboard_route(clients: Clients, request: flask.Request, args: dict[str, str]) -> flask.Response:
    """GET /videos/{id}/storyboard: the preview (signed URL), its blocks and the cost estimate; 202 with
    Retry-After while the storyboard step renders it."""
    doc = owned_video(clients, request, args["video_id"])
    if not doc.get("review"):
        raise InvalidInputError("this video was not created with review", code=ErrorCode.NO_REVIEW)
    board, ready = storyboard.storyboard(clients, doc)
    if not ready:
        response = json_response(board, 202 if board["state"] == "rendering" else 200)
        if board["state"] == "rendering":
            response.headers["Retry-After"] = str(board["retry_after_seconds"])
        return response
    board["preview"] = signed_urls.signed_url(clients.storage, clients.settings, board.pop("uri"))
    return json_response(board, 200)


def script_route(clients: Clients, request: flask.Request, args: dict[str, str]) -> flask.Response:
    """PATCH /videos/{id}/script: edit blocks while the video awaits approval."""
    doc = owned_video(clients, request, args["video_id"])
    return json_response(storyboard.edit_script(clients, doc, read_json_body(request)), 200)


def approve_route(clients: Clients, request: flask.Request, args: dict[str, str]) -> flask.Response:
    """POST /videos/{id}/approve: the video counts against the quota now, and Veo starts."""
    doc = owned_video(clients, request, args["video_id"])
    if doc["status"] != Status.AWAITING_APPROVAL.value:
        raise InvalidInputError("only a video awaiting approval can be approved", code=ErrorCode.NOT_AWAITING_APPROVAL)
    plan = quotas.user_plan(clients.db, doc["owner"], clients.settings.default_plan)
    quotas.consume(clients.db, doc["owner"], plan, videos=1, window_seconds=clients.settings.rate_limit_window_seconds)
    try:
        return json_response(storyboard.approve(clients, doc["video_id"]), 202)
    except InvalidInputError:
        quotas.refund(clients.db, doc["owner"], videos=1)
        raise


def cancel_route(clients: Clients, request: flask.Request, args: dict[str, str]) -> flask.Response:
    """POST /videos/{id}/cancel."""
    doc = owned_video(clients, request, args["video_id"])
    return json_response(storyboard.cancel(clients, doc["video_id"]), 200)


# --- me, music -------------------------------------------------------------------------------------

def me_route(clients: Clients, request: flask.Request, _: dict[str, str]) -> flask.Response:
    """GET /me: who I am, my plan and quota use, and the secret my webhooks are signed with."""
    identity = auth.identity_of(request)
    user = users.ensure_user(clients.db, identity.user_id, default_plan=clients.settings.default_plan)
    plan = quotas.plan_named(user.get("plan"))
    return json_response({"user_id": identity.user_id, "auth": identity.method,
                          "quotas": quotas.usage(clients.db, identity.user_id, plan,
                                                 clients.settings.rate_limit_window_seconds),
                          "webhook_secret": user["webhook_secret"]}, 200)


_uploaded_previews: set[str] = set()


def shipped_file_uri(clients: Clients, local: Path, path: str, content_type: str) -> str:
    """A file shipped with the code (music preview, voice sample) in the bucket at `path`, uploaded once."""
    if path not in _uploaded_previews:
        blob = clients.storage.bucket(clients.settings.bucket).blob(path)
        if not blob.exists():
            blob.upload_from_filename(str(local), content_type=content_type)
        _uploaded_previews.add(path)
    return f"gs://{clients.settings.bucket}/{path}"


def music_route(clients: Clients, request: flask.Request, _: dict[str, str]) -> flask.Response:
    """GET /music: every track (mood, licence) with a signed URL of its short preview; "none" means no music."""
    tracks = [{"id": t.id, "name": t.name, "category": t.category, "mood": t.category, "duration": t.duration,
               "default_for": list(t.default_for), "licence": t.licence, "made": t.made,
               "preview_url": signed_urls.signed_url(clients.storage, clients.settings, shipped_file_uri(
                   clients, t.preview_path, layout.music_path(t.preview or t.file), "audio/mp4"))["url"]}
              for t in music.load_catalogue()]
    return json_response({"tracks": tracks, "moods": list(music.MOODS), "no_music": music.NO_MUSIC}, 200)
