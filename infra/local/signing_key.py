"""The local cloud's URL-signing key: a throwaway service-account key, made at start, never a real account.

fake-gcs serves V4 signed URLs without checking them; the agents sign with this key (SIGNING_KEY_FILE) the
way production signs through IAM signBlob, and tests check the signatures with it (tests.support).
"""
from __future__ import annotations

import json
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


def write_throwaway_key(path: Path, project: str) -> Path:
    """Create (once) a local service-account key that signs URLs for fake-gcs; never a real account."""
    if path.exists():
        return path
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
