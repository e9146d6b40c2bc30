"""The local studio server: the static web front end, plus a `config.js` naming this local cloud.

    python -m infra.studio.serve --port 8088 --state-dir .local-cloud      (started by the local cloud)

`config.js` gives the page the API's URL (STATUS_BASE_URL: agent-script), the storage endpoint and,
in local mode only, the local user's API key (the `demo` user's, as `make demo` and `studio` use),
created on first request. Deployed, the pages are plain static files and `config.js` is written by
hand or left out (the page then asks for the URL and a token and keeps them in localStorage).

`config.js` carries a key, so it is served only to the studio's own origin (issue 15): the Host header must
name this server (a DNS-rebinding page has another), and an Origin, a Referer or a Sec-Fetch-Site header, when
the browser sends one, must say the request comes from this origin; anything else gets 403. A page on
another origin that loads `<script src=".../config.js">` is refused (browsers send Sec-Fetch-Site: cross-site).
"""
from __future__ import annotations

import argparse
import functools
import http.server
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from shared.core.config import load_settings

WEB_DIR = Path(__file__).resolve().parent / "web"


def local_config(state_dir: Path) -> dict[str, Any]:
    """What the page needs to talk to this local cloud (the key only in local mode)."""
    settings = load_settings()
    config: dict[str, Any] = {"apiUrl": settings.status_base_url, "storageUrl": settings.signed_url_endpoint}
    if settings.is_local:
        from google.cloud import firestore

        from infra.local.demo import demo_api_key

        config["apiKey"] = demo_api_key(firestore.Client(project=settings.project), state_dir)
    return config


def config_script(config: dict[str, Any]) -> bytes:
    """`config.js`: the settings the pages read before asking the user."""
    return f"window.STUDIO_CONFIG = {json.dumps(config)};\n".encode()


LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
SAME_SITE_FETCHES = ("same-origin", "none")  # Sec-Fetch-Site of the page's own requests, or a typed URL


def own_hosts(bound_host: str, port: int) -> set[str]:
    """The Host values that name this server."""
    names = {*LOOPBACK_NAMES, bound_host} if bound_host in ("127.0.0.1", "::1", "localhost") else {bound_host}
    return {f"{name}:{port}" for name in names}


def same_origin(headers: Any, hosts: set[str]) -> bool:
    """Whether a request for config.js comes from the studio's own origin (see the module docstring)."""
    if headers.get("Host", "") not in hosts:
        return False
    origin = headers.get("Origin")
    if origin is not None and origin not in {f"http://{host}" for host in hosts}:
        return False
    referer = headers.get("Referer")
    if referer is not None and urlsplit(referer).netloc not in hosts:
        return False
    fetch_site = headers.get("Sec-Fetch-Site")
    return fetch_site is None or fetch_site in SAME_SITE_FETCHES


class StudioHandler(http.server.SimpleHTTPRequestHandler):
    """Static files of web/, and a generated config.js (for its own origin only)."""

    state_dir: Path = Path(".local-cloud")

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        if self.path.split("?", 1)[0] != "/config.js":
            super().do_GET()
            return
        address: Any = self.server.server_address  # (host, port) for the TCP server main() starts
        if not same_origin(self.headers, own_hosts(str(address[0]), int(address[1]))):
            self.send_error(403, "config.js is served to the studio's own origin only")
            return
        body = config_script(local_config(self.state_dir))
        self.send_response(200)
        self.send_header("Content-Type", "text/javascript; charset=utf-8")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's signature
        pass  # one line per static file is noise in .local-cloud/logs/studio.log


def main(argv: list[str] | None = None) -> None:
    """Serve until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m infra.studio.serve", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=load_settings().local_ports.studio)
    parser.add_argument("--state-dir", type=Path, default=Path(".local-cloud"))
    args = parser.parse_args(argv)
    handler = type("Handler", (StudioHandler,), {"state_dir": args.state_dir})
    server = http.server.ThreadingHTTPServer((args.host, args.port),
                                             functools.partial(handler, directory=str(WEB_DIR)))
    server.serve_forever()


if __name__ == "__main__":
    main()
