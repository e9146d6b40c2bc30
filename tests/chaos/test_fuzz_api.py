"""Bad input: property-based fuzzing of the HTTP API described by shared/api/openapi.yaml, and of the Pub/Sub
payloads the agents consume.

HTTP: every operation of the description, with valid and invalid bodies, parameters, headers, methods
and paths, with and without credentials (hypothesis builds them from the description's schemas, then
breaks them). No response may be a 5xx; every 4xx carries the error shape of the description
(`{"error": {"code", "message"}}`, both non-empty strings). The subscriptions are in pull mode
meanwhile, so accepted creations do not start Veo; their messages are dropped afterwards.

Pub/Sub: malformed and oversized payloads published to the real topics (push mode) are parked by the
agent at once and recorded by the monitor, each exactly once (a redelivery would park it again).

`report.scale(sample, 10_000)` requests: a sample in the default run, 10,000 under `make chaos`.
"""
from __future__ import annotations

import json
import time
import urllib.parse
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st

from shared.core import layout, messages
from shared.core.topics import EVENT_ROUTES
from tests.chaos import report

pytestmark = [pytest.mark.timeout(3600)]
SPEC = yaml.safe_load((Path(__file__).resolve().parents[2] / "shared" / "api" / "openapi.yaml").read_text())
METHODS = ("get", "post", "put", "patch", "delete")
OTHER_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD", "TRACE")
REQUESTS = report.scale(400, 10_000)
FUZZ_USER = "fuzz-user"
PAYLOADS = report.scale(16, 200)
OUTCOMES: dict[str, Any] = {"requests": 0, "by_status": Counter(), "server_errors": [], "bad_errors": [],
                            "jobs_created": 0, "seconds": 0.0, "payloads": 0, "payload_reasons": Counter()}


def resolve(node: dict[str, Any]) -> dict[str, Any]:
    """The node a local `$ref` points to (or the node itself)."""
    while "$ref" in node:
        target: Any = SPEC
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        node = target
    return node


OPERATIONS = [(path, method, resolve(op), [resolve(p) for p in item.get("parameters", [])])
              for path, item in SPEC["paths"].items() for method, op in item.items() if method in METHODS]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12)


def from_schema(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values valid for a (subset of) JSON schema."""
    schema = resolve(schema)
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type")
    if kind == "object":
        properties = schema.get("properties", {})
        required = set(schema.get("required", []))
        return st.fixed_dictionaries({k: from_schema(v) for k, v in properties.items() if k in required},
                                     optional={k: from_schema(v) for k, v in properties.items() if k not in required})
    if kind == "string":
        return st.text(min_size=schema.get("minLength", 0), max_size=schema.get("maxLength", 60))
    if kind == "integer":
        return st.integers(schema.get("minimum"), schema.get("maximum"))
    if kind == "number":
        return st.floats(schema.get("minimum"), schema.get("maximum"), allow_nan=False, allow_infinity=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "array":
        return st.lists(from_schema(schema.get("items", {})), max_size=3)
    return json_values


def _request_schema(op: dict[str, Any]) -> dict[str, Any] | None:
    body = op.get("requestBody")
    return resolve(body)["content"]["application/json"]["schema"] if body else None


@st.composite
def bodies(draw: st.DrawFn, op: dict[str, Any]) -> tuple[bytes | None, str | None]:
    """A request body and its content type: valid, one field broken, any JSON, not JSON, too large or none."""
    schema = _request_schema(op)
    valid = from_schema(schema) if schema else json_values
    variant = draw(st.sampled_from(("valid", "valid", "broken_field", "any_json", "not_json", "too_large",
                                    "none", "wrong_type", "deep", "huge_number")))
    if variant == "valid":
        return json.dumps(draw(valid)).encode(), "application/json"
    if variant == "broken_field":
        value = draw(valid)
        if isinstance(value, dict):
            value[draw(st.text(max_size=12) | st.sampled_from(sorted(value) or ["theme"]))] = draw(json_values)
        return json.dumps(value).encode(), "application/json"
    if variant == "any_json":
        return json.dumps(draw(json_values)).encode(), "application/json"
    if variant == "not_json":
        return draw(st.binary(max_size=200)), "application/json"
    if variant == "too_large":
        return json.dumps({"theme": "x" * draw(st.integers(16_400, 40_000))}).encode(), "application/json"
    if variant == "deep":  # nesting past the JSON parser's recursion limit, within the size limit
        depth = draw(st.integers(500, 8000))
        return b"[" * depth + b"]" * depth, "application/json"
    if variant == "huge_number":  # beyond 64-bit integers and doubles
        value = draw(valid)
        if isinstance(value, dict):
            value[draw(st.sampled_from(sorted(value) or ["theme"]))] = draw(st.integers(2**63, 2**70) | st.just(-2**64))
        return json.dumps(value).encode().replace(b"1.0", b"1e999"), "application/json"
    if variant == "wrong_type":
        return draw(st.binary(max_size=100)), draw(st.sampled_from(("text/plain", "application/xml", "")))
    return None, None


header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60).map(str.strip)


@st.composite
def credentials(draw: st.DrawFn, api_key: str) -> dict[str, str]:
    """Valid, missing, malformed or foreign credentials."""
    choice = draw(st.sampled_from(("bearer",) * 8 + ("x_api_key",) * 3 + ("none", "garbage_bearer", "garbage_key",
                                                                       "basic", "empty_bearer")))
    return {"bearer": {"Authorization": f"Bearer {api_key}"}, "x_api_key": {"X-API-Key": api_key}, "none": {},
            "garbage_bearer": {"Authorization": f"Bearer {draw(header_text)}"},
            "garbage_key": {"X-API-Key": draw(header_text)}, "basic": {"Authorization": f"Basic {draw(header_text)}"},
            "empty_bearer": {"Authorization": "Bearer"}}[choice]


odd_ids = (st.text(max_size=80) | st.from_regex(r"v[0-9]{14}-[0-9a-f]{12}", fullmatch=True)
           | st.sampled_from(["../../me", "robots.txt", "a\nb", "." * 3, "x" * 2000]))


@st.composite
def api_calls(draw: st.DrawFn, api_key: str, known_ids: tuple[str, ...]) -> dict[str, Any]:
    """One HTTP request against an operation of the description (or a path/method it does not have).
    Path ids are often the user's own resources (`known_ids`), so handlers get past their lookup."""
    path, method, op, path_params = draw(st.sampled_from(OPERATIONS))
    url = path
    for param in path_params + [resolve(p) for p in op.get("parameters", []) if resolve(p)["in"] == "path"]:
        raw = draw(st.sampled_from(known_ids) | odd_ids) if known_ids else draw(odd_ids)
        url = url.replace("{" + param["name"] + "}", urllib.parse.quote(raw, safe="") or "x")
    if draw(st.integers(0, 19)) == 0:
        url = "/" + urllib.parse.quote(draw(st.text(max_size=40) | st.sampled_from(["robots.txt", "favicon.ico"])),
                                       safe="/")
    query = {p["name"]: draw(from_schema(p.get("schema", {})).map(str) | header_text)
             for p in (resolve(p) for p in op.get("parameters", [])) if p["in"] == "query" and draw(st.booleans())}
    if draw(st.booleans()):
        query.update(draw(st.dictionaries(header_text, header_text, max_size=2)))
    verb = method.upper() if draw(st.integers(0, 9)) else draw(st.sampled_from(OTHER_METHODS))
    body, content_type = draw(bodies(op)) if verb in ("POST", "PUT", "PATCH") else (None, None)
    headers = {**draw(credentials(api_key)), **({"Content-Type": content_type} if content_type is not None else {})}
    if draw(st.integers(0, 5)) == 0:
        headers["Origin"] = draw(st.sampled_from(("http://localhost:3000", "https://evil.example")))
        if verb == "OPTIONS":
            headers["Access-Control-Request-Method"] = draw(st.sampled_from(("POST", "GET", "BREW")))
    return {"method": verb, "path": url, "params": query, "headers": headers, "data": body}


def check_response(call: dict[str, Any], response: requests.Response) -> None:
    """Count the response; keep any 5xx, and any 4xx without the machine code and human message."""
    OUTCOMES["requests"] += 1
    OUTCOMES["by_status"][response.status_code] += 1
    if response.status_code < 400:
        OUTCOMES["jobs_created"] += response.status_code == 202
        return
    seen = {"method": call["method"], "path": call["path"][:120], "status": response.status_code,
            "body": response.text[:300]}
    if response.status_code >= 500:
        OUTCOMES["server_errors"].append(seen)
    elif call["method"] != "HEAD" and not _error_shape(response):
        OUTCOMES["bad_errors"].append(seen)


def _error_shape(response: requests.Response) -> bool:
    try:
        error = response.json()["error"]
    except (ValueError, KeyError, TypeError):
        return False
    return all(isinstance(error.get(k), str) and error[k].strip() for k in ("code", "message"))


@pytest.fixture(scope="module", autouse=True)
def bad_input_row() -> Any:
    """The suite's row: HTTP requests and Pub/Sub payloads together."""
    yield
    report.record(report.SuiteResult(
        suite="bad_input", trials=OUTCOMES["requests"] + OUTCOMES["payloads"],
        http_5xx=len(OUTCOMES["server_errors"]),
        extra={"http_requests": OUTCOMES["requests"], "operations": len(OPERATIONS),
               "status_counts": dict(sorted(OUTCOMES["by_status"].items())),
               "jobs_created_then_dropped": OUTCOMES["jobs_created"],
               "requests_per_second": round(OUTCOMES["requests"] / max(OUTCOMES["seconds"], 0.001), 1),
               "4xx_without_code_or_message": len(OUTCOMES["bad_errors"]),
               "pubsub_payloads": OUTCOMES["payloads"], "dead_letter_reasons": dict(OUTCOMES["payload_reasons"])}))


@pytest.fixture
def pull_during_fuzz(pipeline):  # type: ignore[no-untyped-def]
    """Accepted creations wait in their subscription (no Veo call); push comes back, drained, afterwards."""
    pipeline.use_pull()
    yield
    pipeline.use_push()


def own_resources(pipeline, user: str) -> tuple[str, ...]:  # type: ignore[no-untyped-def]
    """A video waiting for approval (no Veo call) and a character of `user`: ids the fuzz reuses."""
    video = pipeline.api("POST", "/videos", user, json={"theme": "a lighthouse at dawn", "review": True})
    character = pipeline.api("POST", "/characters", user, json={"name": "Ada", "description": "a tall sailor"})
    assert (video.status_code, character.status_code) == (202, 201), (video.text, character.text)
    return video.json()["video_id"], character.json()["character_id"]


@pytest.mark.usefixtures("pull_during_fuzz")
def test_fuzzed_http_requests_never_answer_5xx_and_every_4xx_says_why(pipeline):
    # A user of its own, on the pro plan: its rate limit and daily quotas bound the slow creations (a Gemini
    # script, a portrait), later ones answer 429; and the session user's quotas stay untouched.
    api_key = pipeline.key_for(FUZZ_USER, plan="pro")
    known = own_resources(pipeline, FUZZ_USER)
    base = pipeline.cloud.url_of("agent-script")
    session = requests.Session()
    started = time.monotonic()

    @settings(max_examples=REQUESTS, deadline=None, phases=[Phase.generate], database=None,
              suppress_health_check=list(HealthCheck))
    @given(call=api_calls(api_key, known))
    def one_request(call: dict[str, Any]) -> None:
        with session.request(call["method"], base + call["path"], params=call["params"], headers=call["headers"],
                             data=call["data"], timeout=60, allow_redirects=False, stream=True) as response:
            check_response(call, response)  # reads the body of errors only (a live event stream never ends)

    one_request()
    elapsed = OUTCOMES["seconds"] = time.monotonic() - started
    print(f"\nbad_input: {OUTCOMES['requests']} requests in {elapsed:.0f} s, statuses "
          f"{dict(sorted(OUTCOMES['by_status'].items()))}, {OUTCOMES['jobs_created']} jobs created then dropped")
    assert OUTCOMES["requests"] >= REQUESTS * 0.9
    assert not OUTCOMES["server_errors"], OUTCOMES["server_errors"][:5]
    assert not OUTCOMES["bad_errors"], OUTCOMES["bad_errors"][:5]


# -- Pub/Sub payloads ------------------------------------------------------------------------------------
def _undecodable(data: bytes) -> bool:
    try:
        messages.decode(data)
    except Exception:  # noqa: BLE001 - any refusal counts
        return True
    return False


step_like = st.fixed_dictionaries({"schema_version": st.sampled_from([1, 1, 2, "1"]),
                                   "kind": st.sampled_from(["video_request", "assembly_request", "qa_request", "x"]),
                                   "video_id": st.sampled_from(["vtest-no-such-job-1", "UPPER", ""]) | st.text()},
                                  optional={"attempt": json_values, "origin": json_values, "extra": json_values})
payloads = st.one_of(st.binary(max_size=300), json_values.map(lambda v: json.dumps(v).encode()),
                     st.integers(500, 5000).map(lambda depth: b"[" * depth + b"]" * depth),
                     step_like.map(lambda v: json.dumps(v).encode()),
                     st.integers(messages.MAX_MESSAGE_BYTES + 1, 200_000).map(lambda n: b"{" + b" " * n + b"}"))


def test_malformed_and_oversized_payloads_are_parked_and_recorded_once(pipeline, clients):
    from google.cloud import pubsub_v1

    pipeline.use_push()
    monitor = pipeline.cloud.url_of("agent-monitor")
    requests.post(monitor, timeout=120).raise_for_status()  # what earlier tests parked
    before = {snap.id for snap in clients.db.collection(layout.DEAD_LETTERS).stream()}
    sent: list[bytes] = []

    @settings(max_examples=PAYLOADS, deadline=None, phases=[Phase.generate], database=None,
              suppress_health_check=list(HealthCheck))
    @given(payload=payloads, route=st.sampled_from(EVENT_ROUTES))
    def publish(payload: bytes, route: Any) -> None:
        assume(payload and _undecodable(payload))
        publisher.publish(publisher.topic_path(clients.settings.project, route.topic), payload).result(timeout=30)
        sent.append(payload)

    publisher = pubsub_v1.PublisherClient()
    publish()
    recorded: list[dict[str, Any]] = []
    deadline = time.monotonic() + 120
    while len(recorded) < len(sent) and time.monotonic() < deadline:
        time.sleep(1)
        requests.post(monitor, timeout=120).raise_for_status()
        recorded = [snap.to_dict() for snap in clients.db.collection(layout.DEAD_LETTERS).stream()
                    if snap.id not in before]
    time.sleep(3)  # a redelivery, if any, would park a second copy now
    requests.post(monitor, timeout=120).raise_for_status()
    recorded = [snap.to_dict() for snap in clients.db.collection(layout.DEAD_LETTERS).stream()
                if snap.id not in before]
    assert sorted(r["size"] for r in recorded) == sorted(len(p) for p in sent), "each payload recorded once"
    assert all(r["reason"] in ("malformed_message", "message_too_large", "unsupported_schema",
                               "wrong_message_kind") for r in recorded), Counter(r["reason"] for r in recorded)
    OUTCOMES["payloads"] = len(sent)
    OUTCOMES["payload_reasons"] = Counter(r["reason"] for r in recorded)
