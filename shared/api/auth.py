"""Who is calling: per-user API keys (local, tests, scripts) and Firebase/Google ID tokens (production).

    Authorization: Bearer <Firebase or Google ID token>      AUTH_MODE=id_token | both
    Authorization: Bearer vk_<key id>_<secret>              AUTH_MODE=api_key | both
    X-API-Key: vk_<key id>_<secret>                          (the same key, for tools that cannot set Bearer)

API keys are created by a command and shown once:

    python -m shared.auth create-key --user alice [--plan pro] [--label laptop]
    python -m shared.auth revoke-key <key id>

Firestore keeps `api_keys/{key id}` {user_id, secret_sha256, label, created_at, revoked} (never the
secret) and `users/{user id}` {plan, webhook_secret, created_at}. ID tokens are verified with
google-auth against Google's published certificates (audience = AUTH_AUDIENCE or the project).
"""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

import flask
import google.auth.transport
import google.auth.transport.requests
from google.api_core import exceptions as gexc
from google.auth import exceptions as auth_exceptions
from google.auth import jwt
from google.cloud import firestore
from google.oauth2 import id_token

from shared.core import layout, log, status
from shared.core.config import Settings
from shared.core.errors import ErrorCode, InvalidInputError, Unauthenticated
from shared.core.users import ensure_user

KEY_PREFIX = "vk"
API_KEY_HEADER = "X-API-Key"
ENVIRON_KEY = "pipeline.identity"  # where the verified identity rides on the WSGI request
USER_ID = re.compile(r"^(?!__.*__$)[A-Za-z0-9_-]{1,128}$")  # Firestore reserves ids like __x__
_KEY = re.compile(r"^vk_([0-9a-f]{16})_([0-9a-f]{48})$")
FIREBASE_CERTS_URL = "https://www.googleapis.com/robot/v1/metadata/x509/securetoken@system.gserviceaccount.com"
GOOGLE_CERTS_URL = "https://www.googleapis.com/oauth2/v1/certs"
GOOGLE_ISSUERS = ("accounts.google.com", "https://accounts.google.com")
CLOCK_SKEW_SECONDS = 10


@dataclass(frozen=True)
class Identity:
    """A verified caller; `email` and `name` are personal fields never sent to a model."""

    user_id: str
    method: str  # "api_key" or "id_token"
    email: str | None = None
    name: str | None = None

    @property
    def personal_fields(self) -> tuple[str, ...]:
        return tuple(v for v in (self.email, self.name) if v)


# --- users and keys -------------------------------------------------------------------------------

def _secret_hash(secret: str) -> str:
    # The secret is 192 random bits, so a plain digest cannot be brute-forced; no salt is needed.
    return hashlib.sha256(secret.encode()).hexdigest()


def create_api_key(db: firestore.Client, user_id: str, *, plan: str | None = None, label: str = "") -> str:
    """A new API key for `user_id` (created if new); only its hash is stored. Returns the key."""
    if not USER_ID.match(user_id):
        raise InvalidInputError(f"user id must match {USER_ID.pattern}", code=ErrorCode.INVALID_USER_ID)
    ensure_user(db, user_id, plan)
    key_id, secret = secrets.token_hex(8), secrets.token_hex(24)
    db.collection(layout.API_KEYS).document(key_id).create({
        "user_id": user_id, "secret_sha256": _secret_hash(secret), "label": label[:80],
        "created_at": status.utcnow(), "revoked": False})
    log.info("api key created", user_id=user_id, key_id=key_id)
    return f"{KEY_PREFIX}_{key_id}_{secret}"


def revoke_api_key(db: firestore.Client, key_id: str) -> bool:
    """Revoke a key by id; False when there is no such key."""
    try:
        db.collection(layout.API_KEYS).document(key_id).update({"revoked": True})
    except gexc.NotFound:
        return False
    return True


def verify_api_key(db: firestore.Client, key: str) -> Identity:
    """The identity an API key belongs to; Unauthenticated when unknown, revoked or wrong."""
    match = _KEY.match(key.strip())
    if not match:
        raise Unauthenticated("malformed API key")
    key_id, secret = match.groups()
    snap = db.collection(layout.API_KEYS).document(key_id).get()
    doc = snap.to_dict() if snap.exists else None
    if not doc or doc.get("revoked") or not hmac.compare_digest(doc.get("secret_sha256", ""), _secret_hash(secret)):
        raise Unauthenticated("unknown or revoked API key")
    return Identity(user_id=doc["user_id"], method="api_key")


# --- ID tokens ------------------------------------------------------------------------------------

# What google-auth fetches the signing certificates with (tests pass a fake one).
Transport = google.auth.transport.Request


def _default_transport() -> Transport:
    return google.auth.transport.requests.Request()


def verify_id_token(token: str, settings: Settings, transport: Transport | None = None) -> Identity:
    """Verify a Firebase or Google ID token (signature, expiry, audience, issuer) with google-auth."""
    audience = settings.auth_audience or settings.project
    try:
        unverified = jwt.decode(token, verify=False)
    except (ValueError, auth_exceptions.GoogleAuthError) as exc:
        raise Unauthenticated(f"malformed ID token: {exc}") from exc
    firebase_issuer = f"https://securetoken.google.com/{audience}"
    issuer = unverified.get("iss")
    if issuer not in (firebase_issuer, *GOOGLE_ISSUERS):
        raise Unauthenticated(f"ID token from an unexpected issuer {issuer!r}")
    certs_url = FIREBASE_CERTS_URL if issuer == firebase_issuer else GOOGLE_CERTS_URL
    try:
        claims = id_token.verify_token(token, transport or _default_transport(), audience=audience,
                                       certs_url=certs_url, clock_skew_in_seconds=CLOCK_SKEW_SECONDS)
    except (ValueError, auth_exceptions.GoogleAuthError) as exc:
        raise Unauthenticated(f"ID token rejected: {exc}") from exc
    subject = str(claims.get("sub") or "")
    if not USER_ID.match(subject):
        raise Unauthenticated("ID token has no usable subject")
    return Identity(user_id=subject, method="id_token", email=claims.get("email"), name=claims.get("name"))


# --- requests -------------------------------------------------------------------------------------

def _credential(request: flask.Request) -> str:
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip()
    return (request.headers.get(API_KEY_HEADER) or "").strip()


def authenticate(db: firestore.Client, settings: Settings, request: flask.Request,
                 transport: Transport | None = None) -> Identity:
    """Verify the request's credentials as AUTH_MODE allows; Unauthenticated when missing or invalid."""
    credential = _credential(request)
    if not credential:
        raise Unauthenticated("authentication required: send an API key or an ID token")
    is_key = credential.startswith(f"{KEY_PREFIX}_")
    if is_key and settings.auth_mode in ("api_key", "both"):
        identity = verify_api_key(db, credential)
    elif not is_key and settings.auth_mode in ("id_token", "both"):
        identity = verify_id_token(credential, settings, transport)
    else:
        raise Unauthenticated(f"this credential type is not accepted (AUTH_MODE={settings.auth_mode})")
    request.environ[ENVIRON_KEY] = identity
    return identity


def identity_of(request: flask.Request) -> Identity:
    """The identity `authenticate` attached to this request."""
    identity = request.environ.get(ENVIRON_KEY)
    if not isinstance(identity, Identity):
        raise Unauthenticated("authentication required")
    return identity
