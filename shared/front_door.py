"""The HTTP front door (agent-script): create a video from a theme, read a video's status.

    POST /videos  (or POST /)   {theme, style?, language?, character_id?, music?} → 202 {video_id, status_url}
    GET  /videos/{video_id}                                                        → 200 status document
    POST /estimate              the same body as POST /videos → 200 every preset's cost, time, guarantees

A video request may name a `preset` (default brand_campaign), a `max_cost_usd` budget and
`allow_downgrade`: over budget it is refused (422 over_budget, with the estimates) or, when allowed,
runs on the most capable preset that fits and its status says so (`downgrade`).

Every error answers `{"error": {"code", "message"}}` with a 4xx/5xx status.
"""
from __future__ import annotations

import datetime as dt
import json
import re
import time
import uuid
from typing import Any, Callable

import flask
from google.api_core import exceptions as gexc
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule

from shared import characters, estimates, lease, log, music, status
from shared.clients import Clients
from shared.errors import GenerationError, InvalidInputError, PipelineError, TransientError
from shared.messages import VIDEO_ID_PATTERN, VideoRequest
from shared.pubsub import publish
from shared.responses import error_response, json_response
from shared.script import VideoRequestBody, generate_script, parse_request, video_seconds
from shared.storage import gs_uri, upload_json

MAX_BODY_BYTES = 16 * 1024
PUBLIC_FIELDS = ("video_id", "status", "theme", "style", "language", "music", "character_id", "title",
                 "total_blocks", "completed_blocks", "planned_seconds", "duration", "final_video_url",
                 "thumbnail_url", "srt_url", "vtt_url", "qa_report_url", "qa", "error", "history",
                 "created_at", "updated_at", "usage", "preset", "estimate", "receipt", "downgrade",
                 "remedial", "qa_report_md_url", "rendition_urls")


def new_video_id() -> str:
    """A unique, URL-safe, time-ordered job id."""
    return f"v{dt.datetime.now(dt.timezone.utc):%Y%m%d%H%M%S}-{uuid.uuid4().hex[:12]}"


def _check_references(clients: Clients, request: VideoRequestBody) -> dict[str, str] | None:
    """Resolve the optional music track and character; 4xx when they do not exist."""
    if request.music and request.music not in {track.id for track in music.load_catalogue()}:
        raise InvalidInputError(f"music: unknown track {request.music!r}", code="invalid_music", field="music")
    if not request.character_id:
        return None
    snap = clients.db.collection("characters").document(request.character_id).get()
    if not snap.exists:
        raise InvalidInputError(f"character_id: no character {request.character_id!r}",
                                code="character_not_found", field="character_id")
    character = snap.to_dict()
    return {"name": character["name"], "description": character.get("description", "")}


def create_video(clients: Clients, body: Any) -> dict[str, Any]:
    """Validate, write the script with Gemini, store it, create the status document, start the video step."""
    request = parse_request(body)
    character = _check_references(clients, request)
    settings = clients.settings
    quote = estimates.quote(request, settings.genai_mode)
    video_id = new_video_id()
    with log.step_timer("script", video_id=video_id, preset=quote.preset.name) as step:
        started = time.monotonic()
        generated = generate_script(clients.genai, settings, request, character, blocks=quote.estimate["blocks"])
        script_seconds = round(time.monotonic() - started, 3)
        script = {**generated.script, "video_id": video_id}
        script_uri = upload_json(clients.storage, gs_uri(settings.bucket, f"scripts/{video_id}.json"), script)
        blocks = len(script["blocks"])
        status.create(clients.db, video_id, {
            **request.model_dump(), **_preset_fields(quote, settings.genai_mode),
            "title": script["title"], "script_uri": script_uri,
            "total_blocks": blocks, "completed_blocks": 0, "planned_seconds": video_seconds(blocks),
            "blocks": {}, "next_attempt_at": lease.after(settings.stuck_after_seconds),
            "usage": {"gemini_prompt_tokens": generated.prompt_tokens,
                      "gemini_output_tokens": generated.output_tokens, "script_attempts": generated.attempts,
                      "script_seconds": script_seconds},
        })
        step["blocks"] = blocks
    publish(clients.publisher, settings, VideoRequest(video_id=video_id))
    return {"video_id": video_id, "status": status.Status.SCRIPT_READY.value,
            "status_url": f"{settings.status_base_url.rstrip('/')}/videos/{video_id}",
            "preset": quote.preset.name, "estimated_cost_usd": estimates.total_of(quote.estimate),
            **({"downgrade": _preset_fields(quote, settings.genai_mode)["downgrade"]} if quote.downgraded_from else {})}


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
    for name, estimate in found.items():
        estimate["fits_budget"] = budget is None or estimates.total_of(estimate) <= budget
    return {"requested_preset": request.preset, "would_run": chosen, "note": why, "max_cost_usd": budget,
            "presets": found, "prices": estimates.price_table()}


def get_video(clients: Clients, video_id: str) -> flask.Response:
    """The public fields of one status document."""
    if not re.match(VIDEO_ID_PATTERN, video_id):
        return error_response(404, "not_found", f"no video {video_id!r}")
    doc = status.read(clients.db, video_id)
    if doc is None:
        return error_response(404, "not_found", f"no video {video_id!r}")
    return json_response({k: doc[k] for k in PUBLIC_FIELDS if k in doc}, 200)


def read_json_body(request: flask.Request) -> Any:
    if request.content_length and request.content_length > MAX_BODY_BYTES:
        raise InvalidInputError(f"body larger than {MAX_BODY_BYTES} bytes", code="body_too_large")
    if not request.is_json:
        raise InvalidInputError("Content-Type must be application/json", code="unsupported_media_type")
    raw = request.get_data(cache=False)
    if len(raw) > MAX_BODY_BYTES:
        raise InvalidInputError(f"body larger than {MAX_BODY_BYTES} bytes", code="body_too_large")
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInputError(f"body is not valid JSON: {exc}", code="invalid_json") from exc


_HTTP_STATUS = {"body_too_large": 413, "unsupported_media_type": 415, "character_not_found": 404}

Handler = Callable[[Clients, flask.Request, dict[str, str]], flask.Response]


def _create_video_route(clients: Clients, request: flask.Request, _: dict[str, str]) -> flask.Response:
    try:
        return json_response(create_video(clients, read_json_body(request)), 202)
    except estimates.OverBudget as exc:
        return error_response(422, exc.code, exc.message, field=exc.field, estimates=exc.estimates)


def _estimate_route(clients: Clients, request: flask.Request, _: dict[str, str]) -> flask.Response:
    return json_response(estimate_request(clients, read_json_body(request)), 200)


def _get_video_route(clients: Clients, _: flask.Request, args: dict[str, str]) -> flask.Response:
    return get_video(clients, args["video_id"])


# One rule and one handler per route; features add theirs here.
URLS = Map([
    Rule("/", endpoint="create_video", methods=["POST"]),
    Rule("/videos", endpoint="create_video", methods=["POST"]),
    Rule("/videos/<video_id>", endpoint="get_video", methods=["GET"]),
    Rule("/estimate", endpoint="estimate", methods=["POST"]),
    Rule("/characters", endpoint="create_character", methods=["POST"]),
    Rule("/characters", endpoint="list_characters", methods=["GET"]),
    Rule("/characters/<character_id>", endpoint="get_character", methods=["GET"]),
    Rule("/characters/<character_id>", endpoint="delete_character", methods=["DELETE"]),
], strict_slashes=False)
HANDLERS: dict[str, Handler] = {
    "create_video": _create_video_route,
    "get_video": _get_video_route,
    "estimate": _estimate_route,
    "create_character": characters.create_route,
    "list_characters": characters.list_route,
    "get_character": characters.get_route,
    "delete_character": characters.delete_route,
}


def _dispatch(clients: Clients, request: flask.Request) -> flask.Response:
    try:
        endpoint, args = URLS.bind_to_environ(request.environ).match()
    except MethodNotAllowed as exc:
        allowed = ", ".join(sorted(exc.valid_methods or []))
        return error_response(405, "method_not_allowed", f"{request.method} not allowed here; use {allowed}")
    except NotFound:
        return error_response(404, "not_found", f"no route {request.method} {request.path}")
    return HANDLERS[endpoint](clients, request, args)


def handle_request(clients: Clients, request: flask.Request) -> flask.Response:
    """Route one HTTP request and turn every failure into a JSON error."""
    log.bind(agent="agent-script", **log.trace_field(request.headers.get("X-Cloud-Trace-Context"),
                                                     clients.settings.project))
    try:
        return _dispatch(clients, request)
    except InvalidInputError as exc:
        return error_response(_HTTP_STATUS.get(exc.code, 400), exc.code, exc.message,
                              **({"field": exc.field} if exc.field else {}))
    except TransientError as exc:
        log.warning("front door: upstream unavailable", reason=exc.message)
        return error_response(503, "upstream_unavailable", "a backing service is busy; retry shortly")
    except GenerationError as exc:
        log.error("front door: generation failed", reason=exc.message)
        return error_response(502, exc.code, exc.message)
    except (PipelineError, gexc.GoogleAPICallError) as exc:
        log.exception("front door: request failed", exc)
        return error_response(500, "internal", "the request could not be completed")
