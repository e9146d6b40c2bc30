"""Cloud Storage objects addressed by gs:// URIs."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import google.cloud.storage as storage
from google.api_core import exceptions as gexc

from shared.core.errors import PermanentError, TransientError


def gs_uri(bucket: str, path: str) -> str:
    return f"gs://{bucket}/{path}"


def split_uri(uri: str) -> tuple[str, str]:
    """('bucket', 'path/in/bucket') of a gs:// URI."""
    if not uri.startswith("gs://") or "/" not in uri[5:]:
        raise PermanentError(f"not a gs:// object URI: {uri!r}")
    bucket, _, path = uri[5:].partition("/")
    return bucket, path


def _blob(client: storage.Client, uri: str) -> storage.Blob:
    bucket, path = split_uri(uri)
    return client.bucket(bucket).blob(path)


def _transient(action: str, uri: str, exc: Exception) -> TransientError:
    return TransientError(f"{action} {uri} failed: {exc}")


def upload_file(client: storage.Client, uri: str, local: Path, content_type: str) -> str:
    """Upload a local file; returns its URI."""
    try:
        _blob(client, uri).upload_from_filename(str(local), content_type=content_type)
    except gexc.GoogleAPICallError as exc:
        raise _transient("upload to", uri, exc) from exc
    return uri


def upload_bytes(client: storage.Client, uri: str, data: bytes, content_type: str) -> str:
    """Upload bytes; returns the URI."""
    try:
        _blob(client, uri).upload_from_string(data, content_type=content_type)
    except gexc.GoogleAPICallError as exc:
        raise _transient("upload to", uri, exc) from exc
    return uri


def upload_json(client: storage.Client, uri: str, value: Any) -> str:
    """Upload a JSON document; returns the URI."""
    data = json.dumps(value, ensure_ascii=False, indent=2).encode()
    return upload_bytes(client, uri, data, "application/json")


def download_file(client: storage.Client, uri: str, local: Path) -> Path:
    """Download an object to a local path."""
    try:
        _blob(client, uri).download_to_filename(str(local))
    except gexc.NotFound as exc:
        raise PermanentError(f"object {uri} does not exist") from exc
    except gexc.GoogleAPICallError as exc:
        raise _transient("download of", uri, exc) from exc
    return local


def read_json(client: storage.Client, uri: str) -> Any:
    """Read a JSON object."""
    try:
        return json.loads(_blob(client, uri).download_as_bytes())
    except gexc.NotFound as exc:
        raise PermanentError(f"object {uri} does not exist") from exc
    except gexc.GoogleAPICallError as exc:
        raise _transient("read of", uri, exc) from exc


def read_json_under(client: storage.Client, prefix_uri: str) -> dict[str, Any]:
    """Every JSON object under a gs:// prefix, by object URI (an empty dict when there is none)."""
    bucket, prefix = split_uri(prefix_uri)
    try:
        return {gs_uri(bucket, blob.name): json.loads(blob.download_as_bytes())
                for blob in client.list_blobs(bucket, prefix=prefix)}
    except gexc.NotFound:
        return {}
    except gexc.GoogleAPICallError as exc:
        raise _transient("listing of", prefix_uri, exc) from exc
