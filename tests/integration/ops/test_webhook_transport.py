"""The webhook transport on real loopback servers: the connection goes to the address that was checked (a DNS
answer that changes afterwards reaches nothing), TLS still names the host (SNI, certificate), and one attempt
has one wall-clock deadline (a receiver that drips bytes cannot hold the caller).

Evidence is each server's own log: what it received, the SNI it was asked for, how much it managed to drip.
"""
from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from shared.core.config import Settings
from shared.ops import webhooks
from tests.support import verify_signature

pytestmark = pytest.mark.timeout(120)


# -- receivers ---------------------------------------------------------------------------------------------
@dataclass
class _Log:
    requests: list[dict[str, Any]] = field(default_factory=list)
    sni: list[str | None] = field(default_factory=list)


def _serve(address: str, port: int, log: _Log, tls: ssl.SSLContext | None = None) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers["Content-Length"]))
            log.requests.append({"host": self.headers["Host"], "headers": dict(self.headers), "body": body})
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer((address, port), Handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def servers() -> Iterator[list[ThreadingHTTPServer]]:
    started: list[ThreadingHTTPServer] = []
    yield started
    for server in started:
        server.shutdown()
        server.server_close()


def _clients(allowed: tuple[str, ...] = ("loopback",)) -> Any:
    settings = Settings(webhook_allowed_networks=allowed, webhook_attempts=1)

    class Ref:
        def set(self, data: dict[str, Any], merge: bool = False) -> None:
            self.data = data

    return SimpleNamespace(settings=settings, db=SimpleNamespace(
        collection=lambda name: SimpleNamespace(document=lambda doc_id: Ref())))


# -- pinning -----------------------------------------------------------------------------------------------
def test_a_name_that_rebinds_after_the_check_cannot_move_the_connection(servers):
    """The resolver answers 127.0.0.1 (the receiver) for the check, then 127.0.0.2 (an internal service on the
    same port) for anyone who asks again. The POST reaches the receiver; the internal service sees nothing."""
    receiver, internal = _Log(), _Log()
    servers.append(_serve("127.0.0.1", 0, receiver))
    port = servers[0].server_address[1]
    servers.append(_serve("127.0.0.2", port, internal))
    answers = iter(["127.0.0.1"])
    looked_up: list[str] = []

    def rebinding(host: str) -> list[Any]:
        looked_up.append(host)
        return [ipaddress.ip_address(next(answers, "127.0.0.2"))]

    doc = {"video_id": "vpin1", "status": "completed", "callback_url": f"http://hooks.rebind.test:{port}/hook"}
    summary = webhooks.deliver(_clients(), doc, "s3cret", resolve=rebinding, sleep=lambda s: None)
    assert summary["delivered"] is True
    assert len(receiver.requests) == 1 and internal.requests == []
    assert receiver.requests[0]["host"] == f"hooks.rebind.test:{port}", "the Host header still names the host"
    assert looked_up == ["hooks.rebind.test"], "resolved once: the connection used the checked answer"
    assert verify_signature("s3cret", receiver.requests[0]["headers"][webhooks.SIGNATURE_HEADER],
                            receiver.requests[0]["body"])


# -- TLS: SNI and certificate for the host, connection to the pinned address -------------------------------
def _certificate(tmp: Path, host: str) -> tuple[Path, Path, Path]:
    """A throwaway CA and a server certificate for `host` signed by it: (ca.pem, cert.pem, key.pem)."""
    now = dt.datetime.now(dt.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "webhook test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
          .not_valid_after(now + dt.timedelta(hours=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = (tmp / "ca.pem", tmp / "cert.pem", tmp / "key.pem")
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return paths


@pytest.fixture
def tls_receiver(tmp_path, servers) -> tuple[int, _Log, Path]:
    ca, cert, key = _certificate(tmp_path, "hooks.pinned.test")
    log = _Log()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    context.sni_callback = lambda sock, name, ctx: log.sni.append(name)  # type: ignore[assignment,func-returns-value]
    servers.append(_serve("127.0.0.1", 0, log, context))
    return servers[-1].server_address[1], log, ca


def _trusting(ca: Path) -> Any:
    return lambda: ssl.create_default_context(cafile=str(ca))


def test_tls_names_the_host_while_connecting_to_the_pinned_address(tls_receiver):
    port, log, ca = tls_receiver
    target = webhooks.Target("https", "hooks.pinned.test", port, "/hook", ipaddress.ip_address("127.0.0.1"))
    code = webhooks.pinned_post(target, b"{}", {"Content-Type": "application/json"}, tls_context=_trusting(ca))
    assert code == 200
    assert log.sni == ["hooks.pinned.test"], "SNI carries the host name, not the address"
    assert log.requests[0]["host"] == f"hooks.pinned.test:{port}"


def test_a_certificate_for_another_name_is_refused(tls_receiver):
    """Pinning the address must not switch certificate checks off: a host the certificate does not name fails."""
    port, log, ca = tls_receiver
    target = webhooks.Target("https", "other.pinned.test", port, "/hook", ipaddress.ip_address("127.0.0.1"))
    with pytest.raises(ssl.SSLCertVerificationError) as refused:
        webhooks.pinned_post(target, b"{}", {}, tls_context=_trusting(ca))
    assert webhooks.describe_error(refused.value).startswith("tls: certificate not valid")
    assert log.requests == []


def test_an_unknown_certificate_authority_is_refused(tls_receiver):
    port, log, _ca = tls_receiver
    target = webhooks.Target("https", "hooks.pinned.test", port, "/hook", ipaddress.ip_address("127.0.0.1"))
    with pytest.raises(ssl.SSLCertVerificationError):
        webhooks.pinned_post(target, b"{}", {})  # the system trust store does not know the test CA
    assert log.requests == []


# -- the overall deadline ----------------------------------------------------------------------------------
@dataclass
class _Drip:
    """A receiver that reads the request, then sends its answer one byte at a time, forever (or `total` bytes)."""

    total: int = 400
    interval: float = 0.05
    sent: int = 0
    hung_up: bool = False
    done: threading.Event = field(default_factory=threading.Event)


@pytest.fixture
def dripping() -> Iterator[tuple[int, _Drip]]:
    drip = _Drip()
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.settimeout(30)
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(4096)
            answer = b"HTTP/1.1 200 OK\r\nX-Drip: " + b"a" * drip.total
            try:
                for byte in answer:
                    conn.sendall(bytes([byte]))
                    drip.sent += 1
                    drip.done.wait(drip.interval)
            except OSError:  # the client closed the connection: broken pipe or reset
                drip.hung_up = True
        drip.done.set()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1], drip
    drip.done.set()
    thread.join(timeout=30)
    listener.close()


def test_a_dripping_receiver_cannot_outlast_the_attempts_deadline(dripping):
    """Every byte arrives well within any per-read timeout, so only a deadline on the whole exchange ends it:
    the caller gives up with DeadlineExceeded and hangs up while the receiver still has most of its answer."""
    port, drip = dripping
    target = webhooks.Target("http", "hooks.drip.test", port, "/hook", ipaddress.ip_address("127.0.0.1"))
    with pytest.raises(webhooks.DeadlineExceeded) as expired:
        webhooks.pinned_post(target, b"{}", {}, deadline_seconds=1.0)
    assert webhooks.describe_error(expired.value).startswith("timeout:")
    drip.interval = 0.0  # let the receiver notice the hang-up at once
    assert drip.done.wait(30)
    assert drip.hung_up, "the caller closed the connection"
    assert drip.sent < drip.total, f"the receiver managed to send {drip.sent} of {drip.total} bytes"


def test_a_receiver_that_never_answers_is_given_up_at_the_deadline(servers):
    listener = socket.create_server(("127.0.0.1", 0))  # accepts (the kernel's backlog) but never reads or writes
    try:
        target = webhooks.Target("http", "hooks.silent.test", listener.getsockname()[1], "/",
                                 ipaddress.ip_address("127.0.0.1"))
        with pytest.raises(webhooks.DeadlineExceeded):
            webhooks.pinned_post(target, b"{}", {}, deadline_seconds=0.5)
    finally:
        listener.close()
