"""Script cache: the same user's same request (theme normalised, style, language, character, preset, blocks)
reuses a script written in the last SCRIPT_CACHE_DAYS (7) days instead of asking Gemini again.

Firestore `script_cache/{sha256}` {key_fields, script, created_at, expires_at, hits}. Expired entries
are ignored on read; in production a TTL policy on `expires_at` deletes them (infra/gcp).

Privacy (issue 15): the key hashes the user's id with the request, so one user's hit never tells what another
asked; the entry stores the theme with personal details already removed (shared.api.privacy) and no user id;
deleting a video deletes the entry its script came from (`purge`, from the key on the job).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import unicodedata
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import firestore

from shared.core import layout, log

_SPACES = re.compile(r"\s+")
_EDGE_PUNCTUATION = " .!?,;:…\"'«»“”"


def normalise_theme(theme: str) -> str:
    """Case, Unicode form, spacing and surrounding punctuation do not make a different theme."""
    text = unicodedata.normalize("NFKC", theme).casefold()
    return _SPACES.sub(" ", text).strip(_EDGE_PUNCTUATION)


def key_fields(theme: str, style: str, language: str, character_id: str | None, preset: str,
               blocks: int) -> dict[str, Any]:
    """What identifies a script (stored with it; `theme` must already be free of personal details)."""
    return {"theme": normalise_theme(theme), "style": style, "language": language,
            "character_id": character_id or None, "preset": preset, "blocks": blocks}


def cache_key(owner: str, fields: dict[str, Any]) -> str:
    """The hash a script is stored under: per user, so no user can find out what another asked."""
    keyed = {"owner": owner, **fields}
    return hashlib.sha256(json.dumps(keyed, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def lookup(db: firestore.Client, key: str, now: dt.datetime) -> dict[str, Any] | None:
    """The cached entry ({script, created_at, …}) when present and not expired; counts the hit."""
    ref = db.collection(layout.SCRIPT_CACHE).document(key)
    snap = ref.get()
    if not snap.exists:
        return None
    entry = snap.to_dict() or {}
    if entry.get("expires_at") is None or entry["expires_at"] <= now:
        return None
    ref.update({"hits": firestore.Increment(1), "last_hit_at": now})
    return entry


def store(db: firestore.Client, key: str, fields: dict[str, Any], script: dict[str, Any],
          now: dt.datetime, days: float) -> None:
    """Keep a freshly written script (without its job's id) for `days`."""
    entry = {"key_fields": fields, "script": {k: v for k, v in script.items() if k != "video_id"},
             "created_at": now, "expires_at": now + dt.timedelta(days=days), "hits": 0}
    try:
        db.collection(layout.SCRIPT_CACHE).document(key).set(entry)
    except gexc.GoogleAPICallError as exc:  # the cache is an optimisation: never fail the request for it
        log.warning("script cache write failed", key=key, error=str(exc))


def purge(db: firestore.Client, job: dict[str, Any]) -> None:
    """Delete the entry a job's script came from or went to (the video is being deleted)."""
    key = (job.get("script_cache") or {}).get("key")
    if not key:
        return
    try:
        db.collection(layout.SCRIPT_CACHE).document(str(key)).delete()
    except gexc.GoogleAPICallError as exc:
        log.warning("script cache entry not purged", key=key, error=type(exc).__name__)
