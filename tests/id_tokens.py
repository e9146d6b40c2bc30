"""Locally signed ID tokens for tests (no network): an RSA key with a self-signed certificate, as Google publishes
its signing keys ({kid: PEM certificate}), and Firebase / service-account ID tokens signed with it.

A claim given as None is left out of the token."""
from __future__ import annotations

import datetime as dt
import time
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from google.auth import crypt, jwt

KID = "k1"


def key_and_cert() -> tuple[bytes, str]:
    """A new RSA private key (PEM) and a self-signed certificate of its public key (PEM)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test-signer")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    return pem, cert.public_bytes(serialization.Encoding.PEM).decode()


KEY, CERT = key_and_cert()  # the published key: CERTS is what the certificate URL serves
CERTS = {KID: CERT}
SIGNER = crypt.RSASigner.from_string(KEY, key_id=KID)
OTHER_SIGNER = crypt.RSASigner.from_string(key_and_cert()[0], key_id=KID)  # the published key id, another key
UNKNOWN_KID_SIGNER = crypt.RSASigner.from_string(KEY, key_id="k9")  # the right key under an unpublished key id


def signed(signer: crypt.RSASigner, claims: dict[str, Any]) -> str:
    return jwt.encode(signer, {k: v for k, v in claims.items() if v is not None}).decode()


def firebase_token(project: str, signer: crypt.RSASigner = SIGNER, **claims: Any) -> str:
    """A Firebase Authentication ID token of `project` (email/password sign-in a minute ago)."""
    now = int(time.time())
    return signed(signer, {"iss": f"https://securetoken.google.com/{project}", "aud": project, "sub": "uid123",
                           "iat": now, "exp": now + 600, "auth_time": now - 60, "email": "ada@example.com",
                           "name": "Ada Lovelace", "firebase": {"sign_in_provider": "password"}, **claims})


def service_account_token(audience: str, email: str, signer: crypt.RSASigner = SIGNER, **claims: Any) -> str:
    """A Google-signed ID token of a service account (with its e-mail, as `--include-email` / format=full)."""
    now = int(time.time())
    return signed(signer, {"iss": "https://accounts.google.com", "aud": audience, "sub": "104857600000000000001",
                           "azp": "104857600000000000001", "email": email, "email_verified": True,
                           "iat": now, "exp": now + 600, **claims})
