"""The HTTP front door (agent-script): the product API the front end talks to.

    POST /videos  (or POST /)   {theme, style?, language?, character_id?, music?, preset?, review?,
                                 callback_url?, …} → 202 {video_id, status_url}
    POST /estimate              the same body as POST /videos → 200 every preset's cost, time, guarantees
    …and the routes of shared.api.videos (status, history, favourites, views, files, live progress,
    review, /me, /music) and shared.api.characters. The route table below is the one source of truth;
    shared/api/openapi.yaml describes it (a test keeps the two equal).

Every request is authenticated (shared.api.auth): 401 without valid credentials. Creating a video or a
character takes from the caller's quotas and rate limit (shared.api.quotas): 429 with Retry-After.
CORS answers only the configured origins (CORS_ORIGINS).

A video request may name a `preset` (default brand_campaign), a `max_cost_usd` budget and
`allow_downgrade`: over budget it is refused (422 over_budget, with the estimates) or, when allowed,
runs on the most capable preset that fits and its status says so (`downgrade`).

Every error answers `{"error": {"code", "message"}}` with a 4xx/5xx status.
"""
from __future__ import annotations

import datetime as dt
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

import flask
from google.api_core import exceptions as gexc
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule

from shared.api import auth, characters, estimates, idempotency, quotas, script_cache, storyboard, voices
from shared.api import videos as videos_api
from shared.api.http import read_json_body
from shared.api.privacy import strip_personal
from shared.assembly import music
from shared.core import layout, lease, log, status, users
from shared.core.clients import Clients
from shared.core.errors import (
    ErrorCode,
    GenerationError,
    InvalidInputError,
    OverBudget,
    PipelineError,
    QuotaError,
    SpendLimit,
    TransientError,
    Unauthenticated,
)
from shared.core.messages import VideoRequest
from shared.core.pubsub import publish
from shared.core.responses import error_response, internal_error_response, json_response, public_message
from shared.core.storage import gs_uri, upload_json
from shared.ops import webhooks
from shared.pricing import spend
from shared.pricing.prices import price_table
from shared.pricing.receipts import total_of
from shared.script.writer import GeneratedScript, VideoRequestBody, generate_script, parse_request
from shared.video.characters import load_character
from shared.video.plan import video_seconds

ANONYMOUS = auth.Identity(user_id="anonymous", method="none")
CORS_HEADERS = "Authorization, Content-Type, X-API-Key, Last-Event-ID, Idempotency-Key"
CORS_MAX_AGE_SECONDS = 600
NO_STORE_ENDPOINTS = frozenset({"me", "rotate_webhook_secret"})  # answered with Cache-Control: no-store
BODY_ENDPOINTS = frozenset({"create_video", "edit_script", "estimate", "create_character"})  # the rest take none
FIRESTORE_RESERVED_ID = re.compile(r"^__.*__$", re.DOTALL)  # reserved document ids (e.g. __proto__)


def new_video_id() -> str:
    """A unique, URL-safe, time-ordered job id."""
    return f"v{dt.datetime.now(dt.UTC):%Y%m%d%H%M%S}-{uuid.uuid4().hex[:12]}"


def _check_references(clients: Clients, request: VideoRequestBody, owner: str) -> dict[str, str] | None:
    """Resolve the optional music track and the caller's character, check the callback URL; 4xx if invalid."""
    if request.music and request.music not in {music.NO_MUSIC} | {track.id for track in music.load_catalogue()}:
        raise InvalidInputError(f"music: unknown track {request.music!r}", code=ErrorCode.INVALID_MUSIC, field="music")
    if request.callback_url:
        webhooks.check_target(request.callback_url, clients.settings.webhook_allowed_networks)
    if not request.character_id:
        return None
    if FIRESTORE_RESERVED_ID.match(request.character_id):  # `__x__` ids: Firestore refuses even to read them
        raise InvalidInputError(f"character_id: {request.character_id!r} is not a character id",
                                code="invalid_character_id", field="character_id")
    character = load_character(clients.db, request.character_id)
    if character is None or character.get("owner") != owner:
        raise InvalidInputError(f"character_id: no character {request.character_id!r}",
                                code=ErrorCode.CHARACTER_NOT_FOUND, field="character_id")
    return {"name": character["name"], "description": character.get("description", "")}


def _take_quota(clients: Clients, owner: str, review: bool, quote: estimates.Quote) -> dict[str, Any]:
    """The plan's preset gate and Veo spend allowance (the estimate reserved: shared.pricing.spend), then one AI
    call (the script) and one video, or one storyboard preview when the video waits for approval; rate limited.
    The spend reservation."""
    plan = quotas.user_plan(clients.db, owner, clients.settings.default_plan)
    plan.check_preset(quote.preset.name)
    reservation = spend.reserve(clients.db, owner, float(quote.estimate["cost_usd"]["veo"]), plan.spend_limits(),
                                plan.name)
    try:
        quotas.consume(clients.db, owner, plan, videos=0 if review else 1, ai_calls=1, previews=int(review),
                       rate_limited=True, window_seconds=clients.settings.rate_limit_window_seconds)
    except QuotaError:
        spend.release(clients.db, owner, reservation)
        raise
    return reservation


def _script_for(clients: Clients, request: VideoRequestBody, identity: auth.Identity,
                character: dict[str, str] | None, blocks: int) -> tuple[GeneratedScript, dict[str, Any]]:
    """The script from the cache, or from Gemini (sent no personal field); and the cache note."""
    settings, now = clients.settings, status.utcnow()
    private = request.model_copy(update={"theme": strip_personal(request.theme, identity.personal_fields)})
    fields = script_cache.key_fields(private.theme, request.style, request.language, request.character_id,
                                     request.preset, blocks)
    key = script_cache.cache_key(identity.user_id, fields)
    cached = script_cache.lookup(clients.db, key, now)
    if cached:
        quotas.refund(clients.db, identity.user_id, ai_calls=1)
        log.info("script served from the cache", key=key)
        return GeneratedScript({**cached["script"], "theme": request.theme}, 0, 0, 0), {"hit": True, "key": key,
                                                             "cached_at": cached["created_at"]}
    generated = generate_script(clients.genai, settings, private, character, blocks=blocks)
    script_cache.store(clients.db, key, fields, {**generated.script, "theme": private.theme}, now,
                       settings.script_cache_days)
    return generated, {"hit": False, "key": key}


def create_video(clients: Clients, body: Any, identity: auth.Identity = ANONYMOUS) -> dict[str, Any]:
    """Validate, take quota, write the script (cache or Gemini), store it, create the status document,
    then start the video step, or wait for approval when the request asks for review."""
    request = parse_request(body)
    owner = identity.user_id
    character = _check_references(clients, request, owner)
    settings = clients.settings
    quote = estimates.quote(request, settings.genai_mode)
    reservation = _take_quota(clients, owner, request.review, quote)
    try:
        return _start_job(clients, request, identity, character, quote, reservation)
    except Exception:
        quotas.refund(clients.db, owner, videos=0 if request.review else 1, ai_calls=1, previews=int(request.review))
        spend.release(clients.db, owner, reservation)
        raise


def _start_job(clients: Clients, request: VideoRequestBody, identity: auth.Identity,
               character: dict[str, str] | None, quote: estimates.Quote,
               reservation: dict[str, Any]) -> dict[str, Any]:
    settings = clients.settings
    video_id = new_video_id()
    initial = status.Status.AWAITING_APPROVAL if request.review else status.Status.SCRIPT_READY
    with log.step_timer("script", video_id=video_id, preset=quote.preset.name) as step:
        started = time.monotonic()
        generated, cache_note = _script_for(clients, request, identity, character, quote.estimate["blocks"])
        script_seconds = round(time.monotonic() - started, 3)
        script = {**generated.script, "video_id": video_id}
        script_uri = upload_json(clients.storage, gs_uri(settings.bucket, layout.script_path(video_id)), script)
        blocks = len(script["blocks"])
        status.create(clients.db, video_id, {
            **request.model_dump(), **_preset_fields(quote, settings.genai_mode),
            "owner": identity.user_id, "favourite": False, "views": 0, "script_cache": cache_note,
            "spend": reservation,
            "script_revision": 0, "title": script["title"], "script_uri": script_uri, "duration": None,
            "total_blocks": blocks, "completed_blocks": 0,
            "planned_seconds": video_seconds(blocks, settings.genai_mode, quote.estimate["veo_model"]),
            "blocks": {}, "next_attempt_at": None if request.review else lease.after(settings.stuck_after_seconds),
            "usage": {**generated.usage_fields(), "script_seconds": script_seconds, "script_cached": cache_note["hit"]},
        }, initial=initial)
        step["blocks"] = blocks
    if request.review:
        storyboard.request_preview(clients, video_id, 0)
    else:
        _publish_or_fail(clients, video_id)
    return {"video_id": video_id, "status": initial.value,
            "status_url": f"{settings.status_base_url.rstrip('/')}/videos/{video_id}",
            "preset": quote.preset.name, "estimated_cost_usd": total_of(quote.estimate),
            "script_cache": {"hit": cache_note["hit"]},
            **({"storyboard_url": f"{settings.status_base_url.rstrip('/')}/videos/{video_id}/storyboard"}
               if request.review else {}),
            **({"downgrade": _preset_fields(quote, settings.genai_mode)["downgrade"]} if quote.downgraded_from else {})}


def _publish_or_fail(clients: Clients, video_id: str) -> None:
    """Start the video step. If the message cannot be sent the job is failed at once (the caller refunds the
    quota): the monitor never runs a job its creator was not charged for."""
    try:
        publish(clients.publisher, clients.settings, VideoRequest(video_id=video_id))
    except Exception as exc:
        status.transition(clients.db, video_id, status.Status.FAILED, {
            "error": {"code": ErrorCode.PUBLISH_FAILED, "message": f"the job could not be started: {exc}"[:1000],
                      "step": "script"}, "next_attempt_at": None})
        raise


def _preset_fields(quote: estimates.Quote, mode: str) -> dict[str, Any]:
    """What the status document records of the preset: name, spec, Veo model, estimate, any downgrade."""
    fields: dict[str, Any] = {"preset": quote.preset.name, "preset_spec": quote.preset.to_doc(),
                              "veo_model": quote.preset.veo_model(mode), "estimate": quote.estimate}
    if quote.downgraded_from:
        fields["downgrade"] = {"from": quote.downgraded_from, "to": quote.preset.name, "reason": quote.note}
    return fields


def estimate_request(clients: Clients, body: Any) -> dict[str, Any]:
    """Every preset's estimate for a video request, and which preset it would run with; nothing is created."""
    request = parse_request(body)
    mode = clients.settings.genai_mode
    found = estimates.estimates_for(request, mode)
    budget = request.max_cost_usd
    chosen, why = estimates.choose_within_budget(found, request.preset, budget, request.allow_downgrade)
    for estimate in found.values():
        estimate["fits_budget"] = budget is None or total_of(estimate) <= budget
    return {"requested_preset": request.preset, "would_run": chosen, "note": why, "max_cost_usd": budget,
            "presets": found, "prices": price_table()}


Handler = Callable[[Clients, flask.Request, dict[str, str]], flask.Response]


def _create_video_route(clients: Clients, request: flask.Request, _: dict[str, str]) -> flask.Response:
    body, identity = read_json_body(request), auth.identity_of(request)
    key = idempotency.parse_key(request.headers.get(idempotency.HEADER))
    if key is not None:
        earlier = idempotency.claim(clients.db, identity.user_id, key, idempotency.fingerprint(body))
        if earlier is not None:
            replay = json_response(earlier, 200)
            replay.headers["Idempotent-Replayed"] = "true"
            return replay
    try:
        answer = create_video(clients, body, identity)
    except Exception as exc:
        if key is not None:
            idempotency.release(clients.db, identity.user_id, key)
        if isinstance(exc, OverBudget):
            return error_response(exc.code, exc.message, field=exc.field, estimates=exc.estimates)
        raise
    if key is not None:
        idempotency.store(clients.db, identity.user_id, key, answer)
    return json_response(answer, 202)


def _rotate_webhook_secret_route(clients: Clients, request: flask.Request, _: dict[str, str]) -> flask.Response:
    """POST /me/webhook-secret: a new webhook signing secret, shown in this answer; the old one is discarded."""
    identity = auth.identity_of(request)
    secret = users.rotate_webhook_secret(clients.db, identity.user_id, clients.settings.default_plan)
    log.info("webhook secret rotated")
    return json_response({"webhook_secret": secret, "rotated_at": status.utcnow().isoformat()}, 200)


def _estimate_route(clients: Clients, request: flask.Request, _: dict[str, str]) -> flask.Response:
    return json_response(estimate_request(clients, read_json_body(request)), 200)


# One rule and one handler per route; features add theirs here (and in shared/api/openapi.yaml).
URLS = Map([
    Rule("/", endpoint="create_video", methods=["POST"]),
    Rule("/videos", endpoint="create_video", methods=["POST"]),
    Rule("/videos", endpoint="list_videos", methods=["GET"]),
    Rule("/videos/<video_id>", endpoint="get_video", methods=["GET"]),
    Rule("/videos/<video_id>", endpoint="delete_video", methods=["DELETE"]),
    Rule("/videos/<video_id>/files", endpoint="video_files", methods=["GET"]),
    Rule("/videos/<video_id>/events", endpoint="video_events", methods=["GET"]),
    Rule("/videos/<video_id>/favourite", endpoint="favourite", methods=["PUT"]),
    Rule("/videos/<video_id>/favourite", endpoint="unfavourite", methods=["DELETE"]),
    Rule("/videos/<video_id>/views", endpoint="record_view", methods=["POST"]),
    Rule("/videos/<video_id>/storyboard", endpoint="storyboard", methods=["GET"]),
    Rule("/videos/<video_id>/script", endpoint="edit_script", methods=["PATCH"]),
    Rule("/videos/<video_id>/approve", endpoint="approve", methods=["POST"]),
    Rule("/videos/<video_id>/cancel", endpoint="cancel", methods=["POST"]),
    Rule("/estimate", endpoint="estimate", methods=["POST"]),
    Rule("/me", endpoint="me", methods=["GET"]),
    Rule("/me/webhook-secret", endpoint="rotate_webhook_secret", methods=["POST"]),
    Rule("/music", endpoint="music", methods=["GET"]),
    Rule("/voices", endpoint="voices", methods=["GET"]),
    Rule("/characters", endpoint="create_character", methods=["POST"]),
    Rule("/characters", endpoint="list_characters", methods=["GET"]),
    Rule("/characters/<character_id>", endpoint="get_character", methods=["GET"]),
    Rule("/characters/<character_id>", endpoint="delete_character", methods=["DELETE"]),
], strict_slashes=False)
HANDLERS: dict[str, Handler] = {
    "create_video": _create_video_route,
    "list_videos": videos_api.list_route,
    "get_video": videos_api.get_route,
    "delete_video": videos_api.delete_route,
    "video_files": videos_api.files_route,
    "video_events": videos_api.events_route,
    "favourite": videos_api.favourite_route,
    "unfavourite": videos_api.unfavourite_route,
    "record_view": videos_api.view_route,
    "storyboard": videos_api.storyboard_route,
    "edit_script": videos_api.script_route,
    "approve": videos_api.approve_route,
    "cancel": videos_api.cancel_route,
    "estimate": _estimate_route,
    "me": videos_api.me_route,
    "rotate_webhook_secret": _rotate_webhook_secret_route,
    "music": videos_api.music_route,
    "voices": voices.voices_route,
    "create_character": characters.create_route,
    "list_characters": characters.list_route,
    "get_character": characters.get_route,
    "delete_character": characters.delete_route,
}


def _dispatch(clients: Clients, request: flask.Request, certs: auth.CertSource | None) -> flask.Response:
    try:
        endpoint, args = URLS.bind_to_environ(request.environ).match()
    except MethodNotAllowed as exc:
        allowed = ", ".join(sorted(exc.valid_methods or []))
        return error_response(ErrorCode.METHOD_NOT_ALLOWED, f"{request.method} not allowed here; use {allowed}")
    except NotFound:
        return error_response(ErrorCode.NOT_FOUND, f"no route {request.method} {request.path}")
    identity = auth.authenticate(clients.db, clients.settings, request, certs)
    log.bind(user_id=identity.user_id)
    if endpoint not in BODY_ENDPOINTS and _has_body(request):
        raise InvalidInputError(f"{request.method} {request.path} takes no request body",
                                code=ErrorCode.UNEXPECTED_BODY)
    # Every rule's variables use werkzeug's default (string) converter: the values are str.
    response = HANDLERS[endpoint](clients, request, {name: str(value) for name, value in args.items()})
    if endpoint in NO_STORE_ENDPOINTS:  # they carry the webhook secret: no cache or proxy may keep a copy
        response.headers["Cache-Control"] = "no-store"
    return response


def _has_body(request: flask.Request) -> bool:
    """Whether the request carries a body (a declared length or chunked bytes), without reading more than one."""
    if request.content_length is not None:
        return request.content_length > 0
    return bool(request.stream.read(1))


def _allowed_origin(clients: Clients, request: flask.Request) -> str | None:
    origin = request.headers.get("Origin")
    return origin if origin and origin in clients.settings.cors_origins else None


def _preflight(clients: Clients, request: flask.Request) -> flask.Response:
    """Answer a CORS preflight: only configured origins are allowed."""
    origin = _allowed_origin(clients, request)
    if origin is None:
        return error_response(ErrorCode.ORIGIN_NOT_ALLOWED, "this origin may not call the API")
    return flask.Response(status=204, headers={
        "Access-Control-Allow-Origin": origin, "Vary": "Origin",
        "Access-Control-Allow-Methods": "GET, POST, PUT, PATCH, DELETE",
        "Access-Control-Allow-Headers": CORS_HEADERS, "Access-Control-Max-Age": str(CORS_MAX_AGE_SECONDS)})


def _with_cors(clients: Clients, request: flask.Request, response: flask.Response) -> flask.Response:
    origin = _allowed_origin(clients, request)
    if origin:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Expose-Headers"] = "Retry-After"
    response.headers.add("Vary", "Origin")
    return response


def _errors_as_json(clients: Clients, request: flask.Request, certs: auth.CertSource | None) -> flask.Response:
    try:
        return _dispatch(clients, request, certs)
    except QuotaError as exc:
        extra: dict[str, Any] = {"allowance": exc.allowance} if isinstance(exc, SpendLimit) else {}
        response = error_response(exc.code, exc.message, retry_after_seconds=exc.retry_after, **extra)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    except Unauthenticated as exc:
        response = error_response(exc.code, exc.message)
        response.headers["WWW-Authenticate"] = 'Bearer realm="veo-pipeline"'
        return response
    except InvalidInputError as exc:
        field: dict[str, Any] = {"field": exc.field} if exc.field else {}
        return error_response(exc.code, exc.message, **field)
    # Below: the details (upstream text, stderr, paths, exception text) go to the log under an error_id; the
    # answer carries the code's fixed message and that id (shared.core.responses).
    except TransientError as exc:
        return internal_error_response(ErrorCode.UPSTREAM_UNAVAILABLE, exc.message,
                                       log_message="front door: upstream unavailable")
    except GenerationError as exc:
        return internal_error_response(exc.code, exc.message, status=502, log_message="front door: generation failed")
    except (PipelineError, gexc.GoogleAPICallError) as exc:
        error_id = log.new_error_id()
        log.exception("front door: request failed", exc, error_id=error_id)
        return error_response(ErrorCode.INTERNAL, public_message(ErrorCode.INTERNAL), error_id=error_id)


def handle_request(clients: Clients, request: flask.Request, certs: auth.CertSource | None = None) -> flask.Response:
    """Route one HTTP request: CORS, authentication, and every failure as a JSON error.

    `certs` is where ID-token signing certificates come from (default: Google's, fetched and cached).
    """
    log.bind(agent="agent-script", **log.trace_field(request.headers.get("X-Cloud-Trace-Context"),
                                                     clients.settings.project))
    if request.method == "OPTIONS" and request.headers.get("Access-Control-Request-Method"):
        return _preflight(clients, request)
    return _with_cors(clients, request, _errors_as_json(clients, request, certs))
