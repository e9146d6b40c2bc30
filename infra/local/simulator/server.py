"""HTTP routes of the simulator (Flask), in the REST shapes google-genai 2.34 sends and parses.

    POST   /v1beta/models/{model}:generateContent     Gemini text (scripts), image and TTS models (speech.py)
    POST   /v1beta/models/{model}:predictLongRunning  Veo: returns {"name": operation}
    GET    /v1beta/models/{model}/operations/{id}     poll an operation
    GET    /v1beta/files/{id}[:download]              file metadata, or the MP4 bytes
    POST   /v1beta1/projects/{p}/locations/{l}/publishers/google/models/{model}:{method}
           Vertex AI: generateContent, predictLongRunning (output to storageUri), fetchPredictOperation
    GET    /_sim/health                               200 when up
    GET    /_sim/ledger  DELETE /_sim/ledger          Veo calls (attempts; `billed` marks the charged ones);
                                                      DELETE also clears /_sim/billing's counts and charges
    GET    /_sim/billing                              totals: attempts, billed seconds and USD, outcomes, API calls,
                                                      refusals by method and status, Gemini tokens per model
    POST   /_sim/faults  GET, DELETE /_sim/faults     fault rules (see faults.py)
    POST   /_sim/quota   GET, DELETE /_sim/quota      Veo request quota and its 429 count (faults.RequestQuota)
    POST   /_sim/limits  GET, DELETE /_sim/limits     spend cap {"spend_usd_per_window", "window_seconds"} → 429
    POST   /_sim/clock   GET, DELETE /_sim/clock      {"advance_seconds": N} moves the simulator's clock (retention,
                                                      windows); DELETE puts it back to wall time

Environment: SIM_AUDIO_BLOCK_RATE (0…1, default 0) blocks that share of first attempts for their audio (a retry
of the same request succeeds), seeded by SIM_AUDIO_BLOCK_SEED (default "0"). SIM_SPEECH_DEVIATION_RATE (0…1,
default 0) makes that share of clips say something else than their dialogue (faults.SPEECH_KINDS), seeded by
SIM_SPEECH_DEVIATION_SEED (default "0").
"""
from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

from flask import Flask, Response, jsonify, request, send_file
from werkzeug.exceptions import HTTPException

from infra.local.simulator import models
from infra.local.simulator.faults import GENERATE, FaultRule, quota_exhausted, rejection
from infra.local.simulator.gemini import generate_content, request_text
from infra.local.simulator.models import GEMINI_API, VERTEX
from infra.local.simulator.protocol import ApiError, invalid
from infra.local.simulator.veo import VeoSimulator
from shared.core import log

_UNREGISTERED = ("Method doesn't allow unregistered callers (callers without established identity). "
                 "Please use API Key or other form of API consumer identity to call this API.")


def create_app(data_dir: str | Path | None = None, *, min_latency_seconds: float = 0.0,
               workers: int = 1, audio_block_rate: float | None = None, audio_block_seed: str | None = None) -> Flask:
    """The simulator's Flask app; its VeoSimulator is `app.extensions["veo"]` (clock and accounts included).

    `audio_block_rate` / `audio_block_seed` default to SIM_AUDIO_BLOCK_RATE (0) / SIM_AUDIO_BLOCK_SEED ("0").
    """
    root = Path(data_dir) if data_dir else Path(tempfile.mkdtemp(prefix="veo-sim-"))
    rate = float(os.environ.get("SIM_AUDIO_BLOCK_RATE", "0") or 0) if audio_block_rate is None else audio_block_rate
    seed = os.environ.get("SIM_AUDIO_BLOCK_SEED", "0") if audio_block_seed is None else audio_block_seed
    speech_rate = float(os.environ.get("SIM_SPEECH_DEVIATION_RATE", "0") or 0)
    veo = VeoSimulator(root, min_latency_seconds=min_latency_seconds, workers=workers,
                       audio_block_rate=min(max(rate, 0.0), 1.0), audio_block_seed=seed,
                       speech_deviation_rate=min(max(speech_rate, 0.0), 1.0),
                       speech_deviation_seed=os.environ.get("SIM_SPEECH_DEVIATION_SEED", "0"))
    app = Flask("veo-simulator")
    app.extensions["veo"] = veo
    _register_errors(app, veo)
    _register_api(app, veo)
    _register_control(app, veo)
    log.info("simulator ready", data_dir=str(root), min_latency_seconds=min_latency_seconds,
             audio_block_rate=veo.audio_block_rate)
    return app


def _api_method() -> str | None:
    """The API method a request calls (generateContent, predictLongRunning, getOperation, …); None for /_sim."""
    if request.path.startswith("/_sim"):
        return None
    last = request.path.rsplit("/", 1)[-1]
    if ":" in last:
        return last.rpartition(":")[2]
    return "getOperation" if "/operations/" in request.path else "getFile" if "/files/" in request.path else "other"


def _register_errors(app: Flask, veo: VeoSimulator) -> None:
    """C-ERR-SHAPE: every error is {"error": {code, message, status}} with the HTTP status as `code`."""
    def refused(error: ApiError) -> tuple[Response, int]:
        method = _api_method()
        if method:
            veo.accounts.count_refusal(method, error.code)
        return jsonify(error.body()), error.code

    @app.before_request
    def count_call() -> None:
        method = _api_method()
        if method:
            veo.accounts.count_call(method)

    @app.errorhandler(ApiError)
    def api_error(exc: ApiError) -> tuple[Response, int]:
        return refused(exc)

    @app.errorhandler(404)
    def not_found(_exc: Exception) -> tuple[Response, int]:
        return refused(ApiError(404, f"Not found: {request.path}"))

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> tuple[Response, int]:
        if isinstance(exc, HTTPException):
            code = exc.code or 500
            return jsonify(ApiError(code, exc.description or exc.name).body()), code
        log.exception("simulator error", exc, path=request.path)
        return jsonify(ApiError(500, "Internal error encountered.").body()), 500


def _json_body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise invalid("Invalid JSON payload received.")
    return body


def _require_api_key() -> None:
    if not (request.headers.get("x-goog-api-key") or request.args.get("key")
            or request.headers.get("Authorization")):
        raise ApiError(403, _UNREGISTERED, "PERMISSION_DENIED")


def _files_base() -> str:
    # Veo answers https URIs; google-genai only keeps the `files/<id>` part and downloads from base_url.
    return f"https://{request.host}"


def _generate(veo: VeoSimulator, model: str, mode: str, project: str = "", location: str = "") -> Response:
    """generateContent with the spend cap, generateContent faults and token accounting around it."""
    models.resolve(model, mode, "generateContent", project, location)  # 404 before anything else
    body = _json_body()
    if veo.accounts.over_cap():
        raise quota_exhausted(mode)
    text = request_text(body)
    fault = veo.faults.take(text, model, GENERATE)
    while fault and fault.kind == "stall":  # hold the request, then answer as usual (C-SDK-TIMEOUT-MS)
        time.sleep(fault.delay_seconds)
        fault = veo.faults.take(text, model, GENERATE)  # other rules still apply
    if fault:
        raise rejection(fault.kind, mode)
    response = generate_content(model, body, mode, project, location)
    veo.accounts.record_tokens(response["modelVersion"], response["usageMetadata"])
    return jsonify(response)


def _register_api(app: Flask, veo: VeoSimulator) -> None:
    @app.post("/v1beta/models/<path:target>")
    def model_call(target: str) -> Response:
        _require_api_key()
        model, _, method = target.rpartition(":")
        if method == "generateContent":
            return _generate(veo, model, GEMINI_API)
        if method == "predictLongRunning":
            return jsonify(veo.start(model, _json_body()))
        raise ApiError(404, f"Method {method!r} is not supported by the simulator.")

    @app.post("/v1beta1/projects/<project>/locations/<location>/publishers/google/models/<path:target>")
    def vertex_model_call(project: str, location: str, target: str) -> Response:
        _require_api_key()
        model, _, method = target.rpartition(":")
        if method == "generateContent":
            return _generate(veo, model, VERTEX, project, location)
        if method == "predictLongRunning":
            parent = f"projects/{project}/locations/{location}/publishers/google/"
            return jsonify(veo.start(model, _json_body(), parent=parent))
        if method == "fetchPredictOperation":
            name = _json_body().get("operationName")
            if not isinstance(name, str) or not name:
                raise invalid("operationName is required.")
            return jsonify(veo.fetch(model, name))
        raise ApiError(404, f"Method {method!r} is not supported by the simulator.")

    @app.get("/v1beta/models/<model>/operations/<op_id>")
    def operation(model: str, op_id: str) -> Response:
        _require_api_key()
        return jsonify(veo.poll(model, op_id, _files_base()))

    @app.get("/v1beta/files/<target>")
    def file_call(target: str) -> Response:
        _require_api_key()
        fid, _, method = target.partition(":")
        path = veo.video_path(fid)
        if method == "download":
            return send_file(path, mimetype="video/mp4", download_name=f"{fid}.mp4")
        if method:
            raise ApiError(404, f"Method {method!r} is not supported on files.")
        uri = f"{_files_base()}/v1beta/files/{fid}:download?alt=media"
        return jsonify({"name": f"files/{fid}", "mimeType": "video/mp4", "sizeBytes": str(path.stat().st_size),
                        "uri": uri, "downloadUri": uri, "state": "ACTIVE", "source": "GENERATED"})


def _register_control(app: Flask, veo: VeoSimulator) -> None:
    @app.get("/_sim/health")
    def health() -> Response:
        return jsonify({"status": "ok"})

    @app.get("/_sim/ledger")
    def ledger() -> Response:
        return jsonify(veo.ledger())

    @app.get("/_sim/billing")
    def billing() -> Response:
        return jsonify(veo.billing())

    @app.get("/_sim/limits")
    def limits() -> Response:
        return jsonify(veo.accounts.limits())

    @app.post("/_sim/limits")
    def set_limits() -> Response:
        veo.accounts.configure_limits(request.get_json(silent=True))
        return jsonify(veo.accounts.limits())

    @app.delete("/_sim/limits")
    def clear_limits() -> Response:
        veo.accounts.configure_limits({"spend_usd_per_window": 0})
        return jsonify(veo.accounts.limits())

    @app.get("/_sim/clock")
    def clock() -> Response:
        return jsonify(veo.clock.state())

    @app.post("/_sim/clock")
    def move_clock() -> Response:
        veo.clock.configure(request.get_json(silent=True))
        return jsonify(veo.clock.state())

    @app.delete("/_sim/clock")
    def reset_clock() -> Response:
        veo.clock.reset()
        return jsonify(veo.clock.state())

    @app.delete("/_sim/ledger")
    def clear_ledger() -> Response:
        veo.clear_ledger()
        return jsonify({"cleared": True})

    @app.get("/_sim/faults")
    def faults() -> Response:
        return jsonify(veo.faults.listing())

    @app.post("/_sim/faults")
    def add_faults() -> Response:
        raw = request.get_json(silent=True)
        items = raw.get("rules", [raw]) if isinstance(raw, dict) else raw
        if not isinstance(items, list):
            raise invalid("POST a list of fault rules, a rule, or {\"rules\": [...]}.")
        veo.faults.add([FaultRule.from_json(item) for item in items])
        return jsonify(veo.faults.listing())

    @app.delete("/_sim/faults")
    def clear_faults() -> Response:
        veo.faults.clear()
        return jsonify({"cleared": True})

    @app.get("/_sim/quota")
    def quota() -> Response:
        return jsonify(veo.quota.stats())

    @app.post("/_sim/quota")
    def set_quota() -> Response:
        veo.quota.configure(request.get_json(silent=True))
        return jsonify(veo.quota.stats())

    @app.delete("/_sim/quota")
    def clear_quota() -> Response:
        veo.quota.configure({"requests_per_window": 0})
        return jsonify(veo.quota.stats())
