"""The product API as the studio command sees it: one client, errors that carry an exit code.

Exit codes (the same ones `studio --help` documents):

    0 ok   2 usage   3 the API refused the request (4xx)   4 not found (404)
    5 server or network trouble (5xx, unreachable, no local cloud)   6 the job failed
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import requests

EXIT_OK, EXIT_USAGE, EXIT_REFUSED, EXIT_NOT_FOUND, EXIT_SERVER, EXIT_JOB_FAILED = 0, 2, 3, 4, 5, 6
HTTP_TIMEOUT_SECONDS = 120.0
STREAM_READ_TIMEOUT_SECONDS = 60.0  # the server sends a keep-alive every 15 s


class StudioError(Exception):
    """A failure to report in one line, with the process exit code it maps to."""

    def __init__(self, message: str, exit_code: int = EXIT_SERVER) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


def exit_code_for_status(http_status: int) -> int:
    """The exit code of an HTTP error status."""
    if http_status == 404:
        return EXIT_NOT_FOUND
    if 400 <= http_status < 500:
        return EXIT_REFUSED
    return EXIT_SERVER


def error_message(http_status: int, body: Any, retry_after: str | None = None) -> str:
    """One readable line from the API's `{"error": {code, message, field}}` (or whatever came back)."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        text = body if isinstance(body, str) else json.dumps(body)
        return f"HTTP {http_status}: {text.strip()[:300] or 'no details'}"
    line = f"{error.get('message') or 'no message'} ({error.get('code') or 'error'}, HTTP {http_status})"
    if error.get("field"):
        line += f" [field: {error['field']}]"
    if retry_after:
        line += f"; retry in {retry_after} s"
    return line


def api_error(response: requests.Response) -> StudioError:
    """The StudioError of a non-2xx response."""
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text
    return StudioError(error_message(response.status_code, body, response.headers.get("Retry-After")),
                       exit_code_for_status(response.status_code))


def parse_sse(lines: Iterable[str]) -> Iterator[tuple[str, dict[str, Any], str | None]]:
    """(event, data, id) for each complete Server-Sent Event in a stream of text lines."""
    event = "message"
    data: list[str] = []
    event_id: str | None = None
    for line in lines:
        if not line:
            if data:
                yield event, json.loads("\n".join(data)), event_id
            event, data = "message", []
        elif line.startswith(":"):
            continue
        else:
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "event":
                event = value
            elif name == "data":
                data.append(value)
            elif name == "id":
                event_id = value


class Client:
    """Authenticated calls to one deployment of the product API."""

    def __init__(self, base_url: str, token: str | None, session: requests.Session | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = session or requests.Session()
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def _send(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", HTTP_TIMEOUT_SECONDS)
        try:
            response = self.session.request(method, self.base_url + path, **kwargs)
        except requests.RequestException as exc:
            raise StudioError(f"cannot reach the API at {self.base_url} ({exc.__class__.__name__}); "
                              "is the URL right and the service up?") from exc
        if response.status_code >= 400:
            raise api_error(response)
        return response

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """The JSON answer of one request (None for 204); StudioError for any failure."""
        response = self._send(method, path, **kwargs)
        return response.json() if response.content else None

    def events(self, video_id: str, after: str | None = None) -> Iterator[tuple[str, dict[str, Any], str | None]]:
        """The video's progress stream, from after history entry `after`."""
        headers = {"Accept": "text/event-stream", **({"Last-Event-ID": after} if after else {})}
        response = self._send("GET", f"/videos/{video_id}/events", headers=headers, stream=True,
                              timeout=(10, STREAM_READ_TIMEOUT_SECONDS))
        with response:
            try:
                yield from parse_sse(response.iter_lines(decode_unicode=True))
            except requests.RequestException as exc:
                raise StudioError(f"the progress stream broke: {exc}") from exc

    def download(self, url: str, target: Path) -> Path:
        """Save a (signed) file URL to `target`."""
        try:
            with requests.get(url, stream=True, timeout=HTTP_TIMEOUT_SECONDS) as response:
                if response.status_code >= 400:
                    raise StudioError(f"download of {target.name} failed: HTTP {response.status_code}",
                                      exit_code_for_status(response.status_code))
                target.parent.mkdir(parents=True, exist_ok=True)
                with target.open("wb") as out:
                    for chunk in response.iter_content(chunk_size=1 << 16):
                        out.write(chunk)
        except requests.RequestException as exc:
            raise StudioError(f"download of {target.name} failed: {exc}") from exc
        return target
