"""Webhooks: a request's optional `callback_url` is called when its job completes or fails.

The call is made by its own step (shared.ops.webhook_delivery, the `agent-monitor-webhooks` function fed by the
`webhook-events` topic), never inside a pipeline worker. The body is JSON, signed with HMAC-SHA256 using the
owner's secret (`users/{id}.webhook_secret`, shown by `GET /me`, replaced by `POST /me/webhook-secret`):

    X-Pipeline-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">
    X-Pipeline-Event-Id:  <event_id>   (also in the body)

`t` is the time of the attempt (each retry is signed anew). A receiver recomputes the HMAC over the raw body
and refuses a signature whose `t` is more than SIGNATURE_TOLERANCE_SECONDS (5 minutes) away from its own
clock, in the past or the future, so a captured call cannot be replayed later. `event_id` is the same for every
attempt and redelivery of one event (`<video id>.<event>`): delivery is at least once, so a receiver that must
act once keeps the ids it has handled.

Each attempt resolves the host once, refuses it unless every address is public (or of a network kind
WEBHOOK_ALLOWED_NETWORKS allows), and connects to the address it checked (the Host header, TLS SNI and the
certificate check still name the host), so a DNS answer that changes after the check cannot redirect the call.
IPv6 forms that embed an IPv4 address (mapped, compatible, 6to4, Teredo, NAT64) are judged by that address.
Refusals name the host and a generic reason, never the address it resolved to. An attempt has one wall-clock
deadline (DEADLINE_SECONDS) for connect, TLS, sending and reading the answer's head: a receiver that drips bytes
cannot hold the function.

Non-2xx answers and network errors are retried with doubling backoff (WEBHOOK_ATTEMPTS,
WEBHOOK_BACKOFF_SECONDS); every attempt is recorded in `webhook_deliveries/{video id}-{event}` and
summarised on the status document (`webhook`).
"""
from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import json
import re
import socket
import ssl
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tenacity import RetryCallState, Retrying, retry_if_result, stop_after_attempt, wait_exponential

from shared.core import layout, log, status
from shared.core.clients import Clients
from shared.core.errors import ErrorCode, InvalidInputError
from shared.core.messages import WebhookEventName
from shared.core.retry import log_before_sleep

SIGNATURE_HEADER = "X-Pipeline-Signature"
EVENT_ID_HEADER = "X-Pipeline-Event-Id"
SIGNATURE_TOLERANCE_SECONDS = 300  # what receivers accept (README, Webhooks): |now - t| <= 5 min
DEADLINE_SECONDS = 10.0  # one attempt, all of it: connect, TLS handshake, request, status line and headers
MAX_URL_CHARS = 2000
MAX_HOST_CHARS = 253
_LABEL = re.compile(r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)")  # one DNS label (fullmatch)
EVENTS: dict[str, WebhookEventName] = {"completed": "video.completed", "failed": "video.failed"}
# NAT64: the well-known prefix (RFC 6052) and the local-use one (RFC 8215); the IPv4 address is the last 32 bits.
NAT64_NETWORKS = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))
IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")  # deprecated ::a.b.c.d (RFC 4291 2.5.5.1)

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str], list[Address]]


@dataclass(frozen=True)
class Target:
    """A checked callback: where to connect (`address`, pinned) and what to ask for (host, port, path)."""

    scheme: str
    host: str
    port: int
    path: str
    address: Address


def embedded_ipv4(address: Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries (IPv4-mapped or -compatible, 6to4, Teredo, NAT64); [] if none."""
    if not isinstance(address, ipaddress.IPv6Address):
        return []
    if address.ipv4_mapped:
        return [address.ipv4_mapped]
    if address.sixtofour:
        return [address.sixtofour]
    if address.teredo:
        return list(address.teredo)  # (server, client)
    if any(address in network for network in NAT64_NETWORKS):
        return [ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)]
    if address in IPV4_COMPATIBLE and int(address) > 1:  # not :: nor ::1
        return [ipaddress.IPv4Address(int(address))]
    return []


def _translated(address: Address) -> bool:
    """An IPv6 address that stands for its embedded IPv4 one (mapped, compatible, NAT64), not a tunnel's."""
    return isinstance(address, ipaddress.IPv6Address) and not address.sixtofour and not address.teredo \
        and bool(embedded_ipv4(address))


def network_kind(address: Address) -> str:
    """'public', or the kind of non-public network an address belongs to (embedded IPv4 judged first)."""
    inner = embedded_ipv4(address)
    if _translated(address):  # mapped, compatible, NAT64: the IPv4 address is where the packets go
        return network_kind(inner[0])
    for embedded in inner:  # 6to4, Teredo: a non-public IPv4 inside is refused whatever the prefix says
        kind = network_kind(embedded)
        if kind != "public":
            return kind
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


def system_resolver(host: str) -> list[Address]:
    """The host's addresses from the system resolver (an IP literal is its own answer)."""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:  # UnicodeError: the IDNA codec refuses a label
        raise _refused(f"callback_url: cannot resolve {host[:80]!r}") from exc
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


def check_target(url: str, allowed: tuple[str, ...], resolve: Resolver = system_resolver) -> Target:
    """The checked target of a callback URL: refused if not http(s), if its host is neither an IP address nor a
    DNS name, or if any address it resolves to is on a network the configuration does not allow.

    The host is resolved once, here; the returned Target pins the address the connection must use.
    """
    if len(url) > MAX_URL_CHARS:
        raise _refused(f"callback_url is longer than {MAX_URL_CHARS} characters")
    try:  # urlsplit refuses bad bracketed hosts and NFKC-unsafe netlocs; .port an out-of-range port
        parts = urllib.parse.urlsplit(url)
        hostname, port = parts.hostname, parts.port
    except ValueError as exc:
        raise _refused(f"callback_url is not a valid URL: {exc}") from exc
    if parts.scheme not in ("http", "https") or not hostname:
        raise _refused("callback_url must be an http(s) URL")
    if parts.username or parts.password:
        raise _refused("callback_url must not carry credentials")
    problem = host_problem(hostname)
    if problem:
        raise _refused(f"callback_url host {hostname[:80]!r}: {problem}")
    addresses = resolve(hostname)
    if not addresses:
        raise _refused(f"callback_url: cannot resolve {hostname[:80]!r}")
    for address in addresses:
        kind = network_kind(address)
        if kind != "public" and kind not in allowed:
            # the address stays in the server's log; the caller only learns that the host is not allowed
            log.warning("callback refused: non-public address", host=hostname[:80], kind=kind, address=str(address))
            raise _refused(f"callback_url host {hostname[:80]!r} resolves to a non-public network address; refused")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(parts.scheme, hostname, port or (443 if parts.scheme == "https" else 80), path, addresses[0])


# -- the pinned, deadline-bound HTTP call ------------------------------------------------------------------
class DeadlineExceeded(TimeoutError):
    """The attempt's wall-clock deadline passed before the receiver answered."""


def _arm(sock: socket.socket, deadline: float | None) -> None:
    """Give the next socket operation only the time left before the deadline."""
    if deadline is None:
        return
    left = deadline - time.monotonic()
    if left <= 0:
        raise DeadlineExceeded("the webhook attempt ran out of time")
    sock.settimeout(left)


class _DeadlineSocket(socket.socket):
    """A socket whose every receive and send gets only what is left of one deadline (not a per-call timeout)."""

    deadline: float | None = None

    def recv_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> int:
        _arm(self, self.deadline)
        return super().recv_into(buffer, nbytes, flags)

    def sendall(self, data: Any, flags: int = 0) -> None:
        _arm(self, self.deadline)
        super().sendall(data, flags)


class _DeadlineSSLSocket(ssl.SSLSocket):
    deadline: float | None = None

    def recv_into(self, buffer: Any, nbytes: int | None = None, flags: int = 0) -> int:
        _arm(self, self.deadline)
        return super().recv_into(buffer, nbytes, flags)  # type: ignore[arg-type]

    def send(self, data: Any, flags: int = 0) -> int:  # SSLSocket.sendall sends in pieces through send
        _arm(self, self.deadline)
        return super().send(data, flags)


def _connect(address: Address, port: int, deadline: float) -> _DeadlineSocket:
    family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
    sock = _DeadlineSocket(family, socket.SOCK_STREAM)
    try:
        sock.deadline = deadline
        _arm(sock, deadline)
        sock.connect((str(address), port))
    except BaseException:
        sock.close()
        raise
    return sock


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """HTTP to a fixed address; the Host header names the URL's host."""

    def __init__(self, target: Target, deadline: float) -> None:
        super().__init__(target.host, target.port)
        self._target, self._deadline = target, deadline

    def connect(self) -> None:
        self.sock = _connect(self._target.address, self._target.port, self._deadline)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to a fixed address; SNI and certificate verification name the URL's host."""

    def __init__(self, target: Target, deadline: float, context: ssl.SSLContext) -> None:
        context.sslsocket_class = _DeadlineSSLSocket
        super().__init__(target.host, target.port, context=context)
        self._target, self._deadline, self._tls = target, deadline, context

    def connect(self) -> None:
        sock = _connect(self._target.address, self._target.port, self._deadline)
        try:
            _arm(sock, self._deadline)  # the handshake is one call, bounded by the time left
            tls = self._tls.wrap_socket(sock, server_hostname=self._target.host)
        except BaseException:
            sock.close()
            raise
        assert isinstance(tls, _DeadlineSSLSocket)
        tls.deadline = self._deadline
        self.sock = tls


def default_tls_context() -> ssl.SSLContext:
    """Certificates verified against the system's trust store, for the URL's host name."""
    return ssl.create_default_context()


Poster = Callable[[Target, bytes, dict[str, str]], int]


def pinned_post(target: Target, body: bytes, headers: dict[str, str], deadline_seconds: float = DEADLINE_SECONDS,
                tls_context: Callable[[], ssl.SSLContext] = default_tls_context) -> int:
    """POST `body` to the checked target's pinned address; the answer's status code.

    Raises OSError (DeadlineExceeded when the whole exchange outlasts `deadline_seconds`), ssl.SSLError or
    http.client.HTTPException. Redirects are not followed; the answer's body is not read.
    """
    deadline = time.monotonic() + deadline_seconds
    connection: http.client.HTTPConnection = (
        _PinnedHTTPSConnection(target, deadline, tls_context()) if target.scheme == "https"
        else _PinnedHTTPConnection(target, deadline))
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        return connection.getresponse().status
    except TimeoutError as exc:
        raise DeadlineExceeded(f"no answer within {deadline_seconds:g} s") from exc
    finally:
        connection.close()


def describe_error(exc: BaseException) -> str:
    """What went wrong in an attempt, without addresses or internals: the error's kind and a generic reason."""
    if isinstance(exc, TimeoutError):
        return f"timeout: {exc}" if isinstance(exc, DeadlineExceeded) else "timeout"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"tls: certificate not valid for the host ({exc.verify_message})"
    if isinstance(exc, ssl.SSLError):
        return "tls: handshake failed"
    if isinstance(exc, http.client.HTTPException):
        return f"http: malformed answer ({type(exc).__name__})"
    if isinstance(exc, OSError) and exc.strerror:
        return f"connection failed: {exc.strerror}"
    return f"connection failed: {type(exc).__name__}"


# -- signing and delivery ----------------------------------------------------------------------------------
def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header's value for a body sent at `timestamp`."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def event_id(video_id: str, event: str) -> str:
    """One event's id: the same for every attempt and redelivery, so a receiver can drop duplicates."""
    return f"{video_id}.{event}"


def payload_of(doc: dict[str, Any]) -> dict[str, Any]:
    """What a callback receives about a finished job."""
    event = EVENTS.get(doc.get("status", ""), f"video.{doc.get('status')}")
    return {"event_id": event_id(doc["video_id"], event), "event": event, "video_id": doc["video_id"],
            "status": doc.get("status"), "title": doc.get("title"), "duration": doc.get("duration"),
            "error": doc.get("error"),
            "receipt_total_usd": ((doc.get("receipt") or {}).get("cost_usd") or {}).get("total"),
            "status_url_path": f"/videos/{doc['video_id']}"}


def _attempt(target: Target, body: bytes, secret: str, event: str, post: Poster) -> dict[str, Any]:
    started = time.monotonic()
    record: dict[str, Any] = {"at": status.utcnow()}
    headers = {"Content-Type": "application/json", "User-Agent": "video-pipeline-webhooks/1",
               EVENT_ID_HEADER: event, SIGNATURE_HEADER: signature(secret, int(time.time()), body)}
    try:
        code = post(target, body, headers)
        record.update(status_code=code, ok=200 <= code < 300)
    except (OSError, ssl.SSLError, http.client.HTTPException) as exc:
        record.update(error=describe_error(exc)[:300], ok=False)
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


def delivery_ref(clients: Clients, video_id: str, event: str) -> Any:
    """The delivery record of one event of one job."""
    return clients.db.collection(layout.WEBHOOK_DELIVERIES).document(f"{video_id}-{event}")


def deliver(clients: Clients, doc: dict[str, Any], secret: str, sleep: Callable[[float], None] = time.sleep,
            resolve: Resolver = system_resolver, post: Poster = pinned_post) -> dict[str, Any]:
    """Call the job's callback until it answers 2xx or attempts run out; every attempt recorded.

    The record ends with `state: done` (shared.ops.webhook_delivery reads it to drop a redelivered event).
    """
    settings = clients.settings
    url, payload = doc["callback_url"], payload_of(doc)
    body = json.dumps(payload, default=str, ensure_ascii=False).encode()
    ref = delivery_ref(clients, doc["video_id"], payload["event"])
    attempts: list[dict[str, Any]] = []

    def write(state: str) -> None:
        ref.set({"video_id": doc["video_id"], "url": url, "event": payload["event"], "event_id": payload["event_id"],
                 "attempts": attempts, "delivered": bool(attempts) and attempts[-1]["ok"], "state": state},
                merge=True)

    def attempt() -> dict[str, Any]:
        target = check_target(url, settings.webhook_allowed_networks, resolve)  # resolved once per attempt, pinned
        record = {"number": len(attempts) + 1, **_attempt(target, body, secret, payload["event_id"], post)}
        attempts.append(record)
        write("delivering")
        return record

    try:
        delivery_retrying(settings.webhook_attempts, settings.webhook_backoff_seconds, sleep)(attempt)
    except InvalidInputError as exc:  # the target is refused: recorded, not retried
        attempts.append({"number": len(attempts) + 1, "at": status.utcnow(), "ok": False, "error": exc.message})
    summary = {"event": payload["event"], "delivered": attempts[-1]["ok"], "attempts": len(attempts)}
    write("done")
    log.info("webhook delivered" if summary["delivered"] else "webhook not delivered", video_id=doc["video_id"],
             **summary)
    return summary
