"""Bad input: property-based fuzzing of the HTTP API described by shared/api/openapi.yaml, and of the Pub/Sub
payloads the agents consume.

HTTP: every operation of the description, with valid and invalid bodies, parameters (query and header),
headers, methods and paths, with and without credentials (hypothesis builds them from the description's
schemas, then breaks them). No response may be a 5xx; every 4xx carries the error shape of the description
(`{"error": {"code", "message"}}`, both non-empty strings). Inputs an outside review answered with HTML 500
pages are drawn on purpose, and a request carrying one must be refused (never a 2xx): `ttl` and
`Last-Event-ID` as non-ASCII digits or 5,000-digit numbers, JSON integers beyond Python's 4,300-digit limit
in any body, malformed callback hosts, Firestore-reserved ids as `character_id`. The subscriptions are in
pull mode meanwhile, so accepted creations do not start Veo; their messages are dropped afterwards.

Pub/Sub: malformed and oversized payloads published to the real topics (push mode), each built broken in a
known way (not JSON, truncated, not an object, wrong schema version, a field breaking the documented
schema, a kind the topic's agent does not take, too large) and never filtered through the pipeline's own
decoder, are parked by the agent at once (its push answered 2xx, seen by the harness's relay) and recorded
by the monitor, each exactly once and with the reason its kind of breakage implies.

`report.scale(sample, 10_000)` requests: a sample in the default run, 10,000 under `make chaos`.
"""
from __future__ import annotations

import base64
import json
import re
import time
import urllib.parse
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from shared.core import layout
from shared.core.topics import EVENT_ROUTES
from tests.chaos import report
from tests.chaos.harness import unexplained_5xx

pytestmark = [pytest.mark.timeout(3600)]
SPEC = yaml.safe_load((Path(__file__).resolve().parents[2] / "shared" / "api" / "openapi.yaml").read_text())
METHODS = ("get", "post", "put", "patch", "delete")
OTHER_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD", "TRACE")
REQUESTS = report.scale(400, 10_000)
FUZZ_USER = "fuzz-user"
PAYLOADS = report.scale(16, 200)
OUTCOMES: dict[str, Any] = {"requests": 0, "by_status": Counter(), "server_errors": [], "bad_errors": [],
                            "accepted_bad_inputs": [], "jobs_created": 0, "seconds": 0.0, "payloads": 0,
                            "payload_reasons": Counter(), "payload_push_5xx": 0}


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


# Numbers as text that only ASCII digits of a sane length may stand for (str.isdigit() accepts the others).
NOT_ASCII_NUMBERS = ["١٢٣", "²", "³", "۹", "१२", "１２", "٣" * 3]
huge_digits = st.integers(4301, 6000).map(lambda n: "9" * n) | st.integers(10, 60).map(lambda n: "1" * n)
number_like = st.sampled_from(NOT_ASCII_NUMBERS) | huge_digits | st.from_regex(r"[0-9]{1,6}", fullmatch=True)
MALFORMED_HOSTS = ["a..x", "a" * 64 + ".example.com", "[zz]", "℀", "[::1", "-x.example", "x-.example", "exa mple.com",
                   "a." * 130 + "com", "example.com:99999", "."]
malformed_callbacks = (st.sampled_from(("http://", "https://")).flatmap(
    lambda scheme: st.sampled_from(MALFORMED_HOSTS).map(lambda host: f"{scheme}{host}/hook")))
RESERVED_IDS = ["__proto__", "__name__", "____", "__x__"]


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
                                    "none", "wrong_type", "deep", "huge_number", "digits_beyond_limit",
                                    "hostile_field")))
    if variant == "valid":
        return json.dumps(draw(valid)).encode(), "application/json"
    if variant == "digits_beyond_limit":  # json.loads raises a plain ValueError past 4,300 digits
        value = draw(valid)
        digits = ("-" if draw(st.booleans()) else "") + "9" * draw(st.integers(4301, 6000))
        if isinstance(value, dict):
            value[draw(st.sampled_from(sorted(value) or ["theme"]))] = "@@HUGE@@"
            return json.dumps(value).encode().replace(b'"@@HUGE@@"', digits.encode()), "application/json"
        return f"[{digits}]".encode(), "application/json"
    if variant == "hostile_field":  # a valid body but for one field an outside review answered with a 500
        value = draw(valid)
        properties = (schema or {}).get("properties", {})
        if isinstance(value, dict) and "callback_url" in properties and draw(st.booleans()):
            value["callback_url"] = draw(malformed_callbacks)
        elif isinstance(value, dict) and "character_id" in properties:
            value["character_id"] = draw(st.sampled_from(RESERVED_IDS))
        return json.dumps(value).encode(), "application/json"
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
    params = [resolve(p) for p in op.get("parameters", [])]
    query = {p["name"]: draw(from_schema(p.get("schema", {})).map(str) | header_text
                             | (number_like if p.get("schema", {}).get("type") == "integer" else st.nothing()))
             for p in params if p["in"] == "query" and draw(st.booleans())}
    if draw(st.booleans()):
        query.update(draw(st.dictionaries(header_text, header_text, max_size=2)))
    verb = method.upper() if draw(st.integers(0, 9)) else draw(st.sampled_from(OTHER_METHODS))
    body, content_type = draw(bodies(op)) if verb in ("POST", "PUT", "PATCH") else (None, None)
    headers: dict[str, Any] = {**draw(credentials(api_key)),
                               **({"Content-Type": content_type} if content_type is not None else {})}
    for p in params:  # header parameters (Last-Event-ID): numbers, non-ASCII digits (as UTF-8 bytes), text
        if p["in"] == "header" and draw(st.booleans()):
            value = draw(number_like | header_text)
            headers[p["name"]] = value if value.isascii() or value in ("²", "³") else value.encode()
    if draw(st.integers(0, 5)) == 0:
        headers["Origin"] = draw(st.sampled_from(("http://localhost:3000", "https://evil.example")))
        if verb == "OPTIONS":
            headers["Access-Control-Request-Method"] = draw(st.sampled_from(("POST", "GET", "BREW")))
    return {"method": verb, "path": url, "params": query, "headers": headers, "data": body}


def _ascii_number(value: Any, max_digits: int = 9) -> bool:
    text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
    return re.fullmatch(rf"[0-9]{{1,{max_digits}}}", text) is not None


def must_refuse(call: dict[str, Any]) -> str | None:
    """Why the API must refuse this call, when it carries an input it cannot accept (a 2xx is then wrong)."""
    params = call["params"]
    if "/files" in call["path"] and "ttl" in params and not _ascii_number(params["ttl"]):
        return f"ttl={str(params['ttl'])[:20]!r}"
    last_event_id = call["headers"].get("Last-Event-ID")
    if "/events" in call["path"] and last_event_id and not _ascii_number(last_event_id):
        return f"Last-Event-ID={last_event_id[:20]!r}"
    body = call["data"]
    if body and call["headers"].get("Content-Type") == "application/json":
        if re.search(rb"[0-9]{4301}", body):
            return "a JSON integer of more than 4,300 digits"
        try:
            value = json.loads(body)
        except (ValueError, RecursionError):
            return None
        if isinstance(value, dict) and call["path"].rstrip("/") in ("", "/videos") and call["method"] == "POST":
            if value.get("callback_url") in [f"{s}{h}/hook" for s in ("http://", "https://") for h in MALFORMED_HOSTS]:
                return f"callback_url={value['callback_url'][:40]!r}"
            if value.get("character_id") in RESERVED_IDS:
                return f"character_id={value['character_id']!r}"
    return None


def check_response(call: dict[str, Any], response: requests.Response) -> None:
    """Count the response; keep any 5xx, any 4xx without the machine code and human message, and any 2xx to
    a call that had to be refused."""
    OUTCOMES["requests"] += 1
    OUTCOMES["by_status"][response.status_code] += 1
    if response.status_code < 400:
        OUTCOMES["jobs_created"] += response.status_code == 202
        reason = must_refuse(call) if call["method"] != "OPTIONS" else None
        if reason:
            OUTCOMES["accepted_bad_inputs"].append({"method": call["method"], "path": call["path"][:120],
                                                    "status": response.status_code, "input": reason})
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
        http_5xx=len(OUTCOMES["server_errors"]) + OUTCOMES["payload_push_5xx"],
        extra={"http_requests": OUTCOMES["requests"], "operations": len(OPERATIONS),
               "status_counts": dict(sorted(OUTCOMES["by_status"].items())),
               "jobs_created_then_dropped": OUTCOMES["jobs_created"],
               "requests_per_second": round(OUTCOMES["requests"] / max(OUTCOMES["seconds"], 0.001), 1),
               "4xx_without_code_or_message": len(OUTCOMES["bad_errors"]),
               "bad_inputs_accepted": len(OUTCOMES["accepted_bad_inputs"]),
               "pubsub_payloads": OUTCOMES["payloads"], "dead_letter_reasons": dict(OUTCOMES["payload_reasons"]),
               "pubsub_push_5xx": OUTCOMES["payload_push_5xx"]}))


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
    assert not OUTCOMES["accepted_bad_inputs"], OUTCOMES["accepted_bad_inputs"][:5]


def _hostile_calls(video_id: str) -> list[dict[str, Any]]:
    """Each input of the outside review, as one request (the fuzz draws them too, at random)."""
    calls = [{"method": "GET", "path": f"/videos/{video_id}/files", "params": {"ttl": ttl}, "headers": {},
              "data": None} for ttl in [*NOT_ASCII_NUMBERS, "5" * 5000, "9" * 4301]]
    calls += [{"method": "GET", "path": f"/videos/{video_id}/events", "params": {},
               "headers": {"Last-Event-ID": value}, "data": None}
              for value in ["²", "³", "١٢٣".encode(), "５".encode(), "5" * 5000, "9" * 4301]]
    huge = b"9" * 5000
    calls += [{"method": method, "path": path.format(video_id), "params": {}, "data": body,
               "headers": {"Content-Type": "application/json"}} for method, path, body in [
        ("POST", "/videos", b'{"theme": "a robot", "target_seconds": ' + huge + b"}"),
        ("POST", "/estimate", b'{"theme": ' + huge + b"}"), ("POST", "/", b"[-" + huge + b"]"),
        ("POST", "/characters", b'{"name": "Ada", "description": "tall", "age": ' + huge + b"}"),
        ("PATCH", "/videos/{}/script", b'{"blocks": [{"index": ' + huge + b"}]}")]]
    calls += [{"method": "POST", "path": "/videos", "params": {}, "headers": {"Content-Type": "application/json"},
               "data": json.dumps({"theme": "a robot", "callback_url": f"https://{host}/hook"}).encode()}
              for host in MALFORMED_HOSTS]
    calls += [{"method": "POST", "path": "/videos", "params": {}, "headers": {"Content-Type": "application/json"},
               "data": json.dumps({"theme": "a robot", "character_id": cid}).encode()} for cid in RESERVED_IDS]
    return calls


def test_the_inputs_an_outside_review_answered_with_html_500_pages_get_4xx_json(pipeline):
    api_key = pipeline.key_for("fuzz-review-user", plan="pro")
    video = pipeline.api("POST", "/videos", "fuzz-review-user", json={"theme": "a lighthouse at dawn", "review": True})
    assert video.status_code == 202, video.text
    base, wrong = pipeline.cloud.url_of("agent-script"), []
    for call in _hostile_calls(video.json()["video_id"]):
        call["headers"]["Authorization"] = f"Bearer {api_key}"
        with requests.request(call["method"], base + call["path"], params=call["params"], headers=call["headers"],
                              data=call["data"], timeout=60, allow_redirects=False, stream=True) as response:
            check_response(call, response)
            if not (400 <= response.status_code < 500 and response.headers.get("Content-Type", "").startswith(
                    "application/json") and _error_shape(response)):
                wrong.append((call["method"], call["path"][:60], str(call["params"])[:40],
                              str(call["headers"].get("Last-Event-ID", ""))[:20], (call["data"] or b"")[:60],
                              response.status_code, response.text[:120] if response.status_code >= 400 else ""))
    assert wrong == []


# -- Pub/Sub payloads ------------------------------------------------------------------------------------
# Built broken in known ways from the documented message schema (shared/core/messages.py: a JSON object,
# schema_version 1, kind, video_id matching VIDEO_ID, origin, attempt 0-1000, nothing else; at most 16 KiB;
# each topic's agent takes only its kinds), with the reasons each breakage implies. Nothing is filtered
# through the pipeline's decoder. JSON integers beyond 4,300 digits make json.loads raise a plain ValueError.
MAX_MESSAGE_BYTES = 16 * 1024
ACCEPTS = {"video-requests": {"video_request"}, "assembly-requests": {"assembly_request", "block_ready"},
           "qa-requests": {"qa_request"}, "webhook-events": {"webhook_event"},
           "storyboard-requests": {"storyboard_request"}}
KINDS = ("video_request", "assembly_request", "block_ready", "qa_request", "webhook_event", "storyboard_request")
KIND_FIELDS: dict[str, dict[str, Any]] = {"block_ready": {"block": 0}, "webhook_event": {"event": "video.completed"},
                                          "storyboard_request": {"revision": 0}}
MALFORMED, UNSUPPORTED, WRONG_KIND, TOO_LARGE = ("malformed_message", "unsupported_schema", "wrong_message_kind",
                                                 "message_too_large")
fresh_video_ids = st.builds(lambda: f"vfuzz-{uuid.uuid4().hex[:16]}")
PIPELINE_JOB_ID = re.compile(r"v[0-9]{14}-[0-9a-f]{12}|vtest-[0-9a-f]{16}")  # the front door's, make_job's


def _message(kind: str, video_id: str) -> dict[str, Any]:
    return {"schema_version": 1, "kind": kind, "video_id": video_id, **KIND_FIELDS.get(kind, {})}


@st.composite
def broken_payloads(draw: st.DrawFn) -> tuple[str, str, bytes, frozenset[str]]:
    """(breakage, topic, payload, reasons it may be parked with)."""
    topic = draw(st.sampled_from(sorted(ACCEPTS)))
    own = draw(st.sampled_from(sorted(ACCEPTS[topic])))
    valid = _message(own, draw(fresh_video_ids))
    breakage = draw(st.sampled_from(("not_utf8", "truncated", "deep", "not_object", "bad_version", "bad_video_id",
                                     "bad_field", "unknown_field", "unknown_kind", "wrong_kind", "too_large",
                                     "digits_beyond_limit")))
    if breakage == "not_utf8":  # 0xff never starts UTF-8 text
        return breakage, topic, b"\xff" + draw(st.binary(max_size=200)), frozenset({MALFORMED})
    if breakage == "truncated":  # a proper prefix of an object's text is never JSON
        text = json.dumps(valid).encode()
        return breakage, topic, text[:draw(st.integers(1, len(text) - 1))], frozenset({MALFORMED})
    if breakage == "deep":  # past the JSON parser's nesting limit, or else an array: not JSON or not an object
        depth = draw(st.integers(1100, 5000))
        return breakage, topic, b"[" * depth + b"]" * depth, frozenset({MALFORMED, UNSUPPORTED})
    if breakage == "not_object":
        value = draw(json_values.filter(lambda v: not isinstance(v, dict)))
        return breakage, topic, json.dumps(value).encode(), frozenset({UNSUPPORTED})
    if breakage == "bad_version":  # (1.0 and true equal 1 in JSON-to-Python comparisons: not drawn)
        version = draw(st.sampled_from([0, 2, -1, "1", "v1", None, [1], {"v": 1}, "MISSING"]))
        body = {k: v for k, v in valid.items() if k != "schema_version"}
        if version != "MISSING":
            body["schema_version"] = version
        return breakage, topic, json.dumps(body).encode(), frozenset({UNSUPPORTED})
    if breakage == "bad_video_id":
        bad = draw(st.sampled_from(["", "UPPER-CASE-ID-1", "short", "-leading-hyphen", "a" * 65, "v1/../x", 12345678,
                                    None, "vfuzz_underscore_1", "ＶＦＵＺＺ１２３４５"]))
        return breakage, topic, json.dumps({**valid, "video_id": bad}).encode(), frozenset({MALFORMED})
    if breakage == "bad_field":
        field, bad = draw(st.sampled_from([("attempt", -1), ("attempt", 1001), ("attempt", "x"), ("attempt", 1.5),
                                           ("origin", "elsewhere"), ("origin", 3)]))
        return breakage, topic, json.dumps({**valid, field: bad}).encode(), frozenset({MALFORMED})
    if breakage == "unknown_field":
        name = draw(st.text(min_size=1, max_size=12).filter(lambda n: n not in valid and n not in ("origin", "attempt",
                                                                                                  "block")))
        return breakage, topic, json.dumps({**valid, name: draw(json_values)}).encode(), frozenset({MALFORMED})
    if breakage == "unknown_kind":
        kind = draw(st.text(max_size=20).filter(lambda k: k not in KINDS))
        return breakage, topic, json.dumps({**valid, "kind": kind}).encode(), frozenset({MALFORMED})
    if breakage == "digits_beyond_limit":
        digits = b"9" * draw(st.integers(4301, 6000))
        return breakage, topic, json.dumps({**valid, "attempt": 0}).encode().replace(b'"attempt": 0', b'"attempt": '
                                                                                  + digits), frozenset({MALFORMED})
    if breakage == "wrong_kind":  # a valid message of a kind another agent takes
        other = draw(st.sampled_from([k for k in KINDS if k not in ACCEPTS[topic]]))
        return breakage, topic, json.dumps(_message(other, valid["video_id"])).encode(), frozenset({WRONG_KIND})
    size = draw(st.integers(MAX_MESSAGE_BYTES + 1, 200_000))
    text = json.dumps(valid).encode()
    return breakage, topic, text[:-1] + b" " * (size - len(text)) + b"}", frozenset({TOO_LARGE})


def _key(payload: bytes) -> tuple[int, bytes]:
    """How a dead-letter record names its payload: its size and its first 1,024 bytes."""
    return len(payload), payload[:1024]


def test_malformed_and_oversized_payloads_are_parked_and_recorded_once(pipeline, clients, push_relay):
    from google.cloud import pubsub_v1

    assert set(ACCEPTS) == {route.topic for route in EVENT_ROUTES}
    pipeline.use_push()  # through the harness's relay (push_relay): the agents' answers are seen
    monitor = pipeline.cloud.url_of("agent-monitor")
    requests.post(monitor, timeout=120).raise_for_status()  # what earlier tests parked
    before = {snap.id for snap in clients.db.collection(layout.DEAD_LETTERS).stream()}
    seen = push_relay.exchanges.mark()
    sent: list[tuple[str, bytes, frozenset[str]]] = []

    @settings(max_examples=PAYLOADS, deadline=None, phases=[Phase.generate], database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=broken_payloads())
    def publish(case: tuple[str, str, bytes, frozenset[str]]) -> None:
        breakage, topic, payload, reasons = case
        publisher.publish(publisher.topic_path(clients.settings.project, topic), payload).result(timeout=30)
        sent.append((breakage, payload, reasons))

    publisher = pubsub_v1.PublisherClient()
    publish()
    recorded: list[dict[str, Any]] = []

    def new_records() -> list[dict[str, Any]]:
        return [snap.to_dict() for snap in clients.db.collection(layout.DEAD_LETTERS).stream() if snap.id not in before]

    deadline = time.monotonic() + 180
    while len(recorded) < len(sent) and time.monotonic() < deadline:
        time.sleep(1)
        requests.post(monitor, timeout=120).raise_for_status()
        recorded = new_records()
    time.sleep(3)  # a redelivery, if any, would park a second copy now
    requests.post(monitor, timeout=120).raise_for_status()
    recorded = new_records()
    pushes = push_relay.exchanges.since(seen)
    OUTCOMES["payloads"] = len(sent)
    OUTCOMES["payload_reasons"] = Counter(r["reason"] for r in recorded)
    OUTCOMES["payload_push_5xx"] = len(unexplained_5xx(pushes, []))
    by_key: dict[tuple[int, bytes], list[str]] = {}
    for record in recorded:
        by_key.setdefault((int(record["size"]), base64.b64decode(record["payload_b64"])), []).append(record["reason"])
    wanted: dict[tuple[int, bytes], list[tuple[str, frozenset[str]]]] = {}
    for breakage, payload, reasons in sent:
        wanted.setdefault(_key(payload), []).append((breakage, reasons))
    wrong = {}
    for key, cases in wanted.items():
        got = sorted(by_key.pop(key, []))
        if len(got) != len(cases) or not all(any(r in allowed for _, allowed in cases) for r in got):
            wrong[f"{[b for b, _ in cases]} {key[1][:60]!r}"] = got
    assert wrong == {}, f"payloads not recorded once with their reason: {dict(list(wrong.items())[:5])}"
    assert by_key == {}, f"records of payloads never sent: {list(by_key)[:3]}"
    # Pipeline jobs the monitor may resume meanwhile (the HTTP fuzz's creations) are not this test's payloads.
    ours = [e for e in pushes if not (e.video_id and PIPELINE_JOB_ID.fullmatch(e.video_id))]
    assert len(ours) >= len(sent), f"the relay saw {len(ours)} pushes of {len(sent)} payloads"
    assert [e for e in ours if e.status is None or e.status >= 300] == [], "every payload parked and acknowledged"
    assert OUTCOMES["payload_push_5xx"] == 0
