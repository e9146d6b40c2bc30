"""The local studio's config.js (it carries the demo key) is served to the studio's own origin only: a page of
another origin, or a DNS-rebinding host name, gets 403, through a real server and real HTTP requests."""
from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from infra.studio import serve

KEY = "vk_0123456789abcdef_secret"


@pytest.fixture
def studio(monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    """The studio server on a free loopback port, its config naming a fixed key; its port."""
    monkeypatch.setattr(serve, "local_config", lambda state_dir: {"apiUrl": "http://api", "apiKey": KEY})
    handler: Any = functools.partial(serve.StudioHandler, directory=str(serve.WEB_DIR))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_port
    finally:
        server.shutdown()
        server.server_close()


def _get(port: int, path: str = "/config.js", **headers: str) -> requests.Response:
    return requests.get(f"http://127.0.0.1:{port}{path}", headers=headers, timeout=10)


def test_the_studios_own_page_gets_the_key(studio: int) -> None:
    own = f"http://127.0.0.1:{studio}"
    for headers in ({}, {"Sec-Fetch-Site": "same-origin", "Referer": f"{own}/"}, {"Origin": own},
                    {"Host": f"localhost:{studio}", "Sec-Fetch-Site": "none"}):
        response = _get(studio, **headers)
        assert response.status_code == 200 and KEY in response.text, headers


@pytest.mark.parametrize("foreign", [
    {"Origin": "http://evil.example"},
    {"Origin": "http://127.0.0.1:1"},  # another local server: another origin
    {"Host": "evil.example"},  # DNS rebinding: the page's host name resolves to 127.0.0.1
    {"Sec-Fetch-Site": "cross-site"},  # <script src=".../config.js"> on another site
    {"Sec-Fetch-Site": "same-site"},  # another port of localhost is the same site, not the same origin
    {"Referer": "http://evil.example/page.html"},
])
def test_another_origin_gets_403_and_no_key(studio: int, foreign: dict[str, str]) -> None:
    response = _get(studio, **foreign)
    assert response.status_code == 403 and KEY not in response.text


def test_static_pages_are_still_served(studio: int) -> None:
    assert _get(studio, "/index.html", Origin="http://evil.example").status_code == 200
    assert Path(serve.WEB_DIR / "index.html").exists()
