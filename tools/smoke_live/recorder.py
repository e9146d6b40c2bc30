"""Every HTTP exchange google-genai makes, captured at its httpx client and kept without secrets.

The recorder hangs an httpx response hook on the SDK client's own httpx client, so what it keeps is what went
over the wire: method, URL, status, the JSON bodies both ways (scrubbed by tools.smoke_live.redact), and the
few headers that show the contract (content type, `X-Server-Timeout`, the SDK's version). Media downloads are
recorded by their headers only: their bytes go to the media folder, not into a fixture.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import httpx
from google import genai

from tools.smoke_live.redact import scrub, scrub_url

REQUEST_HEADERS = ("content-type", "x-server-timeout", "x-goog-api-client", "user-agent")
RESPONSE_HEADERS = ("content-type", "content-length")
TEXT_CHARS = 4000  # a non-JSON text body is kept up to this


class SdkInternalsChanged(RuntimeError):
    """google-genai no longer exposes what the smoke kit hooks (it is pinned: see docs/decisions)."""


def sdk_api_client(client: genai.Client) -> Any:
    """The SDK's BaseApiClient behind `client` (google-genai 2.34: `client._api_client`)."""
    api = getattr(client, "_api_client", None)
    if api is None or not hasattr(api, "_http_options"):
        raise SdkInternalsChanged("genai.Client has no _api_client._http_options")
    return api


def _json_or_text(raw: bytes | str) -> Any:
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text[:TEXT_CHARS]


def _headers(headers: httpx.Headers, names: tuple[str, ...]) -> dict[str, str]:
    return {name: headers[name] for name in names if name in headers}


@dataclass
class Recorder:
    """Collects exchanges under the name of the step that is running (`step`)."""

    secrets: list[str]
    step: str = "setup"
    exchanges: list[dict[str, Any]] = field(default_factory=list)

    def attach(self, client: genai.Client) -> None:
        """Hook every response of `client`'s httpx transport (RuntimeError when the SDK would bypass it)."""
        api = sdk_api_client(client)
        if api._use_google_auth_sync():  # mTLS: requests go through google-auth's session, not httpx
            raise SdkInternalsChanged("the client sends through google-auth's mTLS session: nothing to hook")
        transport = getattr(api, "_httpx_client", None)
        if not isinstance(transport, httpx.Client):
            raise SdkInternalsChanged("genai.Client has no httpx client to hook")
        hooks = dict(transport.event_hooks)
        hooks["response"] = [*hooks.get("response", []), self.on_response]
        transport.event_hooks = hooks

    def on_response(self, response: httpx.Response) -> None:
        """httpx response hook: keep the exchange (JSON bodies are read here; media streams are not)."""
        request = response.request
        content_type = response.headers.get("content-type", "")
        if "json" in content_type or response.status_code >= 400:
            response.read()
            body: Any = _json_or_text(response.content)
        else:
            body = None  # a media stream: the SDK writes it to the destination file
        try:
            request_body = _json_or_text(request.content)
        except httpx.RequestNotRead:
            request_body = None
        request_body, request_cut = scrub(request_body, self.secrets)
        response_body, response_cut = scrub(body, self.secrets)
        self.exchanges.append({
            "step": self.step,
            "method": request.method,
            "url": scrub_url(str(request.url), self.secrets),
            "request_headers": _headers(request.headers, REQUEST_HEADERS),
            "request_body": request_body,
            "status": response.status_code,
            "response_headers": _headers(response.headers, RESPONSE_HEADERS),
            "response_body": response_body,
            "truncated": {"request": request_cut, "response": response_cut},
        })

    def of_step(self, step: str) -> list[dict[str, Any]]:
        """The exchanges recorded while `step` ran."""
        return [e for e in self.exchanges if e["step"] == step]
