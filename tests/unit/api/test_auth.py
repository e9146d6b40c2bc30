"""ID-token verification with a locally generated RSA key and certificate (no network), API-key parsing
and request authentication modes."""
from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import replace
from typing import Any

import flask
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from google.auth import crypt, jwt

from shared.api import auth
from shared.core.config import settings_from_env

PROJECT = "demo-auth"
SETTINGS = replace(settings_from_env({"GOOGLE_CLOUD_PROJECT": PROJECT}), auth_mode="id_token")


def _key_and_cert(kid: str) -> tuple[crypt.RSASigner, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test-signer")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    return crypt.RSASigner.from_string(pem, key_id=kid), cert.public_bytes(serialization.Encoding.PEM).decode()


SIGNER, CERT = _key_and_cert("k1")
OTHER_SIGNER, _ = _key_and_cert("k1")


class _Response:
    status = 200

    def __init__(self, body: dict[str, str]) -> None:
        self.data = json.dumps(body).encode()
        self.headers: dict[str, str] = {}


class FakeCerts:
    """A google-auth transport serving the test certificate; records the URLs asked for."""

    def __init__(self) -> None:
        self.urls: list[str] = []

    def __call__(self, url: str, method: str = "GET", **_: Any) -> _Response:
        self.urls.append(url)
        return _Response({"k1": CERT})


def _token(signer: crypt.RSASigner = SIGNER, **claims: Any) -> str:
    now = int(time.time())
    payload = {"iss": f"https://securetoken.google.com/{PROJECT}", "aud": PROJECT, "sub": "uid123",
               "iat": now, "exp": now + 600, "email": "ada@example.com", "name": "Ada Lovelace", **claims}
    return jwt.encode(signer, payload).decode()


def test_a_firebase_token_verifies_against_the_firebase_certificates():
    transport = FakeCerts()
    identity = auth.verify_id_token(_token(), SETTINGS, transport)
    assert (identity.user_id, identity.method, identity.email) == ("uid123", "id_token", "ada@example.com")
    assert transport.urls == [auth.FIREBASE_CERTS_URL]
    assert identity.personal_fields == ("ada@example.com", "Ada Lovelace")


def test_a_google_token_verifies_against_the_google_certificates():
    transport = FakeCerts()
    identity = auth.verify_id_token(_token(iss="https://accounts.google.com"), SETTINGS, transport)
    assert identity.user_id == "uid123" and transport.urls == [auth.GOOGLE_CERTS_URL]


@pytest.mark.parametrize("claims, signer", [
    ({"aud": "another-project"}, SIGNER),
    ({"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200}, SIGNER),
    ({"iss": "https://evil.example.com"}, SIGNER),
    ({}, OTHER_SIGNER),
    ({"sub": "has spaces/and slashes"}, SIGNER),
    ({"sub": "__proto__"}, SIGNER),  # Firestore refuses such document ids (a 500, found by the fuzz suite)
])
def test_bad_tokens_are_refused(claims, signer):
    with pytest.raises(auth.Unauthenticated):
        auth.verify_id_token(_token(signer, **claims), SETTINGS, FakeCerts())


def test_garbage_is_not_a_token():
    with pytest.raises(auth.Unauthenticated):
        auth.verify_id_token("not.a.jwt", SETTINGS, FakeCerts())


def _request(headers: dict[str, str]) -> flask.Request:
    app = flask.Flask("t")
    with app.test_request_context("/videos", headers=headers):
        return flask.request._get_current_object()  # type: ignore[attr-defined]


def test_authenticate_attaches_the_identity_and_respects_the_mode():
    request = _request({"Authorization": f"Bearer {_token()}"})
    identity = auth.authenticate(None, SETTINGS, request, FakeCerts())  # type: ignore[arg-type]
    assert auth.identity_of(request) == identity
    with pytest.raises(auth.Unauthenticated, match="not accepted"):
        auth.authenticate(None, SETTINGS, _request({"X-API-Key": "vk_" + "0" * 16 + "_" + "0" * 48}))  # type: ignore[arg-type]
    key_only = replace(SETTINGS, auth_mode="api_key")
    with pytest.raises(auth.Unauthenticated, match="not accepted"):
        auth.authenticate(None, key_only, _request({"Authorization": f"Bearer {_token()}"}))  # type: ignore[arg-type]
    with pytest.raises(auth.Unauthenticated, match="required"):
        auth.authenticate(None, SETTINGS, _request({}))  # type: ignore[arg-type]


def test_malformed_api_keys_are_refused_before_any_lookup():
    for key in ("vk_short_secret", "vk_" + "g" * 16 + "_" + "0" * 48, "bearer-token"):
        with pytest.raises(auth.Unauthenticated):
            auth.verify_api_key(None, key)  # type: ignore[arg-type]


def test_auth_mode_defaults_follow_the_environment():
    assert settings_from_env({}).auth_mode == "api_key"
    production = {"PIPELINE_ENV": "production", "GOOGLE_CLOUD_PROJECT": "p", "PIPELINE_BUCKET": "b",
                  "STATUS_BASE_URL": "https://x", "GEMINI_API_KEY": "k"}
    assert settings_from_env(production).auth_mode == "id_token"
    assert settings_from_env(production).cors_origins == ()
    assert settings_from_env({**production, "AUTH_MODE": "both"}).auth_mode == "both"
