"""Front-door identity with locally signed tokens (an RSA key and certificate made here, no network): Firebase ID
tokens of this project only, allow-listed service accounts only, API-key parsing, request authentication modes,
the certificate cache, and the same checks through the real request path (shared.api.routes.handle_request)."""
from __future__ import annotations

import base64
import json
import time
from dataclasses import replace
from typing import Any

import flask
import pytest
from google.auth import crypt

from shared.api import auth, routes
from shared.core.clients import Clients
from shared.core.config import settings_from_env
from shared.core.errors import ConfigError, TransientError
from tests.id_tokens import CERT, CERTS, OTHER_SIGNER, SIGNER, UNKNOWN_KID_SIGNER, firebase_token, service_account_token

PROJECT = "demo-auth"
FRONT_DOOR = "https://europe-west1-demo-auth.cloudfunctions.net/prod-agent-script"
SCHEDULER = "scheduler@demo-auth.iam.gserviceaccount.com"
SETTINGS = replace(settings_from_env({"GOOGLE_CLOUD_PROJECT": PROJECT, "STATUS_BASE_URL": FRONT_DOOR,
                                      "AUTH_SERVICE_ACCOUNTS": SCHEDULER}), auth_mode="id_token")
FIREBASE_ISSUER = f"https://securetoken.google.com/{PROJECT}"


class FakeCerts:
    """A CertSource serving the test certificate; records the URLs asked for."""

    def __init__(self) -> None:
        self.urls: list[str] = []

    def __call__(self, url: str) -> dict[str, str]:
        self.urls.append(url)
        return dict(CERTS)


def _firebase(signer: crypt.RSASigner = SIGNER, **claims: Any) -> str:
    return firebase_token(PROJECT, signer, **claims)


def _service_account(signer: crypt.RSASigner = SIGNER, **claims: Any) -> str:
    return service_account_token(claims.pop("aud", FRONT_DOOR), claims.pop("email", SCHEDULER), signer, **claims)


def _unsigned(header: dict[str, Any], claims: dict[str, Any]) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()
    return f"{part(header)}.{part(claims)}.{base64.urlsafe_b64encode(b'sig').rstrip(b'=').decode()}"


# --- Firebase ID tokens ----------------------------------------------------------------------------

def test_a_firebase_token_of_the_project_verifies_against_the_firebase_certificates():
    certs = FakeCerts()
    identity = auth.verify_id_token(_firebase(), SETTINGS, certs)
    assert (identity.user_id, identity.method, identity.email) == ("uid123", "firebase", "ada@example.com")
    assert certs.urls == [auth.FIREBASE_CERTS_URL]
    assert identity.personal_fields == ("ada@example.com", "Ada Lovelace")


@pytest.mark.parametrize("claims, signer", [
    # another project's Firebase token: its issuer, its audience, or both
    ({"iss": "https://securetoken.google.com/another-project"}, SIGNER),
    ({"aud": "another-project"}, SIGNER),
    ({"iss": "https://securetoken.google.com/another-project", "aud": "another-project"}, SIGNER),
    ({"aud": [PROJECT, "another-project"]}, SIGNER),
    # times
    ({"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200}, SIGNER),  # expired
    ({"iat": int(time.time()) + 3600, "exp": int(time.time()) + 7200}, SIGNER),  # issued in the future
    ({"auth_time": int(time.time()) + 3600}, SIGNER),  # signed in in the future
    ({"auth_time": None}, SIGNER),  # no auth_time
    # signature
    ({}, OTHER_SIGNER),  # the published key id, another key
    ({}, UNKNOWN_KID_SIGNER),  # a key id Firebase did not publish
    # subject
    ({"sub": None}, SIGNER),
    ({"sub": ""}, SIGNER),
    ({"sub": "has spaces/and slashes"}, SIGNER),
    ({"sub": "x" * 129}, SIGNER),
    ({"sub": "__proto__"}, SIGNER),  # Firestore refuses such document ids (a 500, found by the fuzz suite)
    # anonymous sign-ins would be unlimited free users again
    ({"firebase": {"sign_in_provider": "anonymous"}}, SIGNER),
    # issuers that were never this project's Firebase
    ({"iss": "https://evil.example.com"}, SIGNER),
    ({"iss": None}, SIGNER),
])
def test_bad_firebase_tokens_are_refused(claims, signer):
    with pytest.raises(auth.Unauthenticated):
        auth.verify_id_token(_firebase(signer, **claims), SETTINGS, FakeCerts())


def test_another_projects_token_is_refused_before_any_certificate_fetch():
    certs = FakeCerts()
    token = _firebase(iss="https://securetoken.google.com/another-project", aud="another-project")
    with pytest.raises(auth.Unauthenticated, match="unexpected issuer"):
        auth.verify_id_token(token, SETTINGS, certs)
    assert certs.urls == []


@pytest.mark.parametrize("header", [
    {"alg": "none", "kid": "k1"},
    {"alg": "HS256", "kid": "k1"},
    {"alg": "RS256"},  # no key id
])
def test_tokens_not_rs256_with_a_key_id_are_refused(header):
    now = int(time.time())
    claims = {"iss": FIREBASE_ISSUER, "aud": PROJECT, "sub": "uid123", "iat": now, "exp": now + 600,
              "auth_time": now}
    with pytest.raises(auth.Unauthenticated):
        auth.verify_id_token(_unsigned(header, claims), SETTINGS, FakeCerts())


@pytest.mark.parametrize("token", ["not.a.jwt", "", "a.b", "vk_nothing", "eyJhbGciOiJSUzI1NiJ9.e30"])
def test_garbage_is_not_a_token(token):
    with pytest.raises(auth.Unauthenticated):
        auth.verify_id_token(token, SETTINGS, FakeCerts())


# --- service accounts ------------------------------------------------------------------------------

def test_an_allow_listed_service_account_addressed_to_the_front_door_is_accepted():
    certs = FakeCerts()
    identity = auth.verify_id_token(_service_account(), SETTINGS, certs)
    assert identity.method == "service_account"
    assert identity.user_id == "sa-scheduler-demo-auth-iam-gserviceaccount-com"
    assert auth.USER_ID.match(identity.user_id)
    assert certs.urls == [auth.GOOGLE_CERTS_URL]
    # Cloud Scheduler's default audience is the job's full target URL: a URL below the front door
    assert auth.verify_id_token(_service_account(aud=f"{FRONT_DOOR}/videos"), SETTINGS, FakeCerts()).user_id
    # e-mails compare case-insensitively, issuers with or without the scheme
    upper = _service_account(email=SCHEDULER.upper(), iss="accounts.google.com")
    assert auth.verify_id_token(upper, SETTINGS, FakeCerts()).user_id == identity.user_id


@pytest.mark.parametrize("claims, signer", [
    ({"email": "backend@another-project.iam.gserviceaccount.com"}, SIGNER),  # not on the allow-list
    ({"email": "someone@gmail.com"}, SIGNER),  # a Google account
    ({"email": None}, SIGNER),  # a token minted without --include-email / format=full
    ({"email_verified": None}, SIGNER),
    ({"email_verified": False}, SIGNER),
    ({"aud": PROJECT}, SIGNER),  # the old hole: audience = the project id
    ({"aud": "https://other-service-123.a.run.app"}, SIGNER),
    ({"aud": FRONT_DOOR + "-evil"}, SIGNER),  # a look-alike prefix
    ({"aud": [FRONT_DOOR]}, SIGNER),
    ({"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200}, SIGNER),
    ({"iss": "https://evil.example.com"}, SIGNER),
    ({}, OTHER_SIGNER),
])
def test_bad_service_account_tokens_are_refused(claims, signer):
    with pytest.raises(auth.Unauthenticated):
        auth.verify_id_token(_service_account(signer, **claims), SETTINGS, FakeCerts())


def test_a_service_account_not_on_the_list_costs_no_certificate_fetch():
    certs = FakeCerts()
    with pytest.raises(auth.Unauthenticated, match="not allowed"):
        auth.verify_id_token(_service_account(email="x@another.iam.gserviceaccount.com"), SETTINGS, certs)
    nobody = replace(SETTINGS, auth_service_accounts=())
    with pytest.raises(auth.Unauthenticated, match="not allowed"):
        auth.verify_id_token(_service_account(), nobody, certs)
    assert certs.urls == []


def test_auth_audience_replaces_the_front_door_url():
    custom = replace(SETTINGS, auth_audience=("https://api.example.com", "https://prod-agent-script-42.run.app/"))
    for audience in ("https://api.example.com", "https://prod-agent-script-42.run.app",
                     "https://prod-agent-script-42.run.app/me"):
        assert auth.verify_id_token(_service_account(aud=audience), custom, FakeCerts()).method == "service_account"
    with pytest.raises(auth.Unauthenticated, match="AUTH_AUDIENCE"):
        auth.verify_id_token(_service_account(), custom, FakeCerts())


# --- certificates ----------------------------------------------------------------------------------

class _Response:
    def __init__(self, status: int, body: object, cache_control: str | None = None) -> None:
        self.status = status
        self.data = json.dumps(body).encode()
        self.headers = {"Cache-Control": cache_control} if cache_control else {}


class FakeTransport:
    """A google-auth transport answering every GET with `response`; counts the calls."""

    def __init__(self, response: _Response) -> None:
        self.response = response
        self.calls = 0

    def __call__(self, url: str, method: str = "GET", **_: Any) -> _Response:
        self.calls += 1
        return self.response


def test_certificates_are_kept_for_their_max_age():
    now = [1000.0]
    transport = FakeTransport(_Response(200, {"k1": CERT}, "public, max-age=600, must-revalidate"))
    certs = auth.HttpCerts(transport, clock=lambda: now[0])  # type: ignore[arg-type]
    assert auth.verify_id_token(_firebase(), SETTINGS, certs).user_id == "uid123"
    now[0] += 599
    assert certs(auth.FIREBASE_CERTS_URL) == {"k1": CERT} and transport.calls == 1
    now[0] += 2
    certs(auth.FIREBASE_CERTS_URL)
    assert transport.calls == 2


@pytest.mark.parametrize("response", [_Response(503, {}), _Response(200, ["not", "a", "map"])])
def test_unavailable_certificates_are_transient_not_a_refusal(response):
    certs = auth.HttpCerts(FakeTransport(response))  # type: ignore[arg-type]
    with pytest.raises(TransientError):
        auth.verify_id_token(_firebase(), SETTINGS, certs)


def test_auth_certs_url_points_both_issuers_at_one_source():
    local = replace(SETTINGS, auth_certs_url="http://127.0.0.1:9999/certs")
    certs = FakeCerts()
    auth.verify_id_token(_firebase(), local, certs)
    auth.verify_id_token(_service_account(), local, certs)
    assert certs.urls == ["http://127.0.0.1:9999/certs"] * 2


# --- requests --------------------------------------------------------------------------------------

def _request(headers: dict[str, str]) -> flask.Request:
    app = flask.Flask("t")
    with app.test_request_context("/videos", headers=headers):
        return flask.request._get_current_object()  # type: ignore[attr-defined]


def test_authenticate_attaches_the_identity_and_respects_the_mode():
    request = _request({"Authorization": f"Bearer {_firebase()}"})
    identity = auth.authenticate(None, SETTINGS, request, FakeCerts())  # type: ignore[arg-type]
    assert auth.identity_of(request) == identity
    with pytest.raises(auth.Unauthenticated, match="not accepted"):
        auth.authenticate(None, SETTINGS, _request({"X-API-Key": "vk_" + "0" * 16 + "_" + "0" * 48}))  # type: ignore[arg-type]
    key_only = replace(SETTINGS, auth_mode="api_key")
    for token in (_firebase(), _service_account()):
        with pytest.raises(auth.Unauthenticated, match="not accepted"):
            auth.authenticate(None, key_only, _request({"Authorization": f"Bearer {token}"}))  # type: ignore[arg-type]
    with pytest.raises(auth.Unauthenticated, match="required"):
        auth.authenticate(None, SETTINGS, _request({}))  # type: ignore[arg-type]


def test_malformed_api_keys_are_refused_before_any_lookup():
    for key in ("vk_short_secret", "vk_" + "g" * 16 + "_" + "0" * 48, "bearer-token"):
        with pytest.raises(auth.Unauthenticated):
            auth.verify_api_key(None, key)  # type: ignore[arg-type]


BODY = {"theme": "A lighthouse keeper who befriends a storm"}


def _through_the_front_door(token: str, settings=SETTINGS, certs: auth.CertSource | None = None):
    """POST /estimate (no Firestore needed) through routes.handle_request; the response and the identity."""
    clients = Clients(settings=settings, db=None, publisher=None, storage=None, genai=None)  # type: ignore[arg-type]
    app = flask.Flask("front-door")
    with app.test_request_context("/estimate", method="POST", json=BODY,
                                  headers={"Authorization": f"Bearer {token}"}):
        response = routes.handle_request(clients, flask.request, certs or FakeCerts())
        identity = flask.request.environ.get(auth.ENVIRON_KEY)
    return response, identity


def test_the_front_door_accepts_this_projects_firebase_users_and_allow_listed_service_accounts():
    response, identity = _through_the_front_door(_firebase())
    assert response.status_code == 200 and response.get_json()["would_run"]
    assert (identity.user_id, identity.method) == ("uid123", "firebase")
    response, identity = _through_the_front_door(_service_account())
    assert response.status_code == 200 and identity.method == "service_account"
    both = replace(SETTINGS, auth_mode="both")
    assert _through_the_front_door(_firebase(), both)[0].status_code == 200


@pytest.mark.parametrize("token", [
    _firebase(iss="https://securetoken.google.com/another-project", aud="another-project"),
    _firebase(aud="another-project"),
    _firebase(exp=int(time.time()) - 3600, iat=int(time.time()) - 7200),
    _firebase(OTHER_SIGNER),
    _service_account(email="backend@another-project.iam.gserviceaccount.com"),
    _service_account(aud=PROJECT),
    "not-a-token",
])
def test_the_front_door_answers_401_in_the_api_error_shape(token):
    response, identity = _through_the_front_door(token)
    assert response.status_code == 401 and identity is None
    assert response.get_json()["error"]["code"] == "unauthenticated"
    assert response.get_json()["error"]["message"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_the_front_door_answers_503_when_the_certificates_cannot_be_fetched():
    certs = auth.HttpCerts(FakeTransport(_Response(500, {})))  # type: ignore[arg-type]
    response, _ = _through_the_front_door(_firebase(), certs=certs)
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "upstream_unavailable"


# --- settings --------------------------------------------------------------------------------------

PRODUCTION = {"PIPELINE_ENV": "production", "GOOGLE_CLOUD_PROJECT": "p", "PIPELINE_BUCKET": "b",
              "STATUS_BASE_URL": "https://x", "GEMINI_API_KEY": "k"}


def test_auth_mode_defaults_follow_the_environment():
    assert settings_from_env({}).auth_mode == "api_key"
    assert settings_from_env(PRODUCTION).auth_mode == "both"
    assert settings_from_env(PRODUCTION).cors_origins == ()
    assert settings_from_env(PRODUCTION).auth_service_accounts == ()
    assert settings_from_env({**PRODUCTION, "AUTH_MODE": "id_token"}).auth_mode == "id_token"
    with pytest.raises(ConfigError):
        settings_from_env({**PRODUCTION, "AUTH_MODE": "anyone"})


def test_auth_lists_are_parsed():
    settings = settings_from_env({
        "AUTH_SERVICE_ACCOUNTS": " Scheduler@P.iam.gserviceaccount.com ,b@p.iam.gserviceaccount.com",
        "AUTH_AUDIENCE": "https://a.example.com, https://b.example.com"})
    assert settings.auth_service_accounts == ("scheduler@p.iam.gserviceaccount.com", "b@p.iam.gserviceaccount.com")
    assert settings.auth_audience == ("https://a.example.com", "https://b.example.com")
    assert auth.service_account_audiences(settings_from_env({"STATUS_BASE_URL": "https://x/"})) == ("https://x",)
    with pytest.raises(ConfigError, match="AUTH_SERVICE_ACCOUNTS"):
        settings_from_env({"AUTH_SERVICE_ACCOUNTS": "scheduler"})


def test_a_local_certificate_source_is_refused_in_production():
    assert settings_from_env({"AUTH_CERTS_URL": "http://127.0.0.1:1/certs"}).auth_certs_url
    with pytest.raises(ConfigError, match="AUTH_CERTS_URL"):
        settings_from_env({**PRODUCTION, "AUTH_CERTS_URL": "http://127.0.0.1:1/certs"})
