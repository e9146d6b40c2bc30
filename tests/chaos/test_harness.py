"""The chaos harness's own evidence, without a cloud: the push relay records what agents answer (5xx included,
and no answer at all), 5xx are excused only by a fault that overlapped them, and a job the monitor gave up on
is lost unless that failure was expected."""
from __future__ import annotations

import base64
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any

import requests

from shared.core.topics import EVENT_ROUTES
from tests.chaos.harness import (
    Exchange,
    Exchanges,
    InjectedFault,
    PushRelay,
    suite_result,
    unexplained_5xx,
    video_id_of_push,
)


def _push(data: bytes) -> bytes:
    return json.dumps({"message": {"data": base64.b64encode(data).decode(), "messageId": "1"},
                       "subscription": "projects/p/subscriptions/s"}).encode()


def test_the_relay_passes_pushes_on_and_records_each_answer():
    answers = iter([200, 500, 204])
    received: list[bytes] = []

    class Agent(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            received.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(next(answers))
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return None

    agent = ThreadingHTTPServer(("127.0.0.1", 0), Agent)
    threading.Thread(target=agent.serve_forever, daemon=True).start()
    route = EVENT_ROUTES[1]
    cloud = SimpleNamespace(project="p", push_endpoint=lambda r: f"http://127.0.0.1:{agent.server_address[1]}/x")
    relay = PushRelay(cloud, Exchanges())
    threading.Thread(target=relay.server.serve_forever, daemon=True).start()
    try:
        bodies = [_push(b'{"video_id": "vtest-0123456789abcdef"}'), _push(b"\xff not json"), _push(b"[1]")]
        codes = [requests.post(relay.endpoint(route), data=b, timeout=10).status_code for b in bodies]
        agent.shutdown()
        agent.server_close()
        gone = requests.post(relay.endpoint(route), data=bodies[0], timeout=10).status_code
    finally:
        relay.server.shutdown()
        relay.server.server_close()
    assert codes == [200, 500, 204] and gone == 502 and received == bodies
    seen = relay.exchanges.since()
    assert [(e.source, e.agent, e.status) for e in seen] == [("push", route.agent, 200), ("push", route.agent, 500),
                                                               ("push", route.agent, 204), ("push", route.agent, None)]
    assert [e.video_id for e in seen] == ["vtest-0123456789abcdef", None, None, "vtest-0123456789abcdef"]
    assert [e.kind for e in unexplained_5xx(seen, [])] == ["5xx"]


def test_a_5xx_is_excused_only_by_a_fault_that_overlapped_it_on_its_agent_and_job():
    now = time.time()
    e = Exchange("push", "agent-assembler", now, now + 1, 503, "v1")
    assert unexplained_5xx([e], []) == [e]
    assert unexplained_5xx([e], [InjectedFault("kill", now - 5, now)]) == []
    assert unexplained_5xx([e], [InjectedFault("kill", now - 100, now - 60)]) == [e], "long before"
    assert unexplained_5xx([e], [InjectedFault("kill", now + 30, now + 40)]) == [e], "after the request ended"
    assert unexplained_5xx([e], [InjectedFault("kill", now, now, agents=frozenset({"agent-qa"}))]) == [e]
    assert unexplained_5xx([e], [InjectedFault("veo", now, now, video_ids=frozenset({"v2"}))]) == [e]
    ok = Exchange("push", "agent-assembler", now, now + 1, 200, "v1")
    assert unexplained_5xx([ok, Exchange("push", "a", now, now, None)], []) == []


def test_a_job_the_monitor_gave_up_on_is_lost_unless_expected():
    docs = {"a": {"status": "completed"},
            "b": {"status": "failed", "error": {"code": "retries_exhausted", "message": "3 retries"}},
            "c": {"status": "failed", "error": {"code": "veo_rejected", "message": "400"}},
            "d": {"status": "failed", "error": {"code": "dead_lettered", "message": "5 attempts"}},
            "e": {"status": "failed", "error": {"code": "veo_rejected"}}}
    result = suite_result("s", 1, list(docs), docs, 0)
    assert (result.completed, result.failed_with_reason, result.lost) == (1, 1, 3)
    excused = suite_result("s", 1, list(docs), docs, 0, expected={"b": "retries_exhausted"})
    assert (excused.failed_with_reason, excused.lost) == (2, 2)
    counted = suite_result("s", 1, ["a"], docs, 0, exchanges=[Exchange("monitor", "m", 0, 1, 500)])
    assert counted.http_5xx == 1 and counted.extra["http_answers"] == {"5xx": 1}


def test_the_job_of_a_push_is_read_without_the_pipelines_decoder():
    assert video_id_of_push(_push(b'{"video_id": "v-1", "kind": "x"}')) == "v-1"
    for data in (b"\xff", b"[" * 5000 + b"]" * 5000, b'{"video_id": 5}', b"1" * 5000):
        assert video_id_of_push(_push(data)) is None
    assert video_id_of_push(b"not json") is None
