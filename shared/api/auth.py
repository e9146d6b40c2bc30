"""Who is calling: API keys, Firebase Authentication ID tokens of this project, allow-listed service accounts.

    X-API-Key: vk_<key id>_<secret>                      AUTH_MODE=api_key | both
    Authorization: Bearer vk_<key id>_<secret>           (the same key, for tools that only set Bearer)
    Authorization: Bearer <Firebase ID token>            AUTH_MODE=id_token | both
    Authorization: Bearer <service-account ID token>     AUTH_MODE=id_token | both, AUTH_SERVICE_ACCOUNTS

The front door is public at the IAM level (allUsers may invoke it); this module is the only gate
(docs/auth.md). Three credentials pass it, and nothing else:

- an API key an operator created (`python -m shared.auth create-key --user alice [--plan pro]`, shown
  once; Firestore keeps `api_keys/{key id}` {user_id, secret_sha256, label, created_at, revoked}, never
  the secret, and `users/{user id}` {plan, webhook_secret, created_at});
- a Firebase Authentication ID token of THIS project, checked as Firebase documents for third-party JWT
  libraries: RS256 with a `kid` among the certificates at FIREBASE_CERTS_URL, `aud` = the project id,
  `iss` = https://securetoken.google.com/<project id>, `exp` in the future, `iat` and `auth_time` in the
  past, a non-empty `sub` (the user id; USER_ID rules); anonymous sign-ins are refused;
- a Google-signed ID token of a service account named in AUTH_SERVICE_ACCOUNTS (`email`, verified),
  whose audience is the front door (AUTH_AUDIENCE, default STATUS_BASE_URL, or a URL below it) — for
  Cloud Scheduler or a backend. Its user id is `sa-` + the e-mail with every other character as `-`.

Any other Google ID token (another project's Firebase, any other service account, a Google account) is
refused: minting one costs nothing, so accepting it would hand out unlimited new users.

Signing certificates come from a `CertSource` (a URL → {kid: PEM certificate}); the default fetches over
HTTPS and keeps each answer for its Cache-Control max-age. Tests pass their own (no network), and the
local cloud may point both URLs at one of its own with AUTH_CERTS_URL (refused in production).
"""
from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import flask
import google.auth.transport
import google.auth.transport.requests
from google.api_core import exceptions as gexc
from google.auth import exceptions as auth_exceptions
from google.auth import jwt
from google.cloud import firestore

from shared.core import layout, log, status
from shared.core.config import Settings
from shared.core.errors import ErrorCode, InvalidInputError, TransientError, Unauthenticated
from shared.core.users import OPERATOR, ensure_user

KEY_PREFIX = "vk"
API_KEY_HEADER = "X-API-Key"
ENVIRON_KEY = "pipeline.identity"  # where the verified identity rides on the WSGI request
USER_ID = re.compile(r"^(?!__.*__$)[A-Za-z0-9_-]{1,128}$")  # Firestore reserves ids like __x__
_KEY = re.compile(r"^vk_([0-9a-f]{16})_([0-9a-f]{48})$")
# https://firebase.google.com/docs/auth/admin/verify-id-tokens#verify_id_tokens_using_a_third-party_jwt_library
FIREBASE_CERTS_URL = "https://www.googleapis.com/robot/v1/metadata/x509/securetoken@system.gserviceaccount.com"
FIREBASE_ISSUER_PREFIX = "https://securetoken.google.com/"
# Google-signed ID tokens (service accounts: metadata server, IAM Credentials, Cloud Scheduler, Pub/Sub push).
GOOGLE_CERTS_URL = "https://www.googleapis.com/oauth2/v1/certs"
GOOGLE_ISSUERS = ("accounts.google.com", "https://accounts.google.com")
SIGNING_ALGORITHM = "RS256"
CLOCK_SKEW_SECONDS = 10
SERVICE_ACCOUNT_USER_PREFIX = "sa-"
CERTS_DEFAULT_SECONDS = 300.0  # how long certificates are kept when the answer has no max-age

METHOD_API_KEY = "api_key"
METHOD_FIREBASE = "firebase"
METHOD_SERVICE_ACCOUNT = "service_account"


@dataclass(frozen=True)
class Identity:
    """A verified caller; `email` and `name` are personal fields never sent to a model."""

    user_id: str
    method: str  # METHOD_API_KEY, METHOD_FIREBASE or METHOD_SERVICE_ACCOUNT
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
    """A new API key for `user_id` (created if new, as an operator-created user); only its hash is stored. Returns
    the key. Operators only (shared.auth's command line): no HTTP route calls this. A user who signed in by
    themselves (origin `sign_in`) gets no key: keys are for the users an operator creates (issue 15)."""
    if not USER_ID.match(user_id):
        raise InvalidInputError(f"user id must match {USER_ID.pattern}", code=ErrorCode.INVALID_USER_ID)
    user = ensure_user(db, user_id, plan, origin=OPERATOR)
    if user.get("origin", OPERATOR) != OPERATOR:  # documents older than `origin` were all made by operators
        raise InvalidInputError(f"user {user_id!r} signed in by themselves; API keys are only for users an operator "
                                "creates", code=ErrorCode.INVALID_USER_ID)
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
    return Identity(user_id=doc["user_id"], method=METHOD_API_KEY)


# --- signing certificates -------------------------------------------------------------------------

class CertSource(Protocol):
    """Where signing certificates come from: a URL → {key id: PEM certificate}."""

    def __call__(self, url: str) -> Mapping[str, str]: ...


# What HttpCerts fetches with: google-auth's transport interface (tests pass a fake one).
Transport = google.auth.transport.Request


class HttpCerts:
    """Certificates fetched over HTTP(S) and kept for the answer's Cache-Control max-age.

    A failed fetch is a TransientError (503 "retry shortly"), not a 401: the token may be fine.
    """

    def __init__(self, transport: Transport | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self._transport = transport
        self._clock = clock
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, dict[str, str]]] = {}

    def __call__(self, url: str) -> Mapping[str, str]:
        now = self._clock()
        with self._lock:
            cached = self._cache.get(url)
        if cached and cached[0] > now:
            return cached[1]
        certs, max_age = self._fetch(url)
        with self._lock:
            self._cache[url] = (now + max_age, certs)
        return certs

    def _fetch(self, url: str) -> tuple[dict[str, str], float]:
        if self._transport is None:
            self._transport = google.auth.transport.requests.Request()
        try:
            response = self._transport(url, method="GET")
        except auth_exceptions.TransportError as exc:
            raise TransientError(f"signing certificates unavailable: {exc}") from exc
        if response.status != 200:
            raise TransientError(f"signing certificates unavailable: HTTP {response.status} from {url}")
        try:
            body = json.loads(response.data)
        except ValueError as exc:
            raise TransientError(f"signing certificates unreadable from {url}") from exc
        if not isinstance(body, dict) or not all(isinstance(v, str) for v in body.values()):
            raise TransientError(f"signing certificates unreadable from {url}")
        return body, _max_age(response.headers)


def _max_age(headers: Mapping[str, str]) -> float:
    value = headers.get("cache-control") or headers.get("Cache-Control") or ""
    match = re.search(r"max-age=(\d+)", value)
    return float(match.group(1)) if match else CERTS_DEFAULT_SECONDS


_DEFAULT_CERTS = HttpCerts()  # one per process: certificates are shared by every request


# --- ID tokens ------------------------------------------------------------------------------------

def firebase_issuer(settings: Settings) -> str:
    """The only issuer of Firebase ID tokens accepted: this project's."""
    return FIREBASE_ISSUER_PREFIX + settings.project


def service_account_audiences(settings: Settings) -> tuple[str, ...]:
    """Audiences a service-account token may carry: AUTH_AUDIENCE, else the front door's STATUS_BASE_URL."""
    audiences = settings.auth_audience or (settings.status_base_url,)
    return tuple(a.rstrip("/") for a in audiences)


def service_account_user_id(email: str) -> str:
    """The user id of an allow-listed service account: `sa-` and its e-mail with `@` and `.` as `-`."""
    return (SERVICE_ACCOUNT_USER_PREFIX + re.sub(r"[^A-Za-z0-9_-]", "-", email.lower()))[:128]


def _unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The token's header and claims, not yet trusted (only to choose how to verify it)."""
    try:
        header = jwt.decode_header(token)
        claims = jwt.decode(token, verify=False)
    except (ValueError, TypeError, auth_exceptions.GoogleAuthError) as exc:
        raise Unauthenticated("malformed ID token") from exc
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise Unauthenticated("malformed ID token")
    if header.get("alg") != SIGNING_ALGORITHM or not header.get("kid"):
        raise Unauthenticated(f"ID token must be {SIGNING_ALGORITHM}-signed with a key id")
    return header, claims


def _verified(token: str, certs_url: str, audience: str | list[str], certs: CertSource) -> dict[str, Any]:
    """Signature (the header's kid among the certificates), exp and iat (with skew), audience."""
    try:
        claims = jwt.decode(token, certs=dict(certs(certs_url)), audience=audience,
                            clock_skew_in_seconds=CLOCK_SKEW_SECONDS)
    except (ValueError, TypeError, auth_exceptions.GoogleAuthError) as exc:
        error_id = log.new_error_id()  # the library's text goes to the log only (issue 15)
        log.warning("ID token rejected", error_id=error_id, reason=str(exc)[:300])
        raise Unauthenticated(f"ID token rejected (signature, expiry or audience); error id {error_id}") from exc
    return dict(claims)


def verify_firebase_token(token: str, settings: Settings, certs: CertSource) -> Identity:
    """A Firebase Authentication ID token of this project (issuer, audience, signature, times, subject)."""
    _unverified(token)
    url = settings.auth_certs_url or FIREBASE_CERTS_URL
    claims = _verified(token, url, settings.project, certs)
    if claims.get("iss") != firebase_issuer(settings):
        raise Unauthenticated("ID token from an unexpected issuer")
    auth_time = claims.get("auth_time")
    if not isinstance(auth_time, int | float) or auth_time > time.time() + CLOCK_SKEW_SECONDS:
        raise Unauthenticated("ID token has no valid auth_time")
    firebase = claims.get("firebase")
    if isinstance(firebase, dict) and firebase.get("sign_in_provider") == "anonymous":
        raise Unauthenticated("anonymous Firebase sign-ins are not accepted")
    subject = claims.get("sub")
    if not isinstance(subject, str) or not USER_ID.match(subject):
        raise Unauthenticated("ID token has no usable subject")
    return Identity(user_id=subject, method=METHOD_FIREBASE, email=claims.get("email"), name=claims.get("name"))


def verify_service_account_token(token: str, settings: Settings, certs: CertSource) -> Identity:
    """A Google-signed ID token of an allow-listed service account, addressed to this front door."""
    _, unverified = _unverified(token)
    allowed = settings.auth_service_accounts
    email = str(unverified.get("email") or "").lower()
    if email not in allowed:  # checked before any certificate fetch; again below on the verified claims
        raise Unauthenticated("service account not allowed (AUTH_SERVICE_ACCOUNTS)")
    audience = unverified.get("aud")
    accepted = service_account_audiences(settings)
    if not isinstance(audience, str) or not any(audience.rstrip("/") == a or audience.startswith(a + "/")
                                                for a in accepted):
        raise Unauthenticated("ID token is not addressed to this service (AUTH_AUDIENCE)")
    url = settings.auth_certs_url or GOOGLE_CERTS_URL
    claims = _verified(token, url, audience, certs)  # the audience checked above, now under the signature
    if claims.get("iss") not in GOOGLE_ISSUERS:
        raise Unauthenticated("ID token from an unexpected issuer")
    if str(claims.get("email") or "").lower() != email or claims.get("email_verified") is not True:
        raise Unauthenticated("service account e-mail missing or unverified")
    return Identity(user_id=service_account_user_id(email), method=METHOD_SERVICE_ACCOUNT, email=email)


def verify_id_token(token: str, settings: Settings, certs: CertSource | None = None) -> Identity:
    """A Firebase ID token of this project or an allow-listed service account's; Unauthenticated otherwise."""
    _, claims = _unverified(token)
    issuer = claims.get("iss")
    if issuer == firebase_issuer(settings):
        return verify_firebase_token(token, settings, certs or _DEFAULT_CERTS)
    if issuer in GOOGLE_ISSUERS:
        return verify_service_account_token(token, settings, certs or _DEFAULT_CERTS)
    raise Unauthenticated("ID token from an unexpected issuer")


# --- requests -------------------------------------------------------------------------------------

def _credential(request: flask.Request) -> str:
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip()
    return (request.headers.get(API_KEY_HEADER) or "").strip()


def authenticate(db: firestore.Client, settings: Settings, request: flask.Request,
                 certs: CertSource | None = None) -> Identity:
    """Verify the request's credentials as AUTH_MODE allows; Unauthenticated when missing or invalid."""
    credential = _credential(request)
    if not credential:
        raise Unauthenticated("authentication required: send an API key or an ID token")
    is_key = credential.startswith(f"{KEY_PREFIX}_")
    if is_key and settings.auth_mode in ("api_key", "both"):
        identity = verify_api_key(db, credential)
    elif not is_key and settings.auth_mode in ("id_token", "both"):
        identity = verify_id_token(credential, settings, certs)
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
