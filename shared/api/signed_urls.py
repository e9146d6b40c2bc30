"""Delivered files through short-lived V4 signed URLs only: the bucket stays private.

Production signs with the function's service account through the IAM signBlob API (no key file);
locally a throwaway service-account key, created at run time by the local cloud (SIGNING_KEY_FILE),
signs URLs that fake-gcs serves.
"""
from __future__ import annotations

import datetime as dt
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from google.cloud import storage

from shared.core.config import Settings
from shared.core.errors import ConfigError, InvalidInputError
from shared.core.storage import split_uri

MIN_SECONDS = 1
MAX_SECONDS = 7 * 24 * 3600  # the V4 maximum
# Status-document fields holding delivered files, by the name the API gives them.
DELIVERED = {"final_video": "final_video_url", "thumbnail": "thumbnail_url", "subtitles_srt": "srt_url",
             "subtitles_vtt": "vtt_url", "qa_report": "qa_report_url", "qa_report_md": "qa_report_md_url"}


@lru_cache(maxsize=4)
def _key_credentials(path: str) -> Any:
    from google.oauth2 import service_account

    return service_account.Credentials.from_service_account_file(path)


def _signing_kwargs(settings: Settings) -> dict[str, Any]:
    """Credentials for generate_signed_url: a key file, or the runtime service account via IAM signBlob."""
    if settings.signing_key_file:
        return {"credentials": _key_credentials(settings.signing_key_file)}
    if settings.is_local:
        raise ConfigError("SIGNING_KEY_FILE is not set: the local cloud creates one (python -m infra.local.cloud up)")
    import google.auth
    import google.auth.transport.requests

    credentials, _ = google.auth.default(scopes=["https://www.googleapis.com/auth/cloud-platform"])
    credentials.refresh(google.auth.transport.requests.Request())
    return {"service_account_email": credentials.service_account_email, "access_token": credentials.token}


def lifetime(settings: Settings, seconds: int | None) -> int:
    """A URL lifetime within [1 s, the configured default]."""
    wanted = settings.signed_url_seconds if seconds is None else seconds
    if not MIN_SECONDS <= wanted <= min(MAX_SECONDS, max(settings.signed_url_seconds, MIN_SECONDS)):
        raise InvalidInputError(f"ttl must lie within {MIN_SECONDS}-{settings.signed_url_seconds} s",
                                code="invalid_ttl", field="ttl")
    return wanted


def signed_url(client: storage.Client, settings: Settings, uri: str, seconds: int | None = None,
               now: dt.datetime | None = None) -> dict[str, Any]:
    """{url, expires_at} of a GET V4 signed URL for a gs:// object."""
    ttl = lifetime(settings, seconds)
    bucket, path = split_uri(uri)
    blob = client.bucket(bucket).blob(path)
    issued = now or dt.datetime.now(dt.timezone.utc)
    url = blob.generate_signed_url(version="v4", method="GET", expiration=dt.timedelta(seconds=ttl),
                                   api_access_endpoint=settings.signed_url_endpoint,
                                   **_signing_kwargs(settings))
    return {"url": url, "expires_at": (issued + dt.timedelta(seconds=ttl)).isoformat()}


def delivered_files(client: storage.Client, settings: Settings, doc: dict[str, Any],
                    seconds: int | None = None) -> dict[str, Any]:
    """Signed URLs of every delivered file a status document names (renditions included)."""
    files = {name: signed_url(client, settings, doc[field], seconds)
             for name, field in DELIVERED.items() if doc.get(field)}
    for name, uri in (doc.get("rendition_urls") or {}).items():
        files[f"rendition_{name}"] = signed_url(client, settings, uri, seconds)
    return files


def write_throwaway_key(path: Path, project: str) -> Path:
    """Create (once) a local service-account key that signs URLs for fake-gcs; never a real account."""
    if path.exists():
        return path
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({
        "type": "service_account", "project_id": project, "private_key_id": "local-throwaway",
        "private_key": pem, "client_email": f"local-signer@{project}.iam.gserviceaccount.com",
        "client_id": "0", "token_uri": "https://oauth2.googleapis.com/token"}))
    path.chmod(0o600)
    return path


def check_signed_url(url: str, key_file: str, now: dt.datetime | None = None) -> str | None:
    """Why a V4 signed URL would be refused (bad signature, expired), or None when it is valid.

    Cloud Storage does this check itself; fake-gcs does not, so local tests verify URLs with it.
    """
    import hashlib
    import urllib.parse

    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding

    parts = urllib.parse.urlsplit(url)
    query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    params = dict(query)
    signature = params.get("X-Goog-Signature", "")
    canonical_query = "&".join(f"{urllib.parse.quote(k, safe='~')}={urllib.parse.quote(v, safe='~')}"
                               for k, v in sorted(query) if k != "X-Goog-Signature")
    canonical = "\n".join(["GET", parts.path, canonical_query, f"host:{parts.netloc}", "", "host",
                           "UNSIGNED-PAYLOAD"])
    scope = params.get("X-Goog-Credential", "").split("/", 1)[-1]
    to_sign = "\n".join(["GOOG4-RSA-SHA256", params.get("X-Goog-Date", ""), scope,
                         hashlib.sha256(canonical.encode()).hexdigest()])
    private = serialization.load_pem_private_key(json.loads(Path(key_file).read_text())["private_key"].encode(),
                                                 password=None)
    try:
        private.public_key().verify(bytes.fromhex(signature), to_sign.encode(),  # type: ignore[union-attr,call-arg]
                                    padding.PKCS1v15(), hashes.SHA256())  # type: ignore[call-arg]
    except (InvalidSignature, ValueError):
        return "signature does not match"
    issued = dt.datetime.strptime(params["X-Goog-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.timezone.utc)
    expires = issued + dt.timedelta(seconds=int(params["X-Goog-Expires"]))
    if (now or dt.datetime.now(dt.timezone.utc)) > expires:
        return f"expired at {expires.isoformat()}"
    return None
