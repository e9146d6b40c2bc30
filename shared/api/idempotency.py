"""A retried create is not a second video: `POST /videos` with an `Idempotency-Key` header.

The first request with a key claims it (Firestore `idempotency_keys/{sha256(user, key)}`, in a transaction)
and stores its answer once the job exists; the same key and body within IDEMPOTENCY_HOURS answer that
same job again (200, header Idempotent-Replayed: true). The same key with a different body is refused
(422 idempotency_key_reused), and while the first request is still running (409
idempotency_key_in_progress). Keys are per user: two users' keys never collide. A request that fails
releases its key, so the client may retry with it. `expires_at` carries a Firestore TTL policy
(deploy-veo31.sh); an expired key is simply claimed again.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from typing import Any

from google.cloud import firestore

from shared.core import layout, status
from shared.core.errors import ErrorCode, InvalidInputError

HEADER = "Idempotency-Key"
IDEMPOTENCY_HOURS = 24
_KEY = re.compile(r"^[\x21-\x7e]{8,255}$")  # printable ASCII, no spaces (a UUID fits)


def parse_key(raw: str | None) -> str | None:
    """The header's key, or None when absent; 400 when it is malformed."""
    if raw is None:
        return None
    if not _KEY.match(raw):
        raise InvalidInputError(f"{HEADER} must be 8-255 printable ASCII characters without spaces",
                                code=ErrorCode.INVALID_IDEMPOTENCY_KEY, field=HEADER)
    return raw


def fingerprint(body: Any) -> str:
    """The request body's hash: the same JSON, whatever its key order or spacing, hashes the same."""
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
                          .encode()).hexdigest()


def _ref(db: firestore.Client, user_id: str, key: str) -> firestore.DocumentReference:
    return db.collection(layout.IDEMPOTENCY_KEYS).document(hashlib.sha256(f"{user_id}\n{key}".encode()).hexdigest())


def claim(db: firestore.Client, user_id: str, key: str, body_sha256: str,
          now: dt.datetime | None = None) -> dict[str, Any] | None:
    """Claim the key for this request (None), or the stored answer of the earlier request with the same body."""
    ref, now = _ref(db, user_id, key), now or status.utcnow()

    @firestore.transactional
    def run(tx: firestore.Transaction) -> dict[str, Any] | None:
        snap = ref.get(transaction=tx)
        found = snap.to_dict() if snap.exists else None
        if found and found["expires_at"] > now:
            if found["body_sha256"] != body_sha256:
                raise InvalidInputError(f"this {HEADER} was used with a different request body; use a new key",
                                        code=ErrorCode.IDEMPOTENCY_KEY_REUSED, field=HEADER)
            if found.get("response") is None:
                raise InvalidInputError(f"a request with this {HEADER} is still being processed; retry shortly",
                                        code=ErrorCode.IDEMPOTENCY_KEY_IN_PROGRESS, field=HEADER)
            answer: dict[str, Any] = found["response"]
            return answer
        tx.set(ref, {"owner": user_id, "body_sha256": body_sha256, "response": None, "created_at": now,
                     "expires_at": now + dt.timedelta(hours=IDEMPOTENCY_HOURS)})
        return None

    result: dict[str, Any] | None = run(db.transaction())
    return result


def store(db: firestore.Client, user_id: str, key: str, response: dict[str, Any]) -> None:
    """Record the answer of the request that claimed the key."""
    _ref(db, user_id, key).update({"response": response, "video_id": response.get("video_id")})


def release(db: firestore.Client, user_id: str, key: str) -> None:
    """Free the key of a request that failed, so a retry with it runs again."""
    _ref(db, user_id, key).delete()
