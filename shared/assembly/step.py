"""agent-assembler's step: turn the stored Veo video into the delivered short and hand it to QA."""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from shared.assembly import block_transcripts, segment_store
from shared.assembly.finish import DIALOGUE_NAME, Deliverables, produce_deliverables
from shared.assembly.renditions import write_rendition
from shared.assembly.streaming import FinishInputs, StreamedDeliverables, finish_streamed, spans_of_plan
from shared.core import layout, lease, log, status
from shared.core.clients import Clients
from shared.core.errors import IllegalTransition, LeaseHeld
from shared.core.job import require_job
from shared.core.messages import AssemblyRequest, BlockReady, QaRequest
from shared.core.pubsub import publish
from shared.core.status import Status
from shared.core.storage import download_file, gs_uri, read_json, upload_file
from shared.pricing.presets import Preset, preset_from_doc
from shared.video.segments import join_segments

ASSEMBLING = frozenset({Status.ASSEMBLING})
_STARTABLE = frozenset({Status.VIDEO_GENERATED, Status.QA_FAILED})


def handle(clients: Clients, message: AssemblyRequest | BlockReady) -> str:
    """agent-assembler's one entry: a finished Veo block to transcribe and encode ahead, or a job to assemble."""
    if isinstance(message, BlockReady):
        return segment_store.block_arrived(clients, message)
    return assemble(clients, message)


def assemble(clients: Clients, message: AssemblyRequest) -> str:
    """Assemble a job once; duplicates and late messages are acknowledged without work."""
    owner = lease.new_owner()
    doc = _claim(clients, message.video_id, owner)
    if doc is None:
        return "duplicate"
    try:
        outputs = _produce(clients, doc)
    except BaseException:
        lease.release(clients.db, message.video_id, ASSEMBLING, owner, retry_in=0)
        raise
    try:
        status.transition(clients.db, message.video_id, Status.ASSEMBLED,
                          {**outputs, "lease": None,
                           "next_attempt_at": lease.after(clients.settings.stuck_after_seconds)})
    except IllegalTransition:
        log.info("duplicate: job assembled by another invocation")
        return "duplicate"
    publish(clients.publisher, clients.settings, QaRequest(video_id=message.video_id))
    return "assembled"


def _claim(clients: Clients, video_id: str, owner: str) -> dict[str, Any] | None:
    """Enter `assembling` holding the lease; None when another invocation has it or the job is past it."""
    job = require_job(clients.db, video_id)
    current = job.status
    seconds, grace = clients.settings.assembly_lease_seconds, clients.settings.lease_grace_seconds
    fields = lease.lease_fields(owner, seconds, grace)
    try:
        if current in _STARTABLE:
            return status.transition(clients.db, video_id, Status.ASSEMBLING, fields,
                                     allowed_from=_STARTABLE).document
        if current == Status.ASSEMBLING:
            return lease.claim(clients.db, video_id, ASSEMBLING, owner, seconds, grace)
    except LeaseHeld:
        log.info("another invocation is assembling this job")
        return None
    except IllegalTransition:
        pass
    log.info("duplicate message: job not waiting for assembly", current=current.value)
    return None


def _produce(clients: Clients, doc: dict[str, Any]) -> dict[str, Any]:
    """Download inputs, run the media pipeline, upload the deliverables; the fields for the document."""
    video_id = doc["video_id"]
    with tempfile.TemporaryDirectory(prefix="assemble-") as tmp:
        work = Path(tmp)
        veo_video = _veo_video(clients, doc, work)
        script = {**read_json(clients.storage, doc["script_uri"]), "plan": doc.get("plan")}
        preset = preset_from_doc(doc)
        language = str(script.get("language") or "en")
        heard: dict[str, Any] = {}  # job_transcript reports here how many stored blocks it reused
        if doc.get("plan"):
            return _produce_streamed(clients, doc, work, veo_video, script, preset)
        result = produce_deliverables(veo_video, script, work / "out", music_track=doc.get("music"),
                                      crf=preset.crf, music_volume=clients.settings.music_volume,
                                      target_lufs=loudness_target(doc, preset),
                                      max_bitrate_kbps=preset.max_bitrate_kbps,
                                      hear=lambda: block_transcripts.job_transcript(clients, doc, veo_video,
                                                                                    language, heard))
        summary = _summary(result)
        summary["assembly"].update(heard)
        return {**_upload(clients, video_id, result, preset), **_renditions(clients, video_id, result, preset),
                **summary}


def _produce_streamed(clients: Clients, doc: dict[str, Any], work: Path, veo_video: Path, script: dict[str, Any],
                      preset: Preset) -> dict[str, Any]:
    """The streaming finish: the blocks' stored segments (made again where stale or missing) joined, the
    whole timeline's sound built and muxed in."""
    video_id, language = doc["video_id"], str(script.get("language") or "en")
    heard: dict[str, Any] = {}
    inputs = FinishInputs(veo_video, script, spans_of_plan(doc["plan"]), segment_store.look_of(doc, script),
                          segment_store.block_sources(doc), music_track=doc.get("music"),
                          music_volume=clients.settings.music_volume, target_lufs=loudness_target(doc, preset),
                          veo_segments=_veo_segments(doc, work, veo_video))
    result = finish_streamed(
        inputs, work / "out", hear=lambda: block_transcripts.job_transcript(clients, doc, veo_video, language, heard),
        stored=segment_store.stored_segments(clients, video_id, work / "stored"),
        thumbnail=segment_store.stored_thumbnail(clients, video_id, work),
        on_made=lambda span, made: segment_store.store(clients, video_id, span.block, made))
    summary = _summary(result)
    summary["assembly"].update(heard, segments_reused=result.segments_reused)
    return {**_upload(clients, video_id, result, preset), **_streamed_renditions(clients, video_id, result),
            **summary, "picture": {"blocks": [p.to_doc() for p in result.pictures], "joins": result.joins}}


def _veo_segments(doc: dict[str, Any], work: Path, veo_video: Path) -> tuple[Path, ...]:
    """The Veo segment files _veo_video downloaded (the joined video itself when there is one)."""
    count = len(doc.get("veo_segment_uris") or [])
    return tuple(_segment_files(work, count)) if count > 1 else (veo_video,)


def _streamed_renditions(clients: Clients, video_id: str, result: StreamedDeliverables) -> dict[str, Any]:
    if not result.renditions:
        return {}
    return {"rendition_urls": {
        name: upload_file(clients.storage, gs_uri(clients.settings.bucket, layout.rendition_path(video_id, name)),
                          local, "video/mp4") for name, local in result.renditions.items()}}


def loudness_target(doc: dict[str, Any], preset: Preset) -> float:
    """The mix's loudness target: the preset's, or the corrected one of a remedial re-assembly."""
    corrected = (doc.get("remedial") or {}).get("loudness_target_lufs")
    return float(corrected) if corrected is not None else preset.loudness_lufs


def _renditions(clients: Clients, video_id: str, result: Deliverables, preset: Preset) -> dict[str, Any]:
    """Encode and upload the preset's extra renditions; their URLs by name."""
    if not preset.renditions:
        return {}
    urls = {}
    for rendition in preset.renditions:
        local = write_rendition(result.final_video, rendition, result.final_video.with_name(f"{rendition.name}.mp4"))
        uri = gs_uri(clients.settings.bucket, layout.rendition_path(video_id, rendition.name))
        urls[rendition.name] = upload_file(clients.storage, uri, local, "video/mp4")
    return {"rendition_urls": urls}


def _veo_video(clients: Clients, doc: dict[str, Any], work: Path) -> Path:
    """The job's Veo video: one file, or its segments joined losslessly (packet copy) into one."""
    segments = doc.get("veo_segment_uris") or [doc["veo_video_uri"]]
    if len(segments) == 1:
        return download_file(clients.storage, segments[0], work / "veo.mp4")
    parts = _segment_files(work, len(segments))
    for uri, part in zip(segments, parts):
        download_file(clients.storage, uri, part)
    method = join_segments(parts, work / "veo.mp4")
    log.info("veo segments joined", segments=len(parts), method=method)
    return work / "veo.mp4"


def _segment_files(work: Path, count: int) -> list[Path]:
    """Where _veo_video keeps a multi-segment job's Veo segment files."""
    return [work / f"segment-{i}.mp4" for i in range(count)]


def _upload(clients: Clients, video_id: str, result: Deliverables, preset: Preset) -> dict[str, str]:
    """Upload the final video, thumbnail and the subtitle formats the preset delivers; their URLs."""
    bucket = clients.settings.bucket
    store = clients.storage
    urls = {
        "final_video_url": upload_file(store, gs_uri(bucket, layout.final_video_path(video_id)),
                                       result.final_video, "video/mp4"),
        "thumbnail_url": upload_file(store, gs_uri(bucket, layout.thumbnail_path(video_id)),
                                     result.thumbnail, "image/jpeg"),
    }
    if "srt" in preset.subtitle_formats:
        urls["srt_url"] = upload_file(store, gs_uri(bucket, layout.subtitles_path(video_id, "srt")), result.srt,
                                      "application/x-subrip")
    dialogue = result.srt.with_name(DIALOGUE_NAME)  # the dialogue report QA reads (not delivered)
    if dialogue.is_file():
        upload_file(store, gs_uri(bucket, layout.dialogue_path(video_id)), dialogue, "application/json")
    if "vtt" in preset.subtitle_formats:
        urls["vtt_url"] = upload_file(store, gs_uri(bucket, layout.subtitles_path(video_id, "vtt")), result.vtt,
                                      "text/vtt")
    return urls


def _summary(result: Deliverables) -> dict[str, Any]:
    return {
        "duration": round(result.duration, 3),
        "assembly": {"cues": result.cue_count, "words_transcribed": result.words_transcribed,
                     "loudness_lufs": result.loudness_lufs, "true_peak_dbtp": result.true_peak_dbtp,
                     "timings": result.timings},
    }
