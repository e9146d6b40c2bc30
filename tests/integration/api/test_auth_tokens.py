"""ID tokens through the real front door: agent-script on the local cloud, restarted with AUTH_MODE=both and its
signing certificates served by this test (AUTH_CERTS_URL, a local-only setting), answers a Firebase token of its
project with the caller's identity and refuses every other issuer, audience, key and service account with 401 in
the API's error shape; API keys keep working alongside."""
from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from tests.id_tokens import CERTS, OTHER_SIGNER, UNKNOWN_KID_SIGNER, firebase_token, service_account_token

pytestmark = [pytest.mark.timeout(300)]
AGENT = "agent-script"
SERVICE_ACCOUNT = "nightly@demo-backend.iam.gserviceaccount.com"


class _Certs(BaseHTTPRequestHandler):
    """Serves {kid: certificate} as Google does (x509 JSON, with a max-age)."""

    body = json.dumps(CERTS).encode()

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Cache-Control", "public, max-age=60")
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture(scope="module")
def token_front_door(local_cloud) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """agent-script restarted to accept ID tokens signed by this test's key; its URL. Restored afterwards."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Certs)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = local_cloud.url_of(AGENT)
    env = {"AUTH_MODE": "both", "AUTH_CERTS_URL": f"http://127.0.0.1:{server.server_port}/certs",
           "AUTH_SERVICE_ACCOUNTS": SERVICE_ACCOUNT, "AUTH_AUDIENCE": url}
    saved = {name: local_cloud.extra_env.get(name) for name in env}
    local_cloud.extra_env.update(env)
    local_cloud.restart_agent(AGENT)
    try:
        yield url
    finally:
        for name, value in saved.items():
            if value is None:
                local_cloud.extra_env.pop(name, None)
            else:
                local_cloud.extra_env[name] = value
        local_cloud.restart_agent(AGENT)
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _firebase(project: str, **claims: Any) -> str:
    return firebase_token(project, **{"sub": "fbUser42", **claims})


def _service_account(audience: str, email: str = SERVICE_ACCOUNT) -> str:
    return service_account_token(audience, email)


def _me(url: str, token: str) -> requests.Response:
    return requests.get(f"{url}/me", headers={"Authorization": f"Bearer {token}"}, timeout=30)


def test_a_firebase_token_of_the_project_is_the_callers_identity(token_front_door, local_cloud):
    response = _me(token_front_door, _firebase(local_cloud.project))
    assert response.status_code == 200, response.text
    assert (response.json()["user_id"], response.json()["auth"]) == ("fbUser42", "firebase")


def test_an_allow_listed_service_account_is_accepted(token_front_door):
    response = _me(token_front_door, _service_account(f"{token_front_door}/me"))
    assert response.status_code == 200, response.text
    assert response.json()["user_id"] == "sa-nightly-demo-backend-iam-gserviceaccount-com"
    assert response.json()["auth"] == "service_account"


def test_every_other_token_is_401_in_the_api_error_shape(token_front_door, local_cloud):
    project, now = local_cloud.project, int(time.time())
    refused = {
        "another project's Firebase token": _firebase("another-project"),
        "another project's audience": _firebase(project, aud="another-project"),
        "another project's issuer": _firebase(project, iss="https://securetoken.google.com/another-project"),
        "expired": _firebase(project, iat=now - 7200, exp=now - 3600),
        "signed by another key": _firebase(project, signer=OTHER_SIGNER),
        "signed under a key id nobody published": _firebase(project, signer=UNKNOWN_KID_SIGNER),
        "a service account not on the list": _service_account(token_front_door,
                                                              "intruder@evil-project.iam.gserviceaccount.com"),
        "a service account token for the project id": _service_account(project),
    }
    for what, token in refused.items():
        response = _me(token_front_door, token)
        assert response.status_code == 401, (what, response.text)
        assert response.json()["error"]["code"] == "unauthenticated", what


def test_api_keys_still_work_beside_id_tokens(token_front_door, pipeline):
    response = requests.get(f"{token_front_door}/me", headers=pipeline.headers(), timeout=30)
    assert response.status_code == 200 and response.json()["auth"] == "api_key"
