"""Veo 3.1 in both protocols: long-running operations that render clips with shared.media.render.

Gemini API: the input video is `video.uri` (a file this simulator made), results are files to
download. Vertex AI: the input video is `video.gcsUri`, results are written as GCS objects under the
request's `storageUri` (into the storage emulator named by STORAGE_EMULATOR_HOST), and chains are
limited to 37 s. A first clip is text-to-video (or image-to-video); an extension appends +7 s and the
result is the whole extended video.

Every accepted call is an entry of the ledger (an attempt), but only a delivered video is charged
(C-BILL-DELIVERED): `billed`, `billed_seconds` (alias `seconds_billed`) and `cost_usd` (C-BILL-RATES) stay
false/0 for safety- or audio-filtered, malformed and failed operations (C-BILL-FILTERED-FREE).
429/500/400 faults, calls over the optional request quota or spend cap (429, C-RL-429) and invalid calls are
answered before anything is recorded. Gemini API files expire 48 h after they were made (C-RETENTION-2D).
A clip's speech can deviate from the prompt's dialogue (faults.SPEECH_KINDS, per rule or at the seeded
SIM_SPEECH_DEVIATION_RATE); the ledger entry names it (`speech_deviation`).
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import io
import re
import shutil
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import google.cloud.storage as storage
from PIL import Image, UnidentifiedImageError

from infra.local.simulator import models
from infra.local.simulator.billing import Accounts, SimClock
from infra.local.simulator.faults import (
    REJECTING_KINDS,
    SPEECH_KINDS,
    FaultBook,
    FaultRule,
    RequestQuota,
    deviate,
    quota_exhausted,
    rejection,
)
from infra.local.simulator.models import GEMINI_API, LITE, VERTEX
from infra.local.simulator.protocol import ApiError, VeoPrompt, invalid
from shared.core import log
from shared.media.probe import duration as video_duration
from shared.media.render import extend_clip, render_clip, seed_for

FIRST_CLIP_SECONDS = (4, 6, 8)
EXTENSION_SECONDS = 7
EXTENSION_DURATION_PARAMS = (None, 7, 8)  # the docs ask for 8; the result grows by 7 s either way
MAX_INPUT_SECONDS = 141.0
MAX_TOTAL_SECONDS = 148.0
RETENTION_SECONDS = 48 * 3600  # R1, R2: generated files are kept 2 days (Gemini API)
# (input must be shorter than, extended total at most) per protocol
CHAIN_LIMITS = {GEMINI_API: (MAX_INPUT_SECONDS, MAX_TOTAL_SECONDS), VERTEX: (30.01, 37.0)}
VERTEX_RESPONSE_TYPE = "type.googleapis.com/cloud.ai.large_models.vision.GenerateVideoResponse"
RESPONSE_TYPE = "type.googleapis.com/google.ai.generativelanguage.v1beta.PredictLongRunningResponse"
# C-RAI-DONE (E5): the V-RAI form with a support code (58061214: the "child" category, the one tied to the
# personGeneration setting). The words "safety" and "person generation" are relied on by pipeline tests.
SAFETY_REASON = ("Veo could not generate videos because your current safety settings for person generation "
                 "blocked the output (simulated safety filter). If you think this was an error, send feedback. "
                 "Support codes: 58061214")
# E8 is not verified: no Google wording for audio blocks was found. A clearly marked plausible one, in the
# V-RAI form, with an "other" category code (E5).
AUDIO_REASON = ("Veo could not generate videos because the generated audio was blocked by a safety filter "
                "(simulated audio block; plausible wording, not Google's). Trying again usually succeeds. "
                "Support codes: 29578790")
# V3 (secondary): the Gemini API's Lite model does not extend videos. Wording simulated.
LITE_EXTENSION = ("Video extension is not supported by {model} on the Gemini API. Use veo-3.1-generate-preview or "
                  "veo-3.1-fast-generate-preview to extend a video.")
# R3 (not verified): only videos generated in the last 2 days can be extended. Wording simulated.
EXPIRED_INPUT = ("The input video files/{fid} has expired: generated videos are kept for 2 days and can only be "
                 "extended within that time.")
# What the Gemini API answers for a file that does not exist (any more): 403, not 404 (python-genai#1218,
# deprecated-generative-ai-python#692, dify-plugin-daemon#192 quote the raw body; secondary).
FILE_DENIED = "You do not have permission to access the File {fid} or it may not exist."
_FILE_ID = re.compile(r"files/([a-z0-9]+)")


@dataclass(frozen=True)
class VeoRequest:
    """A validated predictLongRunning request."""

    prompt: str
    seconds_billed: int
    source_fid: str | None
    image_png: bytes | None
    protocol: str = GEMINI_API
    storage_uri: str | None = None
    resolution: str = "720p"
    generate_audio: bool = True

    @property
    def extension(self) -> bool:
        return self.source_fid is not None


@dataclass
class Operation:
    """One long-running Veo operation."""

    op_id: str
    model: str
    ready_at: float
    fault: FaultRule | None
    outcome: str | None = None  # rendered | filtered | malformed | failed
    fid: str | None = None
    error: str | None = None
    filter_reason: str = SAFETY_REASON
    ledger_entry: dict[str, Any] = field(default_factory=dict)
    parent: str = ""  # Vertex AI: projects/{p}/locations/{l}/publishers/google/
    gcs_uri: str | None = None  # Vertex AI: where the result was written
    speech: str | None = None  # a speech deviation (faults.SPEECH_KINDS): the clip does not say the dialogue

    @property
    def name(self) -> str:
        return f"{self.parent}models/{self.model}/operations/{self.op_id}"


class VeoSimulator:
    """Operations, generated files, the billing ledger and fault rules of the simulated Veo."""

    def __init__(self, data_dir: Path, *, min_latency_seconds: float = 0.0, workers: int = 1,
                 clock: SimClock | None = None, accounts: Accounts | None = None,
                 audio_block_rate: float = 0.0, audio_block_seed: str = "0", speech_deviation_rate: float = 0.0,
                 speech_deviation_seed: str = "0") -> None:
        self.videos_dir = data_dir / "videos"
        self.inputs_dir = data_dir / "inputs"
        self.videos_dir.mkdir(parents=True, exist_ok=True)
        self.inputs_dir.mkdir(parents=True, exist_ok=True)
        self.min_latency_seconds = min_latency_seconds
        self.clock = clock or SimClock()
        self.accounts = accounts or Accounts(self.clock)
        self.audio_block_rate = audio_block_rate
        self.audio_block_seed = audio_block_seed
        self.speech_deviation_rate = speech_deviation_rate
        self.speech_deviation_seed = speech_deviation_seed
        self.faults = FaultBook()
        self.quota = RequestQuota(self.clock.time)
        self._operations: dict[str, Operation] = {}
        self._durations: dict[str, float] = {}
        self._created: dict[str, float] = {}  # file id → clock time it was made (retention)
        self._attempts: Counter[str] = Counter()  # request fingerprint → accepted calls (seeded audio blocks)
        self._ledger: list[dict[str, Any]] = []
        self._gcs_files: dict[str, str] = {}  # gs:// URI written → file id
        self._storage: Any = None
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="veo-render")

    # -- requests -------------------------------------------------------------------------------
    def start(self, model: str, body: dict[str, Any], parent: str = "") -> dict[str, Any]:
        """Validate, apply faults, bill and queue a render; returns the operation resource.

        `parent` is the Vertex AI resource prefix (`projects/…/publishers/google/`); empty for the Gemini API.
        """
        mode = VERTEX if parent else GEMINI_API
        parts = parent.split("/")
        project, location = (parts[1], parts[3]) if len(parts) > 3 else ("", "")
        spec = models.resolve(model, mode, "predictLongRunning", project, location)
        request = self._validate(body, mode, spec)
        if self.accounts.over_cap() or not self.quota.admit():
            raise quota_exhausted(mode)
        fault = self.faults.take(request.prompt, model)
        while fault and fault.kind == "stall":  # hold the request, then carry on as usual (C-SDK-TIMEOUT-MS)
            log.info("veo request stalled", seconds=fault.delay_seconds)
            time.sleep(fault.delay_seconds)
            fault = self.faults.take(request.prompt, model)  # other rules still apply
        if fault and fault.kind in REJECTING_KINDS:
            raise rejection(fault.kind, mode)
        delay = fault.delay_seconds if fault and fault.kind == "slow" else 0.0
        op = Operation(op_id=uuid.uuid4().hex[:12], model=model, fault=fault, parent=parent,
                       ready_at=time.monotonic() + self.min_latency_seconds + delay)
        op.ledger_entry = self._bill(op, request, spec)
        with self._lock:
            self._operations[op.op_id] = op
        audio_blocked = self._seeded_audio_block(request)
        if fault and fault.kind == "safety":
            self._finish(op, "filtered", SAFETY_REASON)
        elif (fault and fault.kind == "audio_block") or (fault is None and audio_blocked):
            self._finish(op, "filtered", AUDIO_REASON)
        elif fault and fault.kind == "malformed":
            self._finish(op, "malformed")
        else:
            op.speech = self._speech_deviation(request, model)
            op.ledger_entry["speech_deviation"] = op.speech
            self._pool.submit(self._render, op, request)
        log.info("veo operation accepted", operation=op.name, extension=request.extension,
                 seconds_billed=request.seconds_billed, fault=fault.kind if fault else None)
        return {"name": op.name}

    def poll(self, model: str, op_id: str, files_base: str) -> dict[str, Any]:
        """The operation resource: not done until rendered and its latency has passed."""
        with self._lock:
            op = self._operations.get(op_id)
        if op is None or op.model != model:
            raise ApiError(404, f"Operation models/{model}/operations/{op_id} not found.")
        if op.outcome is None or time.monotonic() < op.ready_at:
            return {"name": op.name, "done": False}
        if op.outcome == "failed":
            return {"name": op.name, "done": True, "error": {"code": 13, "message": op.error or "render failed"}}
        return {"name": op.name, "done": True,
                "response": {"@type": RESPONSE_TYPE, "generateVideoResponse": self._video_response(op, files_base)}}

    def fetch(self, model: str, operation_name: str) -> dict[str, Any]:
        """Vertex AI's fetchPredictOperation: the operation with `videos[].gcsUri` when done."""
        op_id = operation_name.rpartition("/operations/")[2]
        with self._lock:
            op = self._operations.get(op_id)
        if op is None or op.model != model or op.name != operation_name:
            raise ApiError(404, f"Operation {operation_name} not found.")
        if op.outcome is None or time.monotonic() < op.ready_at:
            return {"name": op.name, "done": False}
        if op.outcome == "failed":
            return {"name": op.name, "done": True, "error": {"code": 13, "message": op.error or "render failed"}}
        response: dict[str, Any] = {"@type": VERTEX_RESPONSE_TYPE}
        if op.outcome == "filtered":
            response.update(raiMediaFilteredCount=1, raiMediaFilteredReasons=[op.filter_reason])
        elif op.outcome == "malformed":
            response.update(videos=[{"mimeType": "video/mp4"}])
        else:
            response.update(videos=[{"gcsUri": op.gcs_uri, "mimeType": "video/mp4"}], raiMediaFilteredCount=0)
        return {"name": op.name, "done": True, "response": response}

    def video_path(self, fid: str) -> Path:
        """The MP4 of a generated file; 403 PERMISSION_DENIED, as the Gemini API answers, when it is unknown or
        older than 48 h (C-RETENTION-2D)."""
        with self._lock:
            known = fid in self._durations
        if not known or self._expired(fid):
            raise ApiError(403, FILE_DENIED.format(fid=fid), "PERMISSION_DENIED")
        return self.videos_dir / f"{fid}.mp4"

    def adopt(self, video: Path, *, duration: float | None = None, gcs_uri: str | None = None) -> str:
        """Store an existing MP4 as if Veo had made it now (test seam); returns its file id. With `gcs_uri` it is
        also known as that Vertex AI output."""
        fid = uuid.uuid4().hex[:16]
        target = self.videos_dir / f"{fid}.mp4"
        shutil.copyfile(video, target)
        with self._lock:
            self._durations[fid] = video_duration(target) if duration is None else duration
            self._created[fid] = self.clock.time()
            if gcs_uri:
                self._gcs_files[gcs_uri] = fid
        return fid

    def ledger(self) -> list[dict[str, Any]]:
        """Every accepted call (attempt), oldest first; `billed` says whether it was charged."""
        with self._lock:
            return [dict(entry) for entry in self._ledger]

    def billing(self) -> dict[str, Any]:
        """Totals: attempts, charged operations and seconds, cost, outcomes, API calls and refusals, tokens."""
        entries = self.ledger()
        billed = [e for e in entries if e["billed"]]
        return {
            "operations": len(entries), "billed_operations": len(billed),
            "billed_seconds": sum(e["billed_seconds"] for e in billed),
            "veo_cost_usd": round(sum(e["cost_usd"] for e in billed), 4),
            "outcomes": dict(Counter(str(e["outcome"]) for e in entries)),
            "filtered": dict(Counter(str(e["filter_reason"]) for e in entries if e["filter_reason"])),
            **self.accounts.summary(),
        }

    def clear_ledger(self) -> None:
        """Forget calls, charges and counts (tests start from an empty ledger)."""
        with self._lock:
            self._ledger.clear()
            self._attempts.clear()
        self.accounts.clear()

    def shutdown(self) -> None:
        """Stop accepting renders and wait for running ones."""
        self._pool.shutdown(wait=True, cancel_futures=True)

    # -- validation -----------------------------------------------------------------------------
    def _validate(self, body: dict[str, Any], protocol: str, spec: models.Model) -> VeoRequest:
        instances = body.get("instances")
        if not isinstance(instances, list) or len(instances) != 1 or not isinstance(instances[0], dict):
            raise invalid("instances must be a list with exactly one instance.")
        instance, params = instances[0], body.get("parameters") or {}
        prompt = instance.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            raise invalid("A text prompt is required: instances[0].prompt is missing or empty.")
        _check_common_parameters(instance, params)
        video, image = instance.get("video"), instance.get("image")
        if video is not None and image is not None:
            raise invalid("image and video inputs cannot be combined.")
        storage_uri = _storage_uri(params, protocol)
        audio = params.get("generateAudio") is not False  # Vertex AI only; Gemini API videos always have audio
        if video is not None:
            if protocol == GEMINI_API and spec.tier == LITE:  # C-VEO-LITE-EXT (V3); Vertex AI's Lite extends
                raise invalid(LITE_EXTENSION.format(model=spec.id))
            source = self._extension_source(video, params, protocol)
            return VeoRequest(prompt, EXTENSION_SECONDS, source, None, protocol, storage_uri, "720p", audio)
        seconds = _first_clip_seconds(params.get("durationSeconds"))
        return VeoRequest(prompt, seconds, None, _image_png(image) if image is not None else None, protocol,
                          storage_uri, str(params.get("resolution") or "720p"), audio)

    def _known_source(self, video: Any, protocol: str) -> tuple[str | None, float | None]:
        """The file id and duration of an input video this simulator made (else None, None)."""
        if not isinstance(video, dict):
            return None, None
        with self._lock:
            if protocol == VERTEX:
                fid = self._gcs_files.get(str(video.get("gcsUri", "")))
            else:
                match = _FILE_ID.search(str(video.get("uri", "")))
                fid = match.group(1) if match else None
            return fid, self._durations.get(fid) if fid else None

    def _extension_source(self, video: Any, params: dict[str, Any], protocol: str) -> str:
        if _as_int(params.get("durationSeconds")) not in EXTENSION_DURATION_PARAMS:
            raise invalid(f"durationSeconds must be 8 when extending a video (each extension adds "
                          f"{EXTENSION_SECONDS} s), not {params.get('durationSeconds')!r}.")
        if params.get("resolution") not in (None, "720p"):
            raise invalid("Video extension is only supported at 720p resolution.")
        fid, duration = self._known_source(video, protocol)
        if fid is None or duration is None:
            raise invalid("The input video must be a video generated by Veo (video.uri / video.gcsUri of a "
                          "previous generation); uploaded or unknown videos cannot be extended.")
        if protocol == GEMINI_API and self._expired(fid):  # C-RETENTION-2D (R3)
            raise invalid(EXPIRED_INPUT.format(fid=fid))
        max_input, max_total = CHAIN_LIMITS[protocol]
        if duration >= max_input or duration + EXTENSION_SECONDS > max_total:
            raise invalid(f"The input video is {duration:g} s long; extended videos are limited to "
                          f"{max_total:g} s (input under {max_input:g} s).")
        return fid

    def _expired(self, fid: str) -> bool:
        """Older than 48 h on the simulator's clock (Gemini API files; Vertex AI outputs live in the bucket)."""
        with self._lock:
            created = self._created.get(fid)
        return created is not None and self.clock.time() >= created + RETENTION_SECONDS

    def _seeded_audio_block(self, request: VeoRequest) -> bool:
        """Whether the seeded audio-block rate blocks this call: only a request's first attempt can be blocked,
        so a plain retry succeeds; never when the request asked for no audio (Vertex AI `generateAudio: false`)."""
        key = hashlib.sha256("\x1f".join((request.prompt, request.source_fid or "",
                                          hashlib.sha256(request.image_png or b"").hexdigest())).encode()).hexdigest()
        with self._lock:
            earlier = self._attempts[key]
            self._attempts[key] += 1
        if earlier or self.audio_block_rate <= 0 or not request.generate_audio:
            return False
        return seed_for("audio-block", self.audio_block_seed, key) / 0x80000000 < self.audio_block_rate

    def _speech_deviation(self, request: VeoRequest, model: str) -> str | None:
        """The speech deviation of this call: a `speech_*` fault rule (optionally for one block), else the
        seeded SIM_SPEECH_DEVIATION_RATE picking one of SPEECH_KINDS per request."""
        position = VeoPrompt.parse(request.prompt).block
        rule = self.faults.take(request.prompt, model, speech=True,
                                block=None if position is None else position - 1)
        if rule is not None:
            return rule.kind
        if self.speech_deviation_rate <= 0:
            return None
        draw = seed_for("speech-deviation", self.speech_deviation_seed, request.prompt, request.source_fid or "")
        if draw / 0x80000000 >= self.speech_deviation_rate:
            return None
        return SPEECH_KINDS[seed_for("speech-kind", self.speech_deviation_seed, request.prompt) % len(SPEECH_KINDS)]

    # -- billing and rendering ------------------------------------------------------------------
    def _bill(self, op: Operation, request: VeoRequest, spec: models.Model) -> dict[str, Any]:
        """The ledger entry of an accepted call: an attempt, charged only once its video is delivered."""
        prompt = VeoPrompt.parse(request.prompt)
        entry = {
            "operation": op.name, "model": op.model, "seconds_requested": request.seconds_billed,
            "billed": False, "billed_seconds": 0, "seconds_billed": 0, "cost_usd": 0.0,
            "resolution": request.resolution, "rate_usd_per_second": models.veo_rate(spec, request.resolution),
            "filter_reason": None,
            "prompt_sha256": hashlib.sha256(request.prompt.encode("utf-8")).hexdigest(),
            "block": prompt.block, "blocks_total": prompt.blocks_total, "scene": prompt.scene,
            "extension": request.extension, "source_file": request.source_fid,
            "protocol": request.protocol, "storage_uri": request.storage_uri,
            "image_input": request.image_png is not None,
            "at": self.clock.now().isoformat(timespec="milliseconds"), "outcome": "pending",
        }
        with self._lock:
            self._ledger.append(entry)
        return entry

    def _render(self, op: Operation, request: VeoRequest) -> None:
        prompt = VeoPrompt.parse(request.prompt)
        fid = uuid.uuid4().hex[:16]
        out = self.videos_dir / f"{fid}.mp4"
        seed = seed_for(op.model, request.prompt, request.source_fid or "",
                        hashlib.sha256(request.image_png or b"").hexdigest())
        dialogue, language = prompt.dialogue, prompt.language
        if op.speech:
            dialogue, language = deviate(op.speech, dialogue, language, seed)
            log.info("veo speech deviates from the prompt", operation=op.name, kind=op.speech, spoken=dialogue)
        try:
            with log.bound(operation=op.name):
                if request.source_fid:
                    info = extend_clip(self.videos_dir / f"{request.source_fid}.mp4", out,
                                       scene_text=prompt.caption(), dialogue=dialogue,
                                       language=language, seconds=EXTENSION_SECONDS, seed=seed)
                else:
                    info = render_clip(out, scene_text=prompt.caption(), dialogue=dialogue,
                                       language=language, seconds=request.seconds_billed, seed=seed,
                                       first_frame=self._save_image(op, request.image_png))
        except Exception as exc:  # noqa: BLE001 - a failed render fails the operation, not the server
            log.exception("veo render failed", exc, operation=op.name)
            op.error = f"Video generation failed: {exc}"
            self._finish(op, "failed")
            return
        with self._lock:
            self._durations[fid] = info.duration
            self._created[fid] = self.clock.time()
        op.fid = fid
        if request.storage_uri:
            try:
                op.gcs_uri = self._write_to_gcs(out, request.storage_uri, op.op_id, fid)
            except Exception as exc:  # noqa: BLE001 - an unwritable destination fails the operation
                log.exception("veo output upload failed", exc, operation=op.name)
                op.error = f"Failed to write the output to {request.storage_uri}: {exc}"
                self._finish(op, "failed")
                return
        self._finish(op, "rendered")
        log.info("veo render finished", operation=op.name, file=fid, duration=info.duration)

    def _write_to_gcs(self, video: Path, storage_uri: str, op_id: str, fid: str) -> str:
        """Upload a result under `storage_uri` like Vertex AI does: {storageUri}/{operation}/sample_0.mp4."""
        if self._storage is None:
            self._storage = storage.Client()
        bucket, _, prefix = storage_uri[5:].partition("/")
        path = f"{prefix.rstrip('/')}/{op_id}/sample_0.mp4".lstrip("/")
        self._storage.bucket(bucket).blob(path).upload_from_filename(str(video), content_type="video/mp4")
        uri = f"gs://{bucket}/{path}"
        with self._lock:
            self._gcs_files[uri] = fid
        return uri

    def _save_image(self, op: Operation, png: bytes | None) -> Path | None:
        if png is None:
            return None
        path = self.inputs_dir / f"{op.op_id}.png"
        path.write_bytes(png)
        return path

    def _finish(self, op: Operation, outcome: str, reason: str = SAFETY_REASON) -> None:
        """Settle an operation; only a delivered video is charged (C-BILL-DELIVERED, C-BILL-FILTERED-FREE)."""
        cost = 0.0
        with self._lock:
            entry = op.ledger_entry
            if outcome == "rendered":
                seconds = int(entry["seconds_requested"])
                cost = round(seconds * float(entry["rate_usd_per_second"]), 4)
                entry.update(billed=True, billed_seconds=seconds, seconds_billed=seconds, cost_usd=cost)
            elif outcome == "filtered":
                op.filter_reason = reason
                entry["filter_reason"] = "audio" if reason == AUDIO_REASON else "safety"
            op.outcome = outcome
            entry["outcome"] = outcome
        self.accounts.charge(cost)

    def _video_response(self, op: Operation, files_base: str) -> dict[str, Any]:
        if op.outcome == "filtered":
            return {"raiMediaFilteredCount": 1, "raiMediaFilteredReasons": [op.filter_reason]}
        if op.outcome == "malformed":
            return {"generatedSamples": [{}]}
        return {"generatedSamples": [{"video": {"uri": f"{files_base}/v1beta/files/{op.fid}:download?alt=media"}}]}


def _check_common_parameters(instance: dict[str, Any], params: dict[str, Any]) -> None:
    if params.get("aspectRatio") not in (None, "9:16"):
        raise invalid(f"The simulator renders 9:16 only; aspectRatio {params.get('aspectRatio')!r} "
                      "is not supported here.")
    if _as_int(params.get("sampleCount")) not in (None, 1):
        raise invalid("sampleCount must be 1.")
    if instance.get("referenceImages"):
        raise invalid("Reference images are only supported with aspectRatio 16:9 and cannot be "
                      "combined with image or video input.")
    if params.get("resolution") not in (None, "720p", "1080p"):
        raise invalid(f"resolution must be '720p' or '1080p', not {params.get('resolution')!r}.")


def _storage_uri(params: dict[str, Any], protocol: str) -> str | None:
    uri = params.get("storageUri")
    if protocol == GEMINI_API:
        if uri is not None:
            raise invalid("storageUri is not supported by the Gemini API.")
        return None
    if not isinstance(uri, str) or not uri.startswith("gs://") or len(uri) < 6:
        raise invalid("parameters.storageUri (a gs:// prefix) is required by this simulator in Vertex AI mode.")
    return uri


def _first_clip_seconds(raw: Any) -> int:
    seconds = _as_int(raw)
    if seconds is None:
        return max(FIRST_CLIP_SECONDS)
    if seconds not in FIRST_CLIP_SECONDS:
        raise invalid(f"durationSeconds must be one of {list(FIRST_CLIP_SECONDS)}, not {raw!r}.")
    return seconds


def _as_int(raw: Any) -> int | None:
    if raw is None:
        return None
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise invalid(f"expected a number, not {raw!r}.") from None
    return int(value) if value.is_integer() else -1


def _image_png(image: Any) -> bytes:
    """The input image re-encoded as PNG; 400 when it is missing or not an image."""
    data = image.get("bytesBase64Encoded") if isinstance(image, dict) else None
    if not data:
        raise invalid("image.bytesBase64Encoded is required for image-to-video (gcsUri is Vertex only).")
    try:
        standard = str(data).replace("-", "+").replace("_", "/")  # google-genai sends URL-safe base64
        picture = Image.open(io.BytesIO(base64.b64decode(standard, validate=False)))
        buffer = io.BytesIO()
        picture.convert("RGB").save(buffer, format="PNG")
    except (binascii.Error, UnidentifiedImageError, OSError, ValueError):
        raise invalid("Unable to process input image: not a PNG, JPEG or WebP image.") from None
    return buffer.getvalue()

