"""The storyboard step (function agent-assembler-storyboards, Pub/Sub: storyboard-requests): a reviewed job's
preview, rendered off the request path.

The preview is made from the script with no Veo call: one short clip per block from the same renderer as the
local Veo simulator (shared.media.render: the block's scene text on a procedural picture), its dialogue spoken by
Gemini's TTS model (`speak_dialogue`, the preview's only paid call: Settings.tts_model, contract T1-T8; never the
machine's espeak-ng, which the runtime image lacks), joined without re-encoding and stored at
`storyboards/{id}/r{revision}.mp4`. The speech's tokens go on the job's ledger (`usage.speech_*`, priced in
`usage.cost_usd.speech`) and on the step's `step_finished` line.

At least once, never twice: a request names the script revision it is for. One invocation renders a revision at a
time (`storyboard_render.lease`, taken in a transaction); a request for a revision already rendered, failed or
superseded by a later edit is acknowledged without work. Once a revision is stored, the previews it supersedes
are deleted; a preview finished after its revision was superseded (or the job approved or cancelled) is deleted
at once.
"""
from __future__ import annotations

import datetime as dt
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from google.api_core import exceptions as gexc

from shared.core import layout, lease, log, status
from shared.core.clients import Clients
from shared.core.errors import GenerationError, IllegalTransition, PermanentError, TransientError
from shared.core.messages import StoryboardRequest
from shared.core.status import Status
from shared.core.storage import gs_uri, read_json, split_uri, upload_file
from shared.media.ffmpeg import concat_copy
from shared.media.probe import duration as video_duration
from shared.media.render import render_clip, seed_for
from shared.media.speech import SpokenLine, clean_speech_text, request_speech
from shared.pricing import spend
from shared.pricing.costs import speech_usd, with_speech_tokens

BLOCK_SECONDS = 5.0
RENDER_WORKERS = 2  # ffmpeg processes at once (x264 already uses every core)
LEASE_SECONDS = 300.0  # a render of 12 blocks takes well under a minute; a crashed one is taken over after this
AWAITING = frozenset({Status.AWAITING_APPROVAL})
RENDERED, SUPERSEDED, ALREADY_DONE, NOT_AWAITING, PREVIEW_FAILED = (
    "rendered", "superseded", "already_done", "not_awaiting", "preview_failed")


def render_storyboard(clients: Clients, message: StoryboardRequest) -> str:
    """Render, store and record the preview of one script revision, once; what happened."""
    video_id, revision, owner = message.video_id, message.revision, lease.new_owner()
    try:
        doc, outcome = _claim(clients, video_id, revision, owner)
    except IllegalTransition:
        log.info("storyboard not rendered: the job no longer awaits approval", revision=revision)
        return NOT_AWAITING
    if outcome:
        log.info("storyboard request acknowledged without work", revision=revision, outcome=outcome)
        return outcome
    try:
        uri, stored, spoken = _render_and_upload(clients, doc, revision)
    except PermanentError as exc:
        _record_failure(clients, video_id, revision, owner, exc)
        return PREVIEW_FAILED
    except BaseException:
        _release(clients, video_id, owner)
        raise
    kept = _record(clients, video_id, revision, owner, stored, spoken)
    _delete_superseded(clients, video_id, revision, uri, kept)
    return RENDERED if kept else SUPERSEDED


def _claim(clients: Clients, video_id: str, revision: int, owner: str) -> tuple[dict[str, Any], str]:
    """Take the render lease of `revision`; the job and "" when this invocation renders it, else why not."""
    outcome = ""

    def take(doc: dict[str, Any]) -> dict[str, Any]:
        nonlocal outcome
        render = doc.get("storyboard_render") or {}
        if int(doc.get("script_revision") or 0) != revision:
            outcome = SUPERSEDED
        elif (doc.get("storyboard") or {}).get("revision") == revision or (
                render.get("revision") == revision and render.get("error")):
            outcome = ALREADY_DONE
        elif lease.is_live(render.get("lease"), owner):
            raise TransientError(f"storyboard r{revision} is being rendered by another invocation")
        if outcome:
            return {}
        until = status.utcnow() + dt.timedelta(seconds=LEASE_SECONDS)
        return {"storyboard_render": {**render, "revision": revision, "lease": {"owner": owner, "until": until}}}

    doc = status.update_in_status(clients.db, video_id, AWAITING, take)
    return doc, outcome


def _render_and_upload(clients: Clients, doc: dict[str, Any],
                       revision: int) -> tuple[str, dict[str, Any], list[SpokenLine]]:
    video_id = doc["video_id"]
    script = read_json(clients.storage, doc["script_uri"])
    lines = [b.get("dialogue") or "" for b in script["blocks"] if clean_speech_text(b.get("dialogue") or "")]
    spend.guard(doc, sum(spend.speech_call_usd(line) for line in lines), "the storyboard's speech")
    with tempfile.TemporaryDirectory(prefix="storyboard-out-") as tmp:
        local = Path(tmp) / "storyboard.mp4"
        with log.step_timer("storyboard", video_id=video_id, blocks=len(script["blocks"]), revision=revision) as step:
            spans, spoken = render_preview(clients, script, video_id, local)
            step["cost_usd"] = speech_usd(sum(s.prompt_tokens for s in spoken), sum(s.output_tokens for s in spoken))
            step["speech_calls"] = len(spoken)
        uri = upload_file(clients.storage, gs_uri(clients.settings.bucket, layout.storyboard_path(video_id, revision)),
                          local, "video/mp4")
    return uri, {"revision": revision, "uri": uri, "blocks": spans, "rendered_at": status.utcnow()}, spoken


def speak_dialogue(clients: Clients, text: str, language: str, out_wav: Path) -> SpokenLine:
    """One block's dialogue spoken by Gemini's TTS model into `out_wav`: the storyboard's one paid call."""
    settings = clients.settings
    return request_speech(clients.tts, model=settings.tts_model, voice=settings.tts_voice, text=text,
                          language=language, out_wav=out_wav)


def _render_block(clients: Clients, block: dict[str, Any], language: str, video_id: str,
                  work: Path) -> tuple[Path, SpokenLine | None]:
    clip, dialogue = work / f"b{block['index']}.mp4", block.get("dialogue") or ""
    spoken, speech_wav = None, None
    if clean_speech_text(dialogue):
        speech_wav = work / f"b{block['index']}.wav"
        spoken = speak_dialogue(clients, dialogue, language, speech_wav)
    render_clip(clip, scene_text=block["visual"], dialogue=dialogue, language=language, seconds=BLOCK_SECONDS,
                seed=seed_for(video_id, str(block["index"])), speech_wav=speech_wav)
    return clip, spoken


def render_preview(clients: Clients, script: dict[str, Any], video_id: str,
                   out: Path) -> tuple[list[dict[str, Any]], list[SpokenLine]]:
    """Render the storyboard MP4 of a script (two blocks at a time); each block's time span in it, and the
    speech calls it made."""
    blocks = script["blocks"]
    with tempfile.TemporaryDirectory(prefix="storyboard-") as tmp, ThreadPoolExecutor(RENDER_WORKERS) as pool:
        work = Path(tmp)
        rendered = list(pool.map(lambda b: _render_block(clients, b, script["language"], video_id, work), blocks))
        parts = [(clip, video_duration(clip)) for clip, _ in rendered]
        concat_copy(parts, out, work, failure=GenerationError)
    spans, start = [], 0.0
    for block, (_, seconds) in zip(blocks, parts):
        spans.append({"index": block["index"], "start": round(start, 3), "end": round(start + seconds, 3),
                      "visual": block["visual"], "dialogue": block.get("dialogue") or ""})
        start += seconds
    return spans, [spoken for _, spoken in rendered if spoken is not None]


def _record(clients: Clients, video_id: str, revision: int, owner: str, stored: dict[str, Any],
            spoken: list[SpokenLine]) -> bool:
    """Bill the speech on the job's ledger in any status; store the preview only while the job awaits approval
    at this revision. Whether it was stored."""
    kept = False

    def update(doc: dict[str, Any]) -> dict[str, Any]:
        nonlocal kept
        usage = with_speech_tokens(doc.get("usage"), sum(s.prompt_tokens for s in spoken),
                                   sum(s.output_tokens for s in spoken), len(spoken))
        kept = doc.get("status") in AWAITING and int(doc.get("script_revision") or 0) == revision
        return {"usage": usage, **({"storyboard": stored} if kept else {}), **_without_lease(doc, owner)}

    status.update_in_status(clients.db, video_id, frozenset(Status), update)
    return kept


def _record_failure(clients: Clients, video_id: str, revision: int, owner: str, exc: PermanentError) -> None:
    """The revision's preview cannot be made (over the job's budget, speech refused…): said on the job, which
    still awaits approval (an edit asks for a new preview)."""
    error = {"code": str(exc.code), "message": exc.message[:1000], "step": "storyboard", "id": log.new_error_id()}
    log.error("storyboard failed", revision=revision, code=exc.code, reason=exc.message, error_id=error["id"])

    def update(doc: dict[str, Any]) -> dict[str, Any]:
        if int(doc.get("script_revision") or 0) != revision:
            return _without_lease(doc, owner)
        return {"storyboard_render": {**(doc.get("storyboard_render") or {}), "revision": revision, "error": error,
                                      "lease": None}}

    status.update_in_status(clients.db, video_id, frozenset(Status), update)


def _release(clients: Clients, video_id: str, owner: str) -> None:
    """Give the lease up after a transient failure, so the redelivered request renders at once."""
    try:
        status.update_in_status(clients.db, video_id, frozenset(Status), lambda doc: _without_lease(doc, owner))
    except (IllegalTransition, gexc.GoogleAPICallError) as exc:  # the lease then expires by itself
        log.warning("storyboard lease not released", error=type(exc).__name__)


def _without_lease(doc: dict[str, Any], owner: str) -> dict[str, Any]:
    render = doc.get("storyboard_render") or {}
    if (render.get("lease") or {}).get("owner") != owner:
        return {}
    return {"storyboard_render": {**render, "lease": None}}


def _delete_superseded(clients: Clients, video_id: str, revision: int, uri: str, kept: bool) -> None:
    """Delete the previews of earlier revisions, and this one when it was not kept (later ones stay: a newer
    render may be storing its own)."""
    bucket_name, _ = split_uri(uri)
    prefix = layout.job_folder(layout.STORYBOARDS, video_id)
    for blob in clients.storage.list_blobs(bucket_name, prefix=prefix):
        earlier = _revision_of(blob.name, prefix)
        if earlier is not None and (earlier < revision or (earlier == revision and not kept)):
            try:
                blob.delete()
            except gexc.NotFound:  # deleted meanwhile by a later render
                continue
            log.info("superseded storyboard deleted", revision=earlier)


def _revision_of(name: str, prefix: str) -> int | None:
    stem = name.removeprefix(prefix)
    if not (stem.startswith("r") and stem.endswith(".mp4") and stem[1:-4].isascii() and stem[1:-4].isdigit()):
        return None
    return int(stem[1:-4])
