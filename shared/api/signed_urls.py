"""Delivered files through short-lived V4 signed URLs only: the bucket stays private.

Production signs with the function's service account through the IAM signBlob API (no key file);
locally a throwaway service-account key, created at run time by the local cloud (SIGNING_KEY_FILE,
infra.local.signing_key), signs URLs that fake-gcs serves; tests check them with tests.support.check_signed_url.
"""
from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import Any

import google.auth
import google.auth.transport.requests
from google.cloud import storage
from google.oauth2 import service_account

from shared.core.config import Settings
from shared.core.errors import ConfigError, ErrorCode, InvalidInputError
from shared.core.storage import split_uri

MIN_SECONDS = 1
MAX_SECONDS = 7 * 24 * 3600  # the V4 maximum
# Status-document fields holding delivered files, by the name the API gives them.
DELIVERED = {"final_video": "final_video_url", "thumbnail": "thumbnail_url", "subtitles_srt": "srt_url",
             "subtitles_vtt": "vtt_url", "qa_report": "qa_report_url", "qa_report_md": "qa_report_md_url"}


@lru_cache(maxsize=4)
def _key_credentials(path: str) -> Any:
    return service_account.Credentials.from_service_account_file(path)


def _signing_kwargs(settings: Settings) -> dict[str, Any]:
    """Credentials for generate_signed_url: a key file, or the runtime service account via IAM signBlob."""
    if settings.signing_key_file:
        return {"credentials": _key_credentials(settings.signing_key_file)}
    if settings.is_local:
        raise ConfigError("SIGNING_KEY_FILE is not set: the local cloud creates one (python -m infra.local.cloud up)")
    credentials, _ = google.auth.default(scopes=["https://www.googleapis.com/auth/cloud-platform"])
    credentials.refresh(google.auth.transport.requests.Request())
    # The runtime's default credentials are a service account's (compute credentials carry its email).
    email = getattr(credentials, "service_account_email", None)
    if not email:
        raise ConfigError("the runtime credentials have no service account to sign URLs with")
    return {"service_account_email": email, "access_token": credentials.token}


def lifetime(settings: Settings, seconds: int | None) -> int:
    """A URL lifetime within [1 s, the configured default]."""
    wanted = settings.signed_url_seconds if seconds is None else seconds
    if not MIN_SECONDS <= wanted <= min(MAX_SECONDS, max(settings.signed_url_seconds, MIN_SECONDS)):
        raise InvalidInputError(f"ttl must lie within {MIN_SECONDS}-{settings.signed_url_seconds} s",
                                code=ErrorCode.INVALID_TTL, field="ttl")
    return wanted


def signed_url(client: storage.Client, settings: Settings, uri: str, seconds: int | None = None,
               now: dt.datetime | None = None) -> dict[str, Any]:
    """{url, expires_at} of a GET V4 signed URL for a gs:// object."""
    ttl = lifetime(settings, seconds)
    bucket, path = split_uri(uri)
    blob = client.bucket(bucket).blob(path)
    issued = now or dt.datetime.now(dt.UTC)
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
