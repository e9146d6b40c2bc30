"""Users: one document per user (its plan and webhook secret), created the first time the user is seen."""
from __future__ import annotations

import secrets
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import firestore

from shared.core import layout, status


def ensure_user(db: firestore.Client, user_id: str, plan: str | None = None,
                default_plan: str = "free") -> dict[str, Any]:
    """The user's document, created on first sight (with a webhook secret); `plan` overrides the stored one."""
    ref = db.collection(layout.USERS).document(user_id)
    snap = ref.get()
    if snap.exists:
        doc = snap.to_dict() or {}
        if plan and doc.get("plan") != plan:
            ref.update({"plan": plan})
            doc["plan"] = plan
        return doc
    doc = {"plan": plan or default_plan, "webhook_secret": secrets.token_hex(32), "created_at": status.utcnow()}
    try:
        ref.create(doc)
    except gexc.AlreadyExists:  # a concurrent first request created it
        return ensure_user(db, user_id, plan, default_plan)
    return doc
