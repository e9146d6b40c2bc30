"""Test helpers around the real local cloud: deliver Pub/Sub pushes, switch push/pull, wait on jobs; and
the checks a receiver makes (webhook signatures, V4 signed URLs), independent of the production code."""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import re
import subprocess
import time
import urllib.parse
import uuid
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import requests
from google.cloud import pubsub_v1

from shared.core import messages, status
from shared.core.clients import Clients
from shared.core.storage import download_file
from shared.core.topics import EVENT_ROUTES, STORYBOARD_REQUESTS, EventRoute, route_for_topic

HTTP_TIMEOUT = 600
TEST_USER = "test-user"  # the session's API-key user (tests/conftest.py)


class SimulatorControl:
    """The simulator's test endpoints."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")

    def ledger(self) -> list[dict[str, Any]]:
        response = requests.get(f"{self.base_url}/_sim/ledger", timeout=10)
        response.raise_for_status()
        body = response.json()
        return body["entries"] if isinstance(body, dict) else body

    def clear_ledger(self) -> None:
        requests.delete(f"{self.base_url}/_sim/ledger", timeout=10).raise_for_status()

    def set_faults(self, rules: list[dict[str, Any]]) -> None:
        requests.post(f"{self.base_url}/_sim/faults", json=rules, timeout=10).raise_for_status()

    def clear_faults(self) -> None:
        requests.delete(f"{self.base_url}/_sim/faults", timeout=10).raise_for_status()

    def set_quota(self, requests_per_window: int, window_seconds: float = 60.0) -> None:
        """Answer Veo generate calls beyond the quota with 429 (0 turns the quota off); resets the counts."""
        requests.post(f"{self.base_url}/_sim/quota", json={"requests_per_window": requests_per_window,
                                                           "window_seconds": window_seconds},
                      timeout=10).raise_for_status()

    def quota(self) -> dict[str, Any]:
        """The quota and its counts: accepted, rejected (429)."""
        response = requests.get(f"{self.base_url}/_sim/quota", timeout=10)
        response.raise_for_status()
        return response.json()

    def billing(self) -> dict[str, Any]:
        """Totals: operations (attempts), billed_operations, billed_seconds, veo_cost_usd, outcomes, filtered
        (safety/audio), calls and refused per API method, tokens per model, charged_usd."""
        response = requests.get(f"{self.base_url}/_sim/billing", timeout=10)
        response.raise_for_status()
        return response.json()

    def set_spend_limit(self, usd_per_window: float, window_seconds: float = 60.0) -> dict[str, Any]:
        """Answer calls with 429 once the spend of the rolling window reaches the cap (0 turns it off)."""
        response = requests.post(f"{self.base_url}/_sim/limits", json={"spend_usd_per_window": usd_per_window,
                                                                       "window_seconds": window_seconds}, timeout=10)
        response.raise_for_status()
        return response.json()

    def limits(self) -> dict[str, Any]:
        """The spend cap, the spend in the current window and the count of refusals."""
        response = requests.get(f"{self.base_url}/_sim/limits", timeout=10)
        response.raise_for_status()
        return response.json()

    def advance_clock(self, seconds: float) -> dict[str, Any]:
        """Move the simulator's clock forward (file retention, spend and quota windows); its state."""
        response = requests.post(f"{self.base_url}/_sim/clock", json={"advance_seconds": seconds}, timeout=10)
        response.raise_for_status()
        return response.json()

    def reset_clock(self) -> None:
        requests.delete(f"{self.base_url}/_sim/clock", timeout=10).raise_for_status()


def push_body(project: str, route: EventRoute, data: bytes) -> dict[str, Any]:
    """The body the Pub/Sub emulator POSTs to a push endpoint."""
    return {
        "subscription": f"projects/{project}/subscriptions/{route.subscription}",
        "message": {"data": base64.b64encode(data).decode(), "attributes": {},
                    "messageId": uuid.uuid4().hex, "publishTime": "2026-11-23T00:00:00Z"},
    }


class Pipeline:
    """Drives agents one message at a time (pull mode) or lets Pub/Sub push (push mode)."""

    def __init__(self, cloud: Any, clients: Clients, api_key: str | None = None) -> None:
        self.cloud = cloud
        self.clients = clients
        self.project = clients.settings.project
        self.subscriber = pubsub_v1.SubscriberClient()
        self.api_key = api_key
        self._keys: dict[str, str] = {}
        self.pulling = False  # use_pull: the test hands messages to the agents itself

    # -- identity ------------------------------------------------------------------------------
    def key_for(self, user_id: str, plan: str = "studio") -> str:
        """An API key of `user_id` (created once per session with the CLI's code)."""
        from shared.api.auth import create_api_key

        if user_id not in self._keys:
            self._keys[user_id] = create_api_key(self.clients.db, user_id, plan=plan, label="pytest")
        return self._keys[user_id]

    def headers(self, user_id: str | None = None) -> dict[str, str]:
        """Authorization header of the session's test user (or of `user_id`)."""
        if user_id:
            return {"Authorization": f"Bearer {self.key_for(user_id)}"}
        if self.api_key is None:  # a Pipeline made without the session key (another local cloud)
            self.api_key = self.key_for(TEST_USER)
        return {"Authorization": f"Bearer {self.api_key}"}

    def api(self, method: str, path: str, user_id: str | None = None, **kwargs: Any) -> requests.Response:
        """An authenticated HTTP call to the front door."""
        given = kwargs.pop("headers", {})
        own_credentials = "Authorization" in given or "X-API-Key" in given
        headers = {**({} if own_credentials else self.headers(user_id)), **given}
        return requests.request(method, self.cloud.url_of("agent-script") + path, headers=headers,
                                timeout=kwargs.pop("timeout", HTTP_TIMEOUT), **kwargs)

    # -- subscriptions -------------------------------------------------------------------------
    def _sub_path(self, route: EventRoute) -> str:
        return self.subscriber.subscription_path(self.project, route.subscription)

    def use_pull(self) -> None:
        """Stop pushes: published messages wait in the subscriptions for the test to read."""
        self.pulling = True
        for route in EVENT_ROUTES:
            self.subscriber.modify_push_config(subscription=self._sub_path(route),
                                               push_config=pubsub_v1.types.PushConfig())

    def use_push(self) -> None:
        """Restore the production wiring: every subscription pushes to its agent."""
        self.pulling = False
        for route in EVENT_ROUTES:
            self.drain(route)
            config = pubsub_v1.types.PushConfig(push_endpoint=self.cloud.push_endpoint(route))
            self.subscriber.modify_push_config(subscription=self._sub_path(route), push_config=config)

    def drain(self, route: EventRoute) -> list[messages.StepMessage]:
        """Pull and acknowledge every waiting message of a subscription (pull mode only)."""
        found: list[messages.StepMessage] = []
        while True:
            response = self.subscriber.pull(subscription=self._sub_path(route), max_messages=50,
                                            return_immediately=True, timeout=10)
            if not response.received_messages:
                return found
            self.subscriber.acknowledge(subscription=self._sub_path(route),
                                        ack_ids=[m.ack_id for m in response.received_messages])
            found.extend(messages.decode(m.message.data) for m in response.received_messages)

    def published_for(self, topic: str, video_id: str) -> list[messages.StepMessage]:
        return [m for m in self.drain(route_for_topic(topic)) if m.video_id == video_id]

    # -- HTTP ----------------------------------------------------------------------------------
    def deliver_raw(self, topic: str, data: bytes) -> requests.Response:
        """POST a push delivery of raw message bytes to the topic's agent, as the emulator would."""
        route = route_for_topic(topic)
        url = self.cloud.push_endpoint(route)
        return requests.post(url, json=push_body(self.project, route, data), timeout=HTTP_TIMEOUT)

    def deliver(self, topic: str, message: messages.StepMessage) -> requests.Response:
        return self.deliver_raw(topic, messages.encode(message))

    def storyboard(self, video_id: str, user_id: str | None = None, timeout: float = 300) -> dict[str, Any]:
        """The job's storyboard once the storyboard function has rendered it (or failed to). In pull mode the
        waiting storyboard requests are first pushed to that function, as the emulator would."""
        deadline = time.monotonic() + timeout
        while True:
            if self.pulling:
                route = route_for_topic(STORYBOARD_REQUESTS)
                for message in self.drain(route):
                    delivered = self.deliver(route.topic, message)
                    assert delivered.status_code < 300, delivered.text
            response = self.api("GET", f"/videos/{video_id}/storyboard", user_id)
            if response.status_code != 202 or time.monotonic() > deadline:
                assert response.status_code == 200, response.text
                board: dict[str, Any] = response.json()
                return board
            time.sleep(float(response.headers.get("Retry-After", "1")) / 3)

    def create_video(self, body: Any, path: str = "/videos", user_id: str | None = None) -> requests.Response:
        return self.api("POST", path, user_id, json=body)

    # -- jobs ----------------------------------------------------------------------------------
    def doc(self, video_id: str) -> dict[str, Any]:
        found = status.read(self.clients.db, video_id)
        assert found is not None, f"no status document for {video_id}"
        return found

    def wait_for(self, video_id: str, statuses: Iterable[str], timeout: float = 900) -> dict[str, Any]:
        """Wait until the job reaches one of `statuses` (or a terminal one); its document."""
        wanted = set(statuses) | {"failed", "completed"}
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            doc = status.read(self.clients.db, video_id)
            if doc and doc["status"] in wanted:
                return doc
            time.sleep(0.5)
        raise AssertionError(f"{video_id} did not reach {sorted(wanted)} in {timeout} s: {doc and doc['status']}")

    def download(self, uri: str, local: Path) -> Path:
        return download_file(self.clients.storage, uri, local)


def words_of(text: str) -> list[str]:
    """Lower-case words of a text, punctuation dropped (to compare what is said with what is shown)."""
    return re.findall(r"[\w']+", text.lower())


def srt_text(srt: str) -> str:
    """The text of an SRT file's cues, joined by spaces."""
    return " ".join(line for line in srt.splitlines() if line.strip() and "-->" not in line and not line.isdigit())


def dialogue_of(script: dict[str, Any]) -> str:
    """Every block's dialogue of a script, in order."""
    return " ".join(block["dialogue"] for block in script["blocks"])


def ffprobe(path: Path) -> dict[str, Any]:
    """ffprobe's JSON for a file's streams and format."""
    out = subprocess.run(["ffprobe", "-v", "error", "-print_format", "json", "-show_streams", "-show_format",
                          str(path)], check=True, capture_output=True, text=True).stdout
    return json.loads(out)


# -- Veo jobs made directly (issue 3): a short script and its status document, no Gemini call --------
def make_job(clients: Clients, blocks: int = 2, *, style: str = "cinematic", language: str = "en",
             **fields: Any) -> str:
    """Store a `blocks`-block script and a `script_ready` job for it; returns the video id.

    Every scene names the video id, so a fault rule can target one block of one job
    (`match=scene_of(video_id, k)`).
    """
    from shared.core.storage import gs_uri, upload_json

    video_id = f"vtest-{uuid.uuid4().hex[:16]}"
    script = {"video_id": video_id, "title": "test", "theme": "a quiet harbour", "style": style,
              "language": language, "blocks": [
                  {"index": i, "visual": scene_of(video_id, i), "dialogue": f"This is part number {i + 1}.",
                   "sound_effects": "waves"} for i in range(blocks)]}
    uri = upload_json(clients.storage, gs_uri(clients.settings.bucket, f"scripts/{video_id}.json"), script)
    status.create(clients.db, video_id, {"script_uri": uri, "style": style, "language": language,
                                         "total_blocks": blocks, "completed_blocks": 0, "blocks": {},
                                         "usage": {}, **fields})
    return video_id


def scene_of(video_id: str, index: int) -> str:
    """The visual description of block `index` in a job made by make_job."""
    return f"harbour {video_id} shot {index}"


def drive_video_step(pipeline: Pipeline, video_id: str, max_invocations: int = 20) -> list[int]:
    """Deliver the video request, then every continuation the agent publishes; HTTP codes of each delivery.

    A 5xx (transient error) is redelivered as Pub/Sub would.
    """
    from shared.core.messages import VideoRequest
    from shared.core.topics import VIDEO_REQUESTS

    codes: list[int] = []
    message: Any = VideoRequest(video_id=video_id)
    while message is not None and len(codes) < max_invocations:
        response = pipeline.deliver(VIDEO_REQUESTS, message)
        codes.append(response.status_code)
        follow_ups = pipeline.published_for(VIDEO_REQUESTS, video_id)
        message = follow_ups[-1] if follow_ups else (message if response.status_code >= 500 else None)
    return codes


def billed_seconds(ledger: list[dict[str, Any]], video_id: str) -> int:
    """Seconds the simulator billed for one job made by make_job (its scenes name the video id)."""
    return sum(e["seconds_billed"] for e in ledger if video_id in (e.get("scene") or ""))


def read_sse(pipeline: Pipeline, video_id: str, timeout: float = 1200,
             into: list[tuple[str, dict[str, Any]]] | None = None) -> list[tuple[str, dict[str, Any]]]:
    """Read a video's progress stream until the server ends it: (event, data) pairs in arrival order,
    appended to `into` as they arrive."""
    events = into if into is not None else []
    url = f"{pipeline.cloud.url_of('agent-script')}/videos/{video_id}/events"
    with requests.get(url, headers=pipeline.headers(), stream=True, timeout=(10, timeout)) as response:
        response.raise_for_status()
        assert response.headers["Content-Type"].startswith("text/event-stream")
        event: str | None = None
        for line in response.iter_lines(decode_unicode=True):
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event:
                events.append((event, json.loads(line[6:])))
                event = None
    return events


# -- checks a receiver makes, written here independently of the production code that signs -----------
WEBHOOK_TOLERANCE_SECONDS = 300  # README, Webhooks: a receiver rejects a `t` more than 5 minutes off its clock


def verify_signature(secret: str, header: str, body: bytes, now: float | None = None,
                     tolerance_seconds: float = WEBHOOK_TOLERANCE_SECONDS) -> bool:
    """Whether a webhook's `X-Pipeline-Signature` header matches its body, per the documented scheme
    (`t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`), as a receiver checks it: the HMAC recomputed
    here, and `t` within `tolerance_seconds` of the receiver's clock `now` (default: this machine's), either way.
    """
    fields = dict(part.strip().split("=", 1) for part in header.split(",") if "=" in part)
    timestamp, given = fields.get("t", ""), fields.get("v1", "")
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12) or not given:
        return False
    clock = time.time() if now is None else now
    if abs(clock - int(timestamp)) > tolerance_seconds:
        return False  # stale (a replay) or from the future
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), given.encode())


def check_signed_url(url: str, key_file: str, now: dt.datetime | None = None) -> str | None:
    """Why a GET V4 signed URL would be refused (bad signature, expired), or None when it is valid.

    Cloud Storage does this check itself; fake-gcs does not, so local tests verify URLs with the local
    cloud's throwaway signing key (`key_file`, infra.local.signing_key).
    """
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    parts = urllib.parse.urlsplit(url)
    query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    params = dict(query)
    signature = params.get("X-Goog-Signature", "")
    canonical_query = "&".join(f"{urllib.parse.quote(k, safe='~')}={urllib.parse.quote(v, safe='~')}"
                               for k, v in sorted(query) if k != "X-Goog-Signature")
    canonical = "\n".join(["GET", parts.path, canonical_query, f"host:{parts.netloc}", "", "host",
                           "UNSIGNED-PAYLOAD"])
    scope = params.get("X-Goog-Credential", "").split("/", 1)[-1]
    to_sign = "\n".join(["GOOG4-RSA-SHA256", params.get("X-Goog-Date", ""), scope,
                         hashlib.sha256(canonical.encode()).hexdigest()])
    private = serialization.load_pem_private_key(json.loads(Path(key_file).read_text())["private_key"].encode(),
                                                 password=None)
    assert isinstance(private, rsa.RSAPrivateKey), "the local signing key is an RSA key"
    try:
        private.public_key().verify(bytes.fromhex(signature), to_sign.encode(), padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError):
        return "signature does not match"
    issued = dt.datetime.strptime(params["X-Goog-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
    expires = issued + dt.timedelta(seconds=int(params["X-Goog-Expires"]))
    if (now or dt.datetime.now(dt.UTC)) > expires:
        return f"expired at {expires.isoformat()}"
    return None


DOC_IMAGES = Path(__file__).resolve().parents[1] / "docs" / "img"


def save_doc_screenshot(driver: Any, name: str, width: int = 720) -> Path:
    """A browser test's screenshot for the user guide: docs/img/{name}.png, scaled to `width` and reduced to a
    small palette so the committed file stays small."""
    from PIL import Image

    DOC_IMAGES.mkdir(parents=True, exist_ok=True)
    raw = DOC_IMAGES / f"{name}.raw.png"
    driver.save_screenshot(str(raw))
    with Image.open(raw) as shot:
        image = shot.convert("RGB")
    image = image.resize((width, round(image.height * width / image.width)), Image.Resampling.LANCZOS)
    out = DOC_IMAGES / f"{name}.png"
    image.quantize(colors=96, method=Image.Quantize.MEDIANCUT).save(out, optimize=True)
    raw.unlink()
    return out


class WebhookReceiver(BaseHTTPRequestHandler):
    """A webhook receiver for tests: records each POST (headers, body) and answers the queued statuses."""

    answers: list[int] = []
    received: list[tuple[dict[str, str], bytes]] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((dict(self.headers), body))
        self.send_response(self.answers.pop(0) if self.answers else 200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass
