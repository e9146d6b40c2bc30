"""The run itself: the production client and code paths, each step timed, printed and recorded.

    client   shared.core.clients.make_genai(settings) + an HTTP timeout (HttpOptions.timeout, ms: contract K1)
    script   shared.script.writer.generate_script
    image    shared.video.characters.generate_image
    videos   shared.video.veo.submit -> poll (until done) -> download

Each step's raw exchanges go to <record_dir>/NN-<step>.json (scrubbed, then checked for secrets once more);
manifest.json names the mode, endpoint, SDK version, plan, and the expected and measured cost.
"""
from __future__ import annotations

import io
import json
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import google.cloud.storage as storage
from google import genai
from PIL import Image

from shared.core.clients import make_genai
from shared.core.config import GEMINI_API, VERTEX, Settings
from shared.core.errors import PipelineError, TransientError
from shared.media.probe import probe
from shared.script.writer import VideoRequestBody, generate_script
from shared.video import veo
from shared.video.characters import generate_image
from tools.smoke_live import plan as planning
from tools.smoke_live.recorder import Recorder, sdk_api_client
from tools.smoke_live.redact import find_secrets, scrub, scrub_text

LIVE_LABEL = "live recording by tools/smoke_live (secrets removed, base64 media truncated)"
NOT_LIVE_LABEL = "recording by tools/smoke_live against {endpoint}: NOT Google, not a live recording"
DEFAULT_ENDPOINTS = {GEMINI_API: "https://generativelanguage.googleapis.com/",
                     VERTEX: "https://{location}-aiplatform.googleapis.com/"}


class StepFailed(Exception):
    """A step ran but did not deliver what it should (the message says what came back)."""


@dataclass
class StepResult:
    step: planning.Step
    status: str  # ok | failed | skipped
    latency_s: float = 0.0
    data: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


@dataclass(frozen=True)
class Options:
    poll_seconds: float = 10.0
    max_wait_seconds: float = 600.0
    http_timeout_seconds: float = 120.0  # only when the client factory sets no timeout itself


def endpoint_of(settings: Settings, environ: Mapping[str, str]) -> str:
    """Where the calls go: the configured base URL, the SDK's own override variable, or Google's default."""
    if settings.genai_base_url:
        return settings.genai_base_url
    variable = "GOOGLE_VERTEX_BASE_URL" if settings.genai_mode == VERTEX else "GOOGLE_GEMINI_BASE_URL"
    if environ.get(variable):
        return environ[variable]
    location = settings.vertex_location
    if settings.genai_mode == VERTEX and location == "global":
        return "https://aiplatform.googleapis.com/"
    return DEFAULT_ENDPOINTS[settings.genai_mode].format(location=location)


def is_google(endpoint: str) -> bool:
    """Whether `endpoint` is one of Google's hosts (else a simulator or a proxy)."""
    host = urllib.parse.urlsplit(endpoint).hostname or ""
    return host == "googleapis.com" or host.endswith(".googleapis.com")


def label_for(endpoint: str) -> str:
    """What every fixture file says it is."""
    return LIVE_LABEL if is_google(endpoint) else NOT_LIVE_LABEL.format(endpoint=endpoint)


def record_dir_name(mode: str, endpoint: str, today: str) -> str:
    """`<date>-<mode>` for Google's endpoint; `<date>-<mode>-via-<host>_<port>` for anything else, so a
    simulator run is never mistaken for a live recording."""
    if is_google(endpoint):
        return f"{today}-{mode}"
    parts = urllib.parse.urlsplit(endpoint)
    return f"{today}-{mode}-via-{parts.hostname}_{parts.port or ''}".rstrip("_")


def ensure_http_timeout(client: genai.Client, seconds: float) -> str:
    """The client's HTTP timeout, in words: the factory's (GENAI_TIMEOUT_SECONDS), else `seconds` set here, since
    google-genai's default is no timeout at all (contract K1)."""
    options = sdk_api_client(client)._http_options
    if options.timeout:
        return f"HTTP timeout {options.timeout / 1000:g} s (the client factory's, GENAI_TIMEOUT_SECONDS)"
    options.timeout = int(seconds * 1000)
    return f"HTTP timeout {seconds:g} s (set here: the client factory set none; the SDK's default is none, K1)"


def _probe_seconds(path: Path) -> float | None:
    """The downloaded clip's length, through the same probe the pipeline uses (None if unreadable)."""
    try:
        return round(probe(path).duration, 2)
    except PipelineError:
        return None


def _usage(exchanges: list[dict[str, Any]]) -> dict[str, int]:
    """Tokens of the generateContent answers in `exchanges` (thinking counted apart: contract B9)."""
    totals = {"prompt": 0, "candidates": 0, "thoughts": 0}
    for exchange in exchanges:
        body = exchange.get("response_body")
        usage = body.get("usageMetadata") if isinstance(body, dict) else None
        if isinstance(usage, dict):
            totals["prompt"] += int(usage.get("promptTokenCount") or 0)
            totals["candidates"] += int(usage.get("candidatesTokenCount") or 0)
            totals["thoughts"] += int(usage.get("thoughtsTokenCount") or 0)
    return totals


class SmokeRun:
    """One confirmed run: five steps against the configured endpoint."""

    def __init__(self, settings: Settings, plan: planning.Plan, options: Options, record_dir: Path,
                 media_dir: Path, secrets: list[str], say: Callable[[str], None] = print) -> None:
        self.settings, self.plan, self.options = settings, plan, options
        self.record_dir, self.media_dir = record_dir, media_dir
        self.secrets = [s for s in secrets if s and len(s) >= 6]
        self.say = say
        self.recorder = Recorder(self.secrets)
        self.results: dict[str, StepResult] = {}
        self.client: genai.Client | None = None
        self.store: Any = None
        self.first_frame: bytes | None = None  # the image step's PNG: image_to_video's first frame
        self.previous_video_uri: str | None = None  # text_to_video's result: the extension's input
        self.stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")

    # ---- setup -----------------------------------------------------------------------------
    def connect(self) -> None:
        """The production client (plus a timeout), hooked for recording; storage for Vertex AI outputs."""
        self.client = make_genai(self.settings)
        self.say(ensure_http_timeout(self.client, self.options.http_timeout_seconds))
        self.recorder.attach(self.client)
        base = sdk_api_client(self.client)._http_options.base_url
        self.say(f"client: google-genai {genai.__version__}, {self.settings.genai_mode}, base URL {base}")
        if self.settings.genai_mode == VERTEX:
            self.store = storage.Client(project=self.settings.project)

    def output_prefix(self, step: str) -> str | None:
        """Vertex AI: the gs:// folder Veo writes this step's video to (None on the Gemini API)."""
        if self.settings.genai_mode != VERTEX:
            return None
        root = self.settings.vertex_output_prefix or f"gs://{self.settings.bucket}"
        return f"{root.rstrip('/')}/smoke-live/{self.stamp}/{step}/"

    # ---- steps -----------------------------------------------------------------------------
    def script(self) -> dict[str, Any]:
        request = VideoRequestBody(theme=planning.THEME, style=planning.STYLE, language=planning.LANGUAGE)
        assert self.client is not None
        generated = generate_script(self.client, self.settings, request, blocks=planning.SCRIPT_BLOCKS)
        return {"title": generated.script.get("title"), "blocks": len(generated.script.get("blocks", [])),
                "attempts": generated.attempts,
                # what the writer hands the ledger, next to what the API reported (usage_metadata)
                "writer_tokens": {"prompt": generated.prompt_tokens, "output": generated.output_tokens,
                                  "thinking": getattr(generated, "thought_tokens", None)},
                "usage_metadata": _usage(self.recorder.of_step("script"))}

    def image(self) -> dict[str, Any]:
        assert self.client is not None
        png = generate_image(self.client, self.settings.image_model, planning.IMAGE_PROMPT, aspect_ratio="9:16")
        with Image.open(io.BytesIO(png)) as picture:
            fmt, size = picture.format, picture.size
        path = self.media_dir / f"image.{(fmt or 'png').lower()}"
        path.write_bytes(png)
        self.first_frame = png
        return {"format": fmt, "width": size[0], "height": size[1], "bytes": len(png), "file": str(path)}

    def video(self, step: str, request: veo.VeoInput) -> dict[str, Any]:
        assert self.client is not None
        client, mode, model = self.client, self.settings.genai_mode, self.plan.veo_model
        started = time.monotonic()
        submission = veo.submit(client, mode, [model], request, attempts=self.settings.veo_retry_attempts,
                                max_wait_seconds=self.settings.veo_retry_max_wait_seconds)
        submitted = time.monotonic()
        result, polls = None, 0
        while result is None:
            if time.monotonic() - submitted > self.options.max_wait_seconds:
                raise StepFailed(f"not done after {self.options.max_wait_seconds:g} s: {submission.operation}")
            time.sleep(self.options.poll_seconds)
            polls += 1
            try:
                result = veo.poll(client, submission.operation)
            except TransientError as exc:  # 429/5xx while polling: the pipeline polls again too
                self.say(f"    poll {polls}: {exc}")
        rendered = time.monotonic()
        if not result.video_uri:
            raise StepFailed(f"no video: filtered {list(result.filtered_reasons)}" if result.filtered_reasons
                             else f"no video: {result.error}")
        destination = self.media_dir / f"{step}.mp4"
        veo.download(client, self.store, result.video_uri, destination)
        downloaded = time.monotonic()
        if step == "text_to_video":
            self.previous_video_uri = result.video_uri
        return {"operation": submission.operation, "model": submission.model, "retries": submission.retries,
                "video_uri": scrub_text(result.video_uri, self.secrets), "file": str(destination),
                "bytes": destination.stat().st_size, "duration_s": _probe_seconds(destination), "polls": polls,
                "submit_s": round(submitted - started, 2), "render_s": round(rendered - submitted, 2),
                "download_s": round(downloaded - rendered, 2)}

    def text_to_video(self) -> dict[str, Any]:
        return self.video("text_to_video", veo.VeoInput(planning.T2V_PROMPT, seconds=planning.FIRST_CLIP_SECONDS,
                                                        output_gcs_uri=self.output_prefix("text_to_video")))

    def extension(self) -> dict[str, Any]:
        return self.video("extension", veo.VeoInput(planning.EXTENSION_PROMPT,
                                                    previous_video_uri=self.previous_video_uri,
                                                    output_gcs_uri=self.output_prefix("extension")))

    def image_to_video(self) -> dict[str, Any]:
        return self.video("image_to_video", veo.VeoInput(planning.I2V_PROMPT, seconds=planning.FIRST_CLIP_SECONDS,
                                                         first_frame_png=self.first_frame,
                                                         output_gcs_uri=self.output_prefix("image_to_video")))

    # ---- running, printing, recording -------------------------------------------------------
    def run_step(self, number: int, step: planning.Step) -> StepResult:
        blocked = [need for need in step.needs if need not in self.results or self.results[need].status != "ok"]
        if blocked:
            result = StepResult(step, "skipped", error=f"needs {', '.join(blocked)}")
        else:
            self.recorder.step = step.name
            started = time.monotonic()
            try:
                result = StepResult(step, "ok", data=getattr(self, step.name)())
            except Exception as exc:  # a smoke run reports every failure and goes on
                result = StepResult(step, "failed", error=f"{type(exc).__name__}: {exc}")
            result.latency_s = round(time.monotonic() - started, 2)
        self.results[step.name] = result
        self.say(self.step_line(number, result))
        self.write(f"{number:02d}-{step.name}.json", self.step_document(result))
        return result

    def step_line(self, number: int, result: StepResult) -> str:
        head = (f"  [{number}/{len(self.plan.steps)}] {result.step.name:<15} {result.status:<7} "
                f"{result.latency_s:7.1f} s")
        if result.status != "ok":
            return f"{head}  {scrub_text(result.error or '', self.secrets)[:400]}"
        data = result.data
        if "operation" in data:
            seconds = f"{data['duration_s']:g} s video, " if data.get("duration_s") else ""
            return (f"{head}  submit {data['submit_s']:g} s, render {data['render_s']:g} s ({data['polls']} polls), "
                    f"download {data['download_s']:g} s; {seconds}{data['bytes'] / 1e6:.1f} MB -> {data['file']}")
        if result.step.name == "script":
            usage = data["usage_metadata"]
            return (f"{head}  {data['title']!r}, {data['blocks']} block(s), attempt {data['attempts']}; tokens "
                    f"{usage['prompt']} in, {usage['candidates']} out, {usage['thoughts']} thinking")
        return f"{head}  {data['format']} {data['width']}x{data['height']}, {data['bytes']:,} bytes -> {data['file']}"

    def step_document(self, result: StepResult) -> dict[str, Any]:
        data, _ = scrub(result.data, self.secrets)
        return {"label": label_for(self.plan.endpoint), "mode": self.plan.mode, "endpoint": self.plan.endpoint,
                "step": result.step.name, "model": result.step.model, "status": result.status,
                "latency_s": result.latency_s, "result": data,
                "error": scrub_text(result.error, self.secrets) if result.error else None,
                "exchanges": self.recorder.of_step(result.step.name) if result.status != "skipped" else []}

    def write(self, name: str, document: dict[str, Any]) -> Path:
        """Write one fixture; a file in which a secret survived is deleted and the run fails."""
        self.record_dir.mkdir(parents=True, exist_ok=True)
        path = self.record_dir / name
        text = json.dumps(document, indent=2, ensure_ascii=False, default=str) + "\n"
        leaks = find_secrets(text, self.secrets)
        if leaks:
            raise RuntimeError(f"refusing to write {path}: it would contain {', '.join(leaks)}")
        path.write_text(text)
        return path

    def measured(self) -> planning.Cost:
        delivered = tuple(r.step.video_seconds for r in self.results.values()
                          if r.status == "ok" and r.step.video_seconds)
        usage = _usage([e for e in self.recorder.exchanges if e["step"] in ("script", "image")])
        images = 1 if self.results.get("image") and self.results["image"].status == "ok" else 0
        return planning.measured_cost(self.plan, delivered, usage["prompt"], usage["candidates"] + usage["thoughts"],
                                      images)

    def run(self, expected: planning.Cost) -> int:
        """Every step in order (a step whose input failed is skipped); 0 when all of them delivered."""
        self.media_dir.mkdir(parents=True, exist_ok=True)
        try:
            self.connect()
        except Exception as exc:  # no client, no credentials, nothing to hook: nothing was called yet
            self.say(f"smoke-live: cannot start: {type(exc).__name__}: {scrub_text(str(exc), self.secrets)}; "
                     "nothing was called and nothing was spent")
            return 1
        self.say(f"recording to {self.record_dir}/, media to {self.media_dir}/")
        for number, step in enumerate(self.plan.steps, 1):
            self.run_step(number, step)
        measured = self.measured()
        self.say(planning.cost_line(measured, expected=False))
        self.write("manifest.json", {
            "label": label_for(self.plan.endpoint), "recorded_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "mode": self.plan.mode, "endpoint": self.plan.endpoint, "live": is_google(self.plan.endpoint),
            "google_genai": genai.__version__, "veo_tier": self.plan.tier,
            "steps": [{"step": r.step.name, "model": r.step.model, "status": r.status, "latency_s": r.latency_s,
                       "error": scrub_text(r.error, self.secrets) if r.error else None}
                      for r in self.results.values()],
            "expected_cost": expected.to_doc(), "measured_cost": measured.to_doc()})
        failed = [name for name, r in self.results.items() if r.status != "ok"]
        ok = len(self.results) - len(failed)
        if failed:
            self.say(f"smoke-live: {ok}/{len(self.results)} steps ok; not ok: {', '.join(failed)}; "
                     f"recordings in {self.record_dir}/")
            return 1
        self.say(f"smoke-live: {ok}/{len(self.results)} steps ok; recordings in {self.record_dir}/")
        return 0
