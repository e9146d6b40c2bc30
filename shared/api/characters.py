"""Characters (Nano Banana): a named, described character with a reference portrait drawn by the image model.

    POST   /characters        {name, description, style}  → 201 character (portrait in GCS)
    GET    /characters                                     → 200 {"characters": [own characters]}
    GET    /characters/{id}                                → 200 character (own only, else 404;
                                                             with portrait_url, signed)
    DELETE /characters/{id}                                → 204 (portrait and document removed)

Storage: gs://BUCKET/characters/{id}.png and Firestore `characters/{id}`
{owner, name, description, style, image_uri, created_at}. The owner is the authenticated caller
(shared.api.auth); someone else's character answers 404. Creating one draws an image: it takes one AI
call from the caller's quota and counts against the rate limit (shared.api.quotas).
"""
from __future__ import annotations

import re
import uuid
from typing import Any, cast

import flask
from google.api_core import exceptions as gexc
from google.cloud.firestore_v1.base_query import FieldFilter
from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.api import auth, quotas, signed_urls
from shared.api.http import read_json_body
from shared.core import layout, log, status
from shared.core.clients import Clients
from shared.core.errors import ErrorCode, InvalidInputError
from shared.core.responses import json_response
from shared.core.storage import gs_uri, split_uri, upload_bytes
from shared.core.validation import one_of, parse_body
from shared.core.vocabulary import STYLES
from shared.video.characters import generate_image, load_character
from shared.video.prompts import portrait_prompt

PUBLIC_FIELDS = ("character_id", "owner", "name", "description", "style", "image_uri", "created_at")
_ID = re.compile(r"^(?!__.*__$)[A-Za-z0-9_-]{1,64}$")  # Firestore reserves ids like __x__
MAX_LISTED = 100


class CharacterBody(BaseModel):
    """What the front end POSTs to create a character."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=60)
    description: str = Field(min_length=3, max_length=400)
    style: str = "cinematic"

    @field_validator("style")
    @classmethod
    def _known_style(cls, value: str) -> str:
        return one_of(value, STYLES, "style")


def owner_of(request: flask.Request) -> str:
    """The authenticated caller's user id."""
    return auth.identity_of(request).user_id


def _public(clients: Clients, character_id: str, doc: dict[str, Any]) -> dict[str, Any]:
    """The owner's view of a character, with a signed URL of its portrait (the bucket is private)."""
    view = {"character_id": character_id, **{k: doc[k] for k in PUBLIC_FIELDS if k in doc}}
    if doc.get("image_uri"):
        view["portrait_url"] = signed_urls.signed_url(clients.storage, clients.settings, doc["image_uri"])["url"]
    return view


def _take_quota(clients: Clients, owner: str) -> None:
    plan = quotas.user_plan(clients.db, owner, clients.settings.default_plan)
    quotas.consume(clients.db, owner, plan, ai_calls=1, rate_limited=True,
                   window_seconds=clients.settings.rate_limit_window_seconds)


def create_character(clients: Clients, owner: str, body: Any) -> dict[str, Any]:
    """Validate, take quota, draw the portrait, store it and the document; the public character."""
    request = parse_body(CharacterBody, body)
    settings = clients.settings
    character_id = f"c{uuid.uuid4().hex[:16]}"
    _take_quota(clients, owner)
    try:
        png = generate_image(clients.genai, settings.image_model,
                             portrait_prompt(request.name, request.description, request.style))
    except Exception:
        quotas.refund(clients.db, owner, ai_calls=1)
        raise
    image_uri = upload_bytes(clients.storage, gs_uri(settings.bucket, layout.character_portrait_path(character_id)),
                             png, "image/png")
    doc = {**request.model_dump(), "owner": owner, "image_uri": image_uri, "created_at": status.utcnow()}
    clients.db.collection(layout.CHARACTERS).document(character_id).create(doc)
    log.info("character created", character_id=character_id, owner=owner)
    return _public(clients, character_id, doc)


def _own(clients: Clients, owner: str, character_id: str) -> dict[str, Any]:
    doc = load_character(clients.db, character_id) if _ID.match(character_id) else None
    if doc is None or doc.get("owner") != owner:
        raise InvalidInputError(f"no character {character_id!r}", code=ErrorCode.CHARACTER_NOT_FOUND)
    return doc


def list_characters(clients: Clients, owner: str) -> list[dict[str, Any]]:
    """The caller's characters, newest first."""
    query = (clients.db.collection(layout.CHARACTERS).where(filter=FieldFilter("owner", "==", owner))
             .limit(MAX_LISTED))
    # A query streams existing documents only: to_dict() is never None here.
    found = [_public(clients, snap.id, cast(dict[str, Any], snap.to_dict())) for snap in query.stream()]
    return sorted(found, key=lambda c: c["created_at"], reverse=True)


def delete_character(clients: Clients, owner: str, character_id: str) -> None:
    """Remove one of the caller's characters and its portrait."""
    doc = _own(clients, owner, character_id)
    bucket, path = split_uri(doc["image_uri"])
    try:
        clients.storage.bucket(bucket).blob(path).delete()
    except gexc.NotFound:
        pass
    clients.db.collection(layout.CHARACTERS).document(character_id).delete()
    log.info("character deleted", character_id=character_id, owner=owner)


def create_route(clients: Clients, request: flask.Request, _: dict[str, str]) -> flask.Response:
    """POST /characters."""
    return json_response(create_character(clients, owner_of(request), read_json_body(request)), 201)


def list_route(clients: Clients, request: flask.Request, _: dict[str, str]) -> flask.Response:
    """GET /characters."""
    return json_response({"characters": list_characters(clients, owner_of(request))}, 200)


def get_route(clients: Clients, request: flask.Request, args: dict[str, str]) -> flask.Response:
    """GET /characters/{id} (a 404 for someone else's character: its existence is not revealed)."""
    character_id = args["character_id"]
    return json_response(_public(clients, character_id, _own(clients, owner_of(request), character_id)), 200)


def delete_route(clients: Clients, request: flask.Request, args: dict[str, str]) -> flask.Response:
    """DELETE /characters/{id}."""
    delete_character(clients, owner_of(request), args["character_id"])
    return flask.Response(status=204)
