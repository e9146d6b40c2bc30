"""Webhook targets (network kinds, refused non-public callbacks, the embedded-IPv4 forms), signatures, delivery
retries; the connection pinned to the checked address (rebinding, TLS SNI and certificate for the host) and the
attempt's overall deadline (a dripping receiver), on real loopback servers."""
from __future__ import annotations

import copy
import dataclasses
import hashlib
import hmac
import ipaddress
import json
import time
from types import SimpleNamespace
from typing import Any

import pytest

from shared.core.config import Settings
from shared.core.errors import InvalidInputError
from shared.ops import webhooks
from tests.support import verify_signature


def _resolver(address: str):
    return lambda host: [ipaddress.ip_address(address)]


@pytest.mark.parametrize("address, kind", [
    ("127.0.0.1", "loopback"), ("::1", "loopback"), ("10.1.2.3", "private"), ("192.168.0.9", "private"),
    ("169.254.169.254", "link_local"), ("fe80::1", "link_local"), ("::ffff:127.0.0.1", "loopback"),
    ("0.0.0.0", "reserved"), ("8.8.8.8", "public")])
def test_network_kinds(address, kind):
    assert webhooks.network_kind(ipaddress.ip_address(address)) == kind


@pytest.mark.parametrize("address, kind", [
    ("2002:7f00:1::", "loopback"),  # 6to4 (RFC 3056) of 127.0.0.1: Python calls it global
    ("2002:a00:1::1", "private"),  # 6to4 of 10.0.0.1
    ("2002:a9fe:a9fe::", "link_local"),  # 6to4 of the metadata server 169.254.169.254
    ("2001:0:4136:e378:8000:63bf:f5ff:fffe", "private"),  # Teredo (RFC 4380): client 10.0.0.1, stored inverted
    ("2001:0:a00:1:8000:63bf:7bff:fffe", "private"),  # Teredo whose server is 10.0.0.1
    ("64:ff9b::7f00:1", "loopback"),  # NAT64 well-known prefix (RFC 6052) of 127.0.0.1: Python calls it global
    ("64:ff9b::a9fe:a9fe", "link_local"),  # NAT64 of 169.254.169.254
    ("64:ff9b:1::a00:1", "private"),  # NAT64 local-use prefix (RFC 8215) of 10.0.0.1
    ("::7f00:1", "loopback"),  # IPv4-compatible ::127.0.0.1
    ("::ffff:10.0.0.1", "private"), ("::ffff:169.254.169.254", "link_local"),  # IPv4-mapped
])
def test_ipv6_forms_that_embed_a_non_public_ipv4_are_judged_by_it(address, kind):
    assert webhooks.network_kind(ipaddress.ip_address(address)) == kind
    with pytest.raises(InvalidInputError):
        webhooks.check_target("https://hooks.example.com/x", (), _resolver(address))


@pytest.mark.parametrize("address", ["64:ff9b::808:808", "2606:2800:220:1:248:1893:25c8:1946", "::ffff:8.8.8.8"])
def test_forms_of_public_addresses_stay_public(address):
    """NAT64 of 8.8.8.8 reaches 8.8.8.8 through a translator: it is as public as the address it carries."""
    assert webhooks.network_kind(ipaddress.ip_address(address)) == "public"


@pytest.mark.parametrize("address", ["10.0.0.7", "127.0.0.1", "169.254.169.254", "64:ff9b::a00:7", "2002:a00:7::",
                                     "fd00::7", "::ffff:10.0.0.7"])
def test_a_refusal_names_the_host_but_never_the_address_it_resolved_to(address):
    with pytest.raises(InvalidInputError) as refused:
        webhooks.check_target("https://hooks.example.com/x", (), _resolver(address))
    message = refused.value.message
    assert "hooks.example.com" in message and address not in message and "10.0.0.7" not in message
    assert not any(kind in message for kind in ("loopback", "link_local", "private ")), message


def test_a_refusal_is_the_same_whichever_non_public_address_the_name_has():
    messages = set()
    for address in ("10.0.0.1", "127.0.0.1", "169.254.169.254", "fd00::1"):
        with pytest.raises(InvalidInputError) as refused:
            webhooks.check_target("https://hooks.example.com/x", (), _resolver(address))
        messages.add(refused.value.message)
    assert len(messages) == 1, "the answer must not tell a caller which network the name points into"


def test_non_public_callbacks_are_refused_unless_allowed():
    with pytest.raises(InvalidInputError, match="non-public"):
        webhooks.check_target("http://localhost:9/x", (), _resolver("127.0.0.1"))
    with pytest.raises(InvalidInputError, match="non-public"):
        webhooks.check_target("http://metadata/x", ("loopback",), _resolver("169.254.169.254"))
    assert webhooks.check_target("http://localhost:9/x", ("loopback",), _resolver("127.0.0.1")).address == \
        ipaddress.ip_address("127.0.0.1")
    target = webhooks.check_target("https://hooks.example.com/x?a=1", (), _resolver("93.184.216.34"))
    assert (target.host, target.port, target.path, str(target.address)) == (
        "hooks.example.com", 443, "/x?a=1", "93.184.216.34")


def test_a_name_is_refused_when_any_of_its_addresses_is_not_public():
    both = lambda host: [ipaddress.ip_address("93.184.216.34"), ipaddress.ip_address("10.0.0.1")]  # noqa: E731
    with pytest.raises(InvalidInputError):
        webhooks.check_target("https://hooks.example.com/x", (), both)
    for bad in ("ftp://example.com/x", "http://user:pw@example.com/x", "not a url"):
        with pytest.raises(InvalidInputError):
            webhooks.check_target(bad, (), _resolver("93.184.216.34"))


MALFORMED_HOSTS = ["http://a..x/hook", f"http://{'a' * 64}.example.com/hook", "http://[zz]/hook", "http://℀/hook",
                   "http://-lead.example.com/", "http://trail-.example.com/", "http://exa mple.com/",
                   f"http://{'a.' * 130}com/", "http://example.com:99999/", "http://[::1/", "http://256.1.2.3/",
                   "http://." + "/"]


@pytest.mark.parametrize("url", MALFORMED_HOSTS)
def test_malformed_callback_hosts_are_a_clean_refusal(url):
    """A host that is neither an IP address nor a DNS name is refused as invalid_callback_url, before any
    lookup (the real resolver raised UnicodeError on `a..x`; urlsplit ValueError on `[zz]` and `℀`)."""
    looked_up: list[str] = []

    def resolve(host: str) -> list[Any]:
        looked_up.append(host)
        return [ipaddress.ip_address("93.184.216.34")]

    with pytest.raises(InvalidInputError) as refused:
        webhooks.check_target(url, ("loopback",), resolve)
    assert refused.value.code == "invalid_callback_url" and refused.value.field == "callback_url"
    assert refused.value.message.strip() and looked_up == []


def test_the_real_resolver_refuses_an_unresolvable_label_cleanly():
    """Even past the syntax check, the resolver turns the IDNA codec's UnicodeError into a refusal."""
    with pytest.raises(InvalidInputError) as refused:
        webhooks.system_resolver("a..x")
    assert refused.value.code == "invalid_callback_url"


@pytest.mark.parametrize("url", [
    "https://hooks.example.com/x", "https://hooks.example.com./x", f"http://{'a' * 63}.io/", "https://bücher.example/x",
    "http://93.184.216.34:8080/x", "http://[2606:2800::1]/x", "http://a_b.example.com/x"])
def test_well_formed_public_hosts_pass(url):
    webhooks.check_target(url, (), _resolver("93.184.216.34"))


def test_signatures_follow_the_documented_scheme():
    body = json.dumps({"event": "video.completed"}).encode()
    digest = hmac.new(b"s3cret", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert webhooks.signature("s3cret", 1700000000, body) == f"t=1700000000,v1={digest}"


def _independent_header(secret: str, t: int, body: bytes) -> str:
    """The documented header, computed here without the production signer."""
    return f"t={t},v1=" + hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()


def test_signatures_verify_only_for_the_same_secret_and_body():
    body = json.dumps({"event": "video.completed"}).encode()
    header = webhooks.signature("s3cret", 1700000000, body)
    assert header == _independent_header("s3cret", 1700000000, body)
    now = 1700000000
    assert verify_signature("s3cret", header, body, now=now)
    assert not verify_signature("other", header, body, now=now)
    assert not verify_signature("s3cret", header, body + b" ", now=now)
    assert not verify_signature("s3cret", header.replace("t=1700000000", "t=1700000001"), body, now=now)
    assert not verify_signature("s3cret", "v1=abc", body, now=now)
    assert not verify_signature("s3cret", header.replace("t=1700000000", "t=١٧٠٠٠٠٠٠٠٠"), body, now=now)


def test_the_documented_tolerance_is_five_minutes_either_way():
    """A receiver accepts a signature up to 5 minutes old (or ahead of its clock) and rejects it beyond."""
    body, t = b'{"event":"video.failed"}', 1700000000
    header = _independent_header("s3cret", t, body)
    assert webhooks.SIGNATURE_TOLERANCE_SECONDS == 300
    for skew in (0, 299, 300, -300):
        assert verify_signature("s3cret", header, body, now=t + skew), skew
    for skew in (301, 3600, -301, -86400):  # stale: a replay; future: a forged or badly skewed clock
        assert not verify_signature("s3cret", header, body, now=t + skew), skew


class _Clock:
    """A wall clock shared by the sender (webhooks' time.time) and the receiver; waiting moves it on."""

    def __init__(self, start: float) -> None:
        self.now = start

    def time(self) -> float:
        return self.now

    def wait(self, seconds: float) -> None:
        self.now += seconds


# -- delivery: tenacity retries with doubling backoff, every attempt recorded ----------------------------
PUBLIC_URL = "http://93.184.216.34/hook"  # an IP literal: resolved without DNS
DOC = {"video_id": "v1", "status": "failed", "callback_url": PUBLIC_URL, "error": {"code": "veo_rejected"}}


class _Ref:
    def __init__(self) -> None:
        self.writes: list[dict[str, Any]] = []
        self.merged: dict[str, Any] = {}

    def set(self, data: dict[str, Any], merge: bool = False) -> None:
        self.writes.append(copy.deepcopy(data))
        self.merged = {**self.merged, **copy.deepcopy(data)} if merge else copy.deepcopy(data)


class _Db:
    def __init__(self) -> None:
        self.refs: dict[tuple[str, str], _Ref] = {}

    def collection(self, name: str) -> Any:
        return SimpleNamespace(document=lambda doc_id: self.refs.setdefault((name, doc_id), _Ref()))


def _clients(attempts: int = 4, backoff: float = 1.0, allowed: tuple[str, ...] = ()) -> Any:
    settings = dataclasses.replace(Settings(), webhook_attempts=attempts, webhook_backoff_seconds=backoff,
                                   webhook_allowed_networks=allowed)
    return SimpleNamespace(settings=settings, db=_Db())


class _Answers:
    """A stand-in transport answering these status codes (or raising these errors) in turn; what it was sent."""

    def __init__(self, *answers: int | Exception) -> None:
        self.queue, self.sent = list(answers), []

    def __call__(self, target: webhooks.Target, body: bytes, headers: dict[str, str]) -> int:
        self.sent.append((target, body, headers))
        answer = self.queue.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def _record(clients: Any) -> _Ref:
    return clients.db.refs[("webhook_deliveries", "v1-video.failed")]


def test_failed_calls_are_retried_with_doubling_backoff_and_every_attempt_recorded():
    post = _Answers(500, ConnectionRefusedError(111, "Connection refused"), 503, 200)
    clients, waits = _clients(attempts=4, backoff=1.5), []
    summary = webhooks.deliver(clients, DOC, "s3cret", sleep=waits.append, post=post)
    assert summary == {"event": "video.failed", "delivered": True, "attempts": 4}
    assert len(post.sent) == 4 and waits == [1.5, 3.0, 6.0]
    writes = _record(clients).writes
    assert [len(w["attempts"]) for w in writes] == [1, 2, 3, 4, 4], "written after every attempt, then at the end"
    attempts = writes[-1]["attempts"]
    assert [a["number"] for a in attempts] == [1, 2, 3, 4]
    assert [a.get("status_code") for a in attempts] == [500, None, 503, 200]
    assert attempts[1]["error"] == "connection failed: Connection refused"
    assert [a["ok"] for a in attempts] == [False, False, False, True]
    assert writes[-1]["delivered"] is True and writes[-1]["state"] == "done"
    assert [w["state"] for w in writes] == ["delivering"] * 4 + ["done"]


def test_delivery_stops_after_the_configured_attempts_without_a_last_wait():
    post = _Answers(500, 500, 500)
    clients, waits = _clients(attempts=3, backoff=1.0), []
    summary = webhooks.deliver(clients, DOC, "s3cret", sleep=waits.append, post=post)
    assert summary == {"event": "video.failed", "delivered": False, "attempts": 3}
    assert len(post.sent) == 3 and waits == [1.0, 2.0]
    assert _record(clients).writes[-1]["delivered"] is False


def test_a_first_2xx_ends_delivery_without_waiting():
    post = _Answers(204)
    clients, waits = _clients(), []
    assert webhooks.deliver(clients, DOC, "s3cret", sleep=waits.append, post=post)["delivered"] is True
    assert len(post.sent) == 1 and waits == []


def test_a_refused_target_is_recorded_and_not_retried():
    post = _Answers()
    clients, waits = _clients(attempts=4), []
    doc = {**DOC, "callback_url": "http://127.0.0.1:9/hook"}
    summary = webhooks.deliver(clients, doc, "s3cret", sleep=waits.append, post=post)
    assert summary == {"event": "video.failed", "delivered": False, "attempts": 1}
    assert post.sent == [] and waits == []
    (attempt,) = _record(clients).writes[-1]["attempts"]
    assert attempt["number"] == 1 and "non-public" in attempt["error"]


def test_every_attempt_is_signed_for_the_receiver_and_carries_one_event_id():
    """Each attempt verifies at the receiver with the real clock: HMAC recomputed, `t` within the tolerance; the
    event id is the same on every attempt (a receiver drops what it has seen)."""
    seen: list[tuple[str, str]] = []

    def post(target: webhooks.Target, body: bytes, headers: dict[str, str]) -> int:
        received_at = time.time()
        assert verify_signature("s3cret", headers[webhooks.SIGNATURE_HEADER], body, now=received_at)
        t = int(headers[webhooks.SIGNATURE_HEADER].split(",")[0].removeprefix("t="))
        assert abs(received_at - t) <= 2, "t is the time of the attempt"
        seen.append((headers[webhooks.EVENT_ID_HEADER], json.loads(body)["event_id"]))
        return 500 if len(seen) == 1 else 200

    assert webhooks.deliver(_clients(), DOC, "s3cret", sleep=lambda s: None, post=post)["attempts"] == 2
    assert seen == [("v1.video.failed", "v1.video.failed")] * 2


def test_a_retry_long_after_the_first_attempt_is_signed_anew(monkeypatch):
    """Retries can come minutes later (doubling backoff): each must carry its own, fresh `t`, or the
    receiver rejects it as stale."""
    clock = _Clock(1_800_000_000)
    monkeypatch.setattr(webhooks, "time", SimpleNamespace(time=clock.time, monotonic=time.monotonic))
    verdicts: list[bool] = []

    def post(target: webhooks.Target, body: bytes, headers: dict[str, str]) -> int:
        received_at = clock.now  # the receiver's clock when the call arrives
        verdicts.append(verify_signature("s3cret", headers[webhooks.SIGNATURE_HEADER], body, now=received_at))
        return 503 if len(verdicts) < 3 else 200

    # each backoff wait lasts 400 s on this clock: beyond the 5-minute tolerance of a signature made earlier
    assert webhooks.deliver(_clients(), DOC, "s3cret", sleep=lambda s: clock.wait(400), post=post)["delivered"]
    assert verdicts == [True, True, True]


def test_each_attempt_resolves_once_and_posts_to_the_address_it_checked():
    answers = iter(["93.184.216.34", "127.0.0.1", "93.184.216.35", "10.0.0.1"])
    looked_up: list[str] = []

    def resolve(host: str) -> list[Any]:
        looked_up.append(host)
        return [ipaddress.ip_address(next(answers))]

    post = _Answers(500)
    doc = {**DOC, "callback_url": "https://hooks.example.com/hook"}
    summary = webhooks.deliver(_clients(attempts=4), doc, "s3cret", sleep=lambda s: None, resolve=resolve,
                               post=post)
    # attempt 1: checked 93.184.216.34 and posted there; attempt 2: the name now says 127.0.0.1, refused
    assert [str(t.address) for t, _, _ in post.sent] == ["93.184.216.34"]
    assert looked_up == ["hooks.example.com", "hooks.example.com"] and summary["attempts"] == 2
    assert summary["delivered"] is False
