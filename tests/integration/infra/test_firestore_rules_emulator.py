"""infra/gcp/firestore.rules loaded into a Firestore emulator of its own (`--rules`): an end-user client (no token,
or a Firebase user's token) can neither read, list nor write any document, while the backend's privileged access
(the emulator's `Bearer owner`, as IAM-authorised server libraries are not subject to rules) still works."""
from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from infra.local.components import FIRESTORE_BIN

pytestmark = [pytest.mark.timeout(180)]
RULES = Path(__file__).resolve().parents[3] / "infra/gcp/firestore.rules"
PROJECT = "demo-rules"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Firestore emulator started with the deployed rules; its documents URL."""
    port = _free_port()
    log = (tmp_path_factory.mktemp("rules") / "firestore.log").open("w")
    process = subprocess.Popen([str(FIRESTORE_BIN), "start", "--host=127.0.0.1", f"--port={port}",
                                f"--rules={RULES}"], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if requests.get(base, timeout=2).ok:
                    break
            except requests.RequestException:
                time.sleep(0.5)
        else:
            pytest.fail("the Firestore emulator did not start")
        yield f"{base}/v1/projects/{PROJECT}/databases/(default)/documents"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
        log.close()


def _firebase_user_token(uid: str) -> str:
    """An unsigned token of a signed-in Firebase user (the emulator does not check signatures)."""
    def part(value: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    now = int(time.time())
    claims = {"sub": uid, "user_id": uid, "aud": PROJECT, "iss": f"https://securetoken.google.com/{PROJECT}",
              "iat": now, "exp": now + 3600, "auth_time": now, "firebase": {"sign_in_provider": "password"}}
    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


def test_clients_are_denied_everything_and_the_backend_is_not(emulator: str) -> None:
    owner = {"Authorization": "Bearer owner"}
    created = requests.post(f"{emulator}/video_status?documentId=v1", headers=owner, timeout=10,
                            json={"fields": {"owner": {"stringValue": "alice"}}})
    assert created.status_code == 200, created.text
    assert requests.get(f"{emulator}/video_status/v1", headers=owner, timeout=10).status_code == 200
    for headers in ({}, {"Authorization": f"Bearer {_firebase_user_token('alice')}"}):
        read = requests.get(f"{emulator}/video_status/v1", headers=headers, timeout=10)
        listed = requests.get(f"{emulator}/api_keys", headers=headers, timeout=10)
        written = requests.post(f"{emulator}/users?documentId=alice", headers=headers, timeout=10,
                                json={"fields": {"plan": {"stringValue": "studio"}}})
        for answer in (read, listed, written):
            assert answer.status_code == 403, (headers.keys(), answer.status_code, answer.text[:200])
