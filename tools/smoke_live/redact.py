"""Secrets out of a recording: API keys, tokens, signed URLs' signatures; base64 media cut short.

`scrub(value, secrets)` returns a JSON-able copy of `value` and the list of what it cut, so a recording keeps
the shape of every response (each key, each type, a valid base64 prefix of each payload) and none of the secrets.
`find_secrets(text, secrets)` is the last check before a file is kept.
"""
from __future__ import annotations

import re
import urllib.parse
from typing import Any

REDACTED = "<redacted>"
# Keys whose value is a credential, whatever its form (compared in lower case, without _ and -).
SECRET_KEYS = frozenset({"key", "apikey", "xgoogapikey", "accesstoken", "refreshtoken", "idtoken", "token",
                         "authorization", "clientsecret", "privatekey", "privatekeyid", "password", "secret"})
# Query parameters of API and signed URLs that carry a credential or a signature.
SECRET_PARAMS = frozenset({"key", "access_token", "token", "x-goog-signature", "x-goog-credential", "signature",
                           "googleaccessid", "sig", "x-amz-signature", "x-amz-credential"})
# Fields that hold base64 media (Veo inline videos and images, Gemini inline data).
MEDIA_KEYS = frozenset({"bytesBase64Encoded", "encodedVideo", "data", "imageBytes", "videoBytes", "image_bytes",
                        "video_bytes"})
KEEP_MEDIA_CHARS = 64  # a multiple of 4: the kept prefix is itself valid base64
LONG_BASE64_CHARS = 2048  # any longer base64-looking string is media too
_BASE64 = re.compile(r"^[A-Za-z0-9+/_-]+={0,2}$")
_PATTERNS = (
    re.compile(r"AIza[0-9A-Za-z_\-]{30,}"),  # Google API keys
    re.compile(r"ya29\.[0-9A-Za-z_\-.]+"),  # OAuth access tokens
    re.compile(r"1//[0-9A-Za-z_\-]{30,}"),  # OAuth refresh tokens
    re.compile(r"(?i)bearer\s+[0-9A-Za-z_\-.~+/]{16,}=*"),  # an Authorization value, not the word "bearer"
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
)
_URL_PARAM = re.compile(r"(?i)([?&](?:" + "|".join(re.escape(p) for p in SECRET_PARAMS) + r")=)[^&\s\"'#]+")


def _normal(key: str) -> str:
    return key.lower().replace("_", "").replace("-", "")


def scrub_text(text: str, secrets: list[str]) -> str:
    """`text` with every known secret, credential-looking token and signed-URL signature replaced."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    for pattern in _PATTERNS:
        text = pattern.sub(REDACTED, text)
    return _URL_PARAM.sub(lambda m: m.group(1) + REDACTED, text)


def scrub_url(url: str, secrets: list[str]) -> str:
    """A URL without credentials in its query (key=, signatures) or in its user info."""
    parts = urllib.parse.urlsplit(url)
    query = [(k, REDACTED if k.lower() in SECRET_PARAMS else v)
             for k, v in urllib.parse.parse_qsl(parts.query, keep_blank_values=True)]
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    cleaned = urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, urllib.parse.urlencode(query, safe="<>"),
                                       ""))
    return scrub_text(cleaned, secrets)


def _is_media(key: str, value: str) -> bool:
    if key in MEDIA_KEYS and len(value) > KEEP_MEDIA_CHARS:
        return True
    return len(value) > LONG_BASE64_CHARS and bool(_BASE64.match(value[:4096]))


def scrub(value: Any, secrets: list[str], path: str = "") -> tuple[Any, list[dict[str, Any]]]:
    """(a scrubbed copy of a JSON value, the media fields cut: [{path, original_chars, kept_chars}])."""
    cut: list[dict[str, Any]] = []

    def walk(item: Any, where: str, key: str) -> Any:
        if isinstance(item, dict):
            out = {}
            for k, v in item.items():
                child = f"{where}.{k}" if where else str(k)
                if _normal(str(k)) in SECRET_KEYS and isinstance(v, (str, int)) and v != "":
                    out[k] = REDACTED
                else:
                    out[k] = walk(v, child, str(k))
            return out
        if isinstance(item, list):
            return [walk(v, f"{where}.{i}" if where else str(i), key) for i, v in enumerate(item)]
        if isinstance(item, str):
            if _is_media(key, item):
                cut.append({"path": where, "original_chars": len(item), "kept_chars": KEEP_MEDIA_CHARS})
                return item[:KEEP_MEDIA_CHARS]
            return scrub_text(item, secrets)
        return item

    return walk(value, path, ""), cut


def find_secrets(text: str, secrets: list[str]) -> list[str]:
    """What in `text` still looks like a credential (empty when the text is clean); never the secret itself."""
    found = [f"a known secret ({len(s)} chars)" for s in secrets if s and s in text]
    found += [f"text matching {p.pattern[:24]}…" for p in _PATTERNS if p.search(text.replace(REDACTED, ""))]
    found += [f"a URL parameter {m.group(1)}" for m in _URL_PARAM.finditer(text) if not m.group(0).endswith(REDACTED)]
    return found
