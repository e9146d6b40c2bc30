"""Users: one document per user (its plan, webhook secret and origin), created the first time the user is seen.

`origin` says how the user came to exist: `operator` (an operator created an API key for it: shared.auth) or
`sign_in` (first seen with a verified ID token of the intended identity provider). API keys are only ever made
for operator-created users (shared.api.auth.create_api_key refuses a `sign_in` user; no HTTP route makes keys).
"""
from __future__ import annotations

import secrets
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import firestore

from shared.core import layout, status

OPERATOR, SIGN_IN = "operator", "sign_in"


def ensure_user(db: firestore.Client, user_id: str, plan: str | None = None,
                default_plan: str = "free", origin: str = SIGN_IN) -> dict[str, Any]:
    """The user's document, created on first sight (with a webhook secret and its `origin`); `plan` overrides the
    stored one."""
    ref = db.collection(layout.USERS).document(user_id)
    snap = ref.get()
    if snap.exists:
        doc = snap.to_dict() or {}
        if plan and doc.get("plan") != plan:
            ref.update({"plan": plan})
            doc["plan"] = plan
        return doc
    doc = {"plan": plan or default_plan, "webhook_secret": secrets.token_hex(32), "created_at": status.utcnow(),
           "origin": origin}
    try:
        ref.create(doc)
    except gexc.AlreadyExists:  # a concurrent first request created it
        return ensure_user(db, user_id, plan, default_plan, origin)
    return doc


def new_webhook_secret() -> str:
    """A fresh webhook signing secret (256 random bits, hex)."""
    return secrets.token_hex(32)


def rotate_webhook_secret(db: firestore.Client, user_id: str, default_plan: str = "free") -> str:
    """Replace the user's webhook secret; the new one (every later webhook is signed with it, none with the old)."""
    ensure_user(db, user_id, default_plan=default_plan)
    secret = new_webhook_secret()
    db.collection(layout.USERS).document(user_id).update({"webhook_secret": secret,
                                                          "webhook_secret_rotated_at": status.utcnow()})
    return secret
