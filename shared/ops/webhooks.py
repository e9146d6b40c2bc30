"""Webhooks: a request's optional `callback_url` is called when its job completes or fails.

The body is JSON, signed with HMAC-SHA256 using the owner's secret (`users/{id}.webhook_secret`,
shown by `GET /me`):

    X-Pipeline-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">

`t` is the time of the attempt (each retry is signed anew). A receiver recomputes the HMAC over the raw body
and refuses a signature whose `t` is more than SIGNATURE_TOLERANCE_SECONDS (5 minutes) away from its own
clock, in the past or the future, so a captured call cannot be replayed later.

Non-2xx answers and network errors are retried with doubling backoff (WEBHOOK_ATTEMPTS,
WEBHOOK_BACKOFF_SECONDS); every attempt is recorded in `webhook_deliveries/{video id}-{event}` and
summarised on the status document (`webhook`). Targets that resolve to private, loopback,
link-local or other non-public addresses are refused, at request time and again before each call
(DNS may change), unless WEBHOOK_ALLOWED_NETWORKS allows that kind of network.
"""
from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import re
import socket
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

import requests
from tenacity import RetryCallState, Retrying, retry_if_result, stop_after_attempt, wait_exponential

from shared.core import layout, log, status
from shared.core.clients import Clients
from shared.core.errors import ErrorCode, InvalidInputError
from shared.core.retry import log_before_sleep
from shared.core.users import ensure_user

SIGNATURE_HEADER = "X-Pipeline-Signature"
SIGNATURE_TOLERANCE_SECONDS = 300  # what receivers accept (README, Webhooks): |now - t| <= 5 min
TIMEOUT_SECONDS = 5.0
MAX_URL_CHARS = 2000
MAX_HOST_CHARS = 253
_LABEL = re.compile(r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)")  # one DNS label (fullmatch)
EVENTS = {"completed": "video.completed", "failed": "video.failed"}

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def network_kind(address: Address) -> str:
    """'public', or the kind of non-public network an address belongs to."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return network_kind(address.ipv4_mapped)
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link_local"
    if address.is_multicast or address.is_reserved or address.is_unspecified:
        return "reserved"
    if address.is_private or not address.is_global:
        return "private"
    return "public"


def _refused(message: str) -> InvalidInputError:
    return InvalidInputError(message, code=ErrorCode.INVALID_CALLBACK_URL, field="callback_url")


def _resolve(host: str) -> list[Address]:
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:  # UnicodeError: the IDNA codec refuses a label
        raise _refused(f"callback_url: cannot resolve {host!r}") from exc
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]


def host_problem(host: str) -> str | None:
    """Why `host` (a URL's hostname) is neither an IP address nor a DNS name (RFC 1123), or None when it is one.

    IP literals (IPv6 inside brackets in the URL) are parsed as addresses; names are IDNA-encoded and must have
    labels of 1-63 letters, digits, hyphens (underscores tolerated), not starting or ending with a hyphen,
    at most 253 characters in all (one trailing dot allowed).
    """
    try:
        ipaddress.ip_address(host)
        return None
    except ValueError:
        pass
    try:
        name = host if host.isascii() else host.encode("idna").decode("ascii")
    except UnicodeError:
        return "not a valid internationalised domain name"
    name = name.removesuffix(".")
    if not name or len(name) > MAX_HOST_CHARS:
        return f"a host name has 1-{MAX_HOST_CHARS} characters"
    for label in name.split("."):
        if not _LABEL.fullmatch(label):
            return f"{label[:70]!r} is not a DNS label (1-63 letters, digits or hyphens)"
    if name.rsplit(".", 1)[-1].isdigit():
        return "not an IP address, nor a name (its last label is numeric)"
    return None


def check_target(url: str, allowed: tuple[str, ...],
                 resolve: Callable[[str], list[Address]] = _resolve) -> None:
    """Refuse a callback URL that is not http(s), whose host is neither an IP address nor a DNS name, or that
    resolves to a network the configuration does not allow."""
    if len(url) > MAX_URL_CHARS:
        raise _refused(f"callback_url is longer than {MAX_URL_CHARS} characters")
    try:  # urlsplit refuses bad bracketed hosts and NFKC-unsafe netlocs; .port an out-of-range port
        parts = urllib.parse.urlsplit(url)
        hostname, _port = parts.hostname, parts.port
    except ValueError as exc:
        raise _refused(f"callback_url is not a valid URL: {exc}") from exc
    if parts.scheme not in ("http", "https") or not hostname:
        raise _refused("callback_url must be an http(s) URL")
    if parts.username or parts.password:
        raise _refused("callback_url must not carry credentials")
    problem = host_problem(hostname)
    if problem:
        raise _refused(f"callback_url host {hostname[:80]!r}: {problem}")
    for address in resolve(hostname):
        kind = network_kind(address)
        if kind != "public" and kind not in allowed:
            raise InvalidInputError(f"callback_url resolves to a {kind} address ({address}); refused",
                                    code=ErrorCode.INVALID_CALLBACK_URL, field="callback_url")


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header's value for a body sent at `timestamp`."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def payload_of(doc: dict[str, Any]) -> dict[str, Any]:
    """What a callback receives about a finished job."""
    event = EVENTS.get(doc.get("status", ""), f"video.{doc.get('status')}")
    return {"event": event, "video_id": doc["video_id"], "status": doc.get("status"), "title": doc.get("title"),
            "duration": doc.get("duration"), "error": doc.get("error"),
            "receipt_total_usd": ((doc.get("receipt") or {}).get("cost_usd") or {}).get("total"),
            "status_url_path": f"/videos/{doc['video_id']}"}


def _attempt(url: str, body: bytes, secret: str) -> dict[str, Any]:
    started = time.monotonic()
    record: dict[str, Any] = {"at": status.utcnow()}
    try:
        response = requests.post(url, data=body, timeout=TIMEOUT_SECONDS, allow_redirects=False, headers={
            "Content-Type": "application/json", SIGNATURE_HEADER: signature(secret, int(time.time()), body)})
        record.update(status_code=response.status_code, ok=200 <= response.status_code < 300)
    except requests.RequestException as exc:
        record.update(error=str(exc)[:300], ok=False)
    record["seconds"] = round(time.monotonic() - started, 3)
    return record


def _describe(record: dict[str, Any]) -> str:
    return f"HTTP {record['status_code']}" if "status_code" in record else str(record.get("error"))


def delivery_retrying(attempts: int, backoff_seconds: float, sleep: Callable[[float], None]) -> Retrying:
    """`attempts` calls at most while the answer is not 2xx, waiting backoff, 2×, 4×… between them.

    The attempt returns its record (never raises for a failed call); a refused target raises and is not retried.
    When every attempt failed, the last record is returned.
    """
    def last_record(state: RetryCallState) -> Any:
        return state.outcome.result() if state.outcome else None

    return Retrying(retry=retry_if_result(lambda record: not record["ok"]),
                    stop=stop_after_attempt(max(attempts, 1)),
                    wait=wait_exponential(multiplier=backoff_seconds, exp_base=2),
                    before_sleep=log_before_sleep("webhook attempt failed; retrying", describe=_describe),
                    retry_error_callback=last_record, sleep=sleep)


def deliver(clients: Clients, doc: dict[str, Any], secret: str,
            sleep: Callable[[float], None] = time.sleep) -> dict[str, Any]:
    """Call the job's callback until it answers 2xx or attempts run out; every attempt recorded."""
    settings = clients.settings
    url, payload = doc["callback_url"], payload_of(doc)
    body = json.dumps(payload, default=str, ensure_ascii=False).encode()
    ref = clients.db.collection(layout.WEBHOOK_DELIVERIES).document(f"{doc['video_id']}-{payload['event']}")
    attempts: list[dict[str, Any]] = []

    def attempt() -> dict[str, Any]:
        check_target(url, settings.webhook_allowed_networks)  # again before each call: DNS may change
        record = {"number": len(attempts) + 1, **_attempt(url, body, secret)}
        attempts.append(record)
        ref.set({"video_id": doc["video_id"], "url": url, "event": payload["event"], "attempts": attempts,
                 "delivered": record["ok"]})
        return record

    try:
        delivery_retrying(settings.webhook_attempts, settings.webhook_backoff_seconds, sleep)(attempt)
    except InvalidInputError as exc:  # the target is refused: recorded, not retried
        attempts.append({"number": len(attempts) + 1, "at": status.utcnow(), "ok": False, "error": exc.message})
    summary = {"event": payload["event"], "delivered": attempts[-1]["ok"], "attempts": len(attempts)}
    ref.set({"video_id": doc["video_id"], "url": url, "event": payload["event"], "attempts": attempts,
             "delivered": summary["delivered"]})
    log.info("webhook delivered" if summary["delivered"] else "webhook not delivered", video_id=doc["video_id"],
             **summary)
    return summary


def notify(clients: Clients, video_id: str) -> dict[str, Any] | None:
    """Call the job's callback, if it has one, now that it is finished; never raises."""
    try:
        doc = status.read(clients.db, video_id)
        if not doc or not doc.get("callback_url") or doc.get("status") not in EVENTS:
            return None
        secret = ensure_user(clients.db, doc.get("owner") or "anonymous")["webhook_secret"]
        summary = deliver(clients, doc, secret)
        status.update_in_status(clients.db, video_id, status.TERMINAL, {"webhook": summary})
        return summary
    except Exception as exc:  # noqa: BLE001 - a callback must never fail the job it reports on
        log.exception("webhook failed", exc, video_id=video_id)
        return None
