"""Block segments in Cloud Storage: made when a block is announced, fetched by the finish.

A block's announcement (BlockReady, at least once) transcribes it (shared.assembly.block_transcripts)
and then encodes its final picture segment from its Veo clip with the cues heard so far. The segment
files go to segments/{video_id}/block-NN-<key>-<kind>.mp4 and, last, the manifest naming the key and
the picture checks to segments/{video_id}/manifests/block-NN.json: a manifest is only ever written
for files already stored, a duplicate announcement finds the manifest with the same key and stops,
and two concurrent ones write the same key's files. Best effort like the transcripts: whatever goes
wrong here, the finish makes the block itself.
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from shared.assembly import block_transcripts
from shared.assembly.finish import cues_of
from shared.assembly.pictures import PictureResult
from shared.assembly.segments import Encoding
from shared.assembly.streaming import BlockSegment, Look, StoredSegment, expected_key, make_block_segment, spans_of_plan
from shared.core import layout, log, status
from shared.core.clients import Clients
from shared.core.errors import PermanentError
from shared.core.messages import BlockReady
from shared.core.status import Status
from shared.core.storage import download_file, gs_uri, read_json, read_json_under, upload_file, upload_json
from shared.media.ffmpeg import write_thumbnail
from shared.pricing.presets import preset_from_doc
from shared.video import veo

# Until the finish starts (as the transcripts): past `video_generated` the finish makes what is missing itself.
_AHEAD_OF_ASSEMBLY = frozenset({Status.VIDEO_GENERATING.value, Status.VIDEO_GENERATED.value})


def block_arrived(clients: Clients, message: BlockReady) -> str:
    """A finished Veo block: transcribe it, then finish its picture; both ahead of the assembly."""
    heard = block_transcripts.transcribe_block(clients, message)
    made = segment_ahead(clients, message)
    log.info("block handled ahead", block=message.block, transcript=heard, segment=made)
    return made


def look_of(doc: dict[str, Any], script: dict[str, Any]) -> Look:
    """The job's caption style, encoder settings and renditions (from its preset)."""
    preset = preset_from_doc(doc)
    return Look(style=str(script.get("style") or ""), encoding=Encoding(preset.crf, preset.max_bitrate_kbps),
                renditions=tuple(preset.renditions))


def block_sources(doc: dict[str, Any]) -> dict[int, str]:
    """Each done block's Veo clip URI (what its segment key names as its source)."""
    return {int(k): str(b["video_uri"]) for k, b in (doc.get("blocks") or {}).items() if b.get("video_uri")}


def segment_ahead(clients: Clients, message: BlockReady) -> str:
    """Encode one announced block's segment into GCS; idempotent and never fails the job."""
    try:
        return _segment_ahead(clients, message)
    except Exception as exc:  # noqa: BLE001 - best effort by design (see the module's docstring)
        log.warning("block segment not made ahead; the finish will", block=message.block, error=str(exc))
        return "skipped"


def _segment_ahead(clients: Clients, message: BlockReady) -> str:
    video_id, index = message.video_id, message.block
    doc = status.read(clients.db, video_id) or {}
    block = (doc.get("blocks") or {}).get(str(index)) or {}
    spans = {s.block: s for s in spans_of_plan(doc["plan"])} if doc.get("plan") else {}
    if (block.get("state") != "done" or not block.get("video_uri") or index not in spans
            or doc.get("status") not in _AHEAD_OF_ASSEMBLY):
        return "skipped"
    span = spans[index]
    script = {**read_json(clients.storage, doc["script_uri"]), "plan": doc["plan"]}  # as the finish reads it
    language = str(script.get("language") or "en")
    heard = block_transcripts.merge(list(block_transcripts.stored_blocks(clients, video_id).values()), language)
    # the blocks after this one are not heard yet: leave their lines out rather than align them to silence
    cues = cues_of(heard, {**script, "blocks": (script.get("blocks") or [])[:index + 1]})
    look = look_of(doc, script)
    key = expected_key(span, cues, look, str(block["video_uri"]))
    if (_manifest(clients, video_id, index) or {}).get("key") == key:
        return "duplicate"
    with tempfile.TemporaryDirectory(prefix="segment-") as tmp:
        clip = veo.download(clients.genai, clients.storage, block["video_uri"], Path(tmp) / "block.mp4")
        made = make_block_segment(clip, span.start - span.offset, span, cues, look, key, Path(tmp))
        if index == 0:
            thumb = write_thumbnail(clip, Path(tmp) / "thumbnail.jpg")
            upload_file(clients.storage, _uri(clients, layout.segment_thumbnail_path(video_id)), thumb, "image/jpeg")
        store(clients, video_id, index, made)
    log.info("block segment made ahead", block=index, key=key, cues=len(cues))
    return "segmented"


def _uri(clients: Clients, path: str) -> str:
    return gs_uri(clients.settings.bucket, path)


def _manifest(clients: Clients, video_id: str, block: int) -> dict[str, Any] | None:
    try:
        value: dict[str, Any] = read_json(clients.storage, _uri(clients, layout.segment_manifest_path(video_id, block)))
    except PermanentError:
        return None
    return value


def store(clients: Clients, video_id: str, block: int, made: BlockSegment) -> None:
    """Upload a block's segment files, then its manifest (so a manifest always names stored files)."""
    files = {kind: upload_file(clients.storage, _uri(clients, layout.segment_path(video_id, block, made.key, kind)),
                               path, "video/mp4")
             for kind, path in made.files.items()}
    upload_json(clients.storage, _uri(clients, layout.segment_manifest_path(video_id, block)),
                {"block": block, "key": made.key, "files": files, "picture": made.picture.to_doc()})


def stored_segments(clients: Clients, video_id: str, work: Path) -> dict[int, StoredSegment]:
    """The segments stored for a job, by block; their files are downloaded into `work` only when loaded."""
    manifests = read_json_under(clients.storage, _uri(clients, layout.segment_manifests(video_id)))
    out = {}
    for value in manifests.values():
        block = int(value["block"])
        out[block] = StoredSegment(str(value["key"]), PictureResult.from_doc(value["picture"]),
                                   _loader(clients, dict(value["files"]), work / f"block-{block:02d}"))
    return out


def _loader(clients: Clients, files: dict[str, str], folder: Path) -> Any:
    def load() -> dict[str, Path]:
        folder.mkdir(parents=True, exist_ok=True)
        return {kind: download_file(clients.storage, uri, folder / f"{kind}.mp4") for kind, uri in files.items()}
    return load


def stored_thumbnail(clients: Clients, video_id: str, work: Path) -> Path | None:
    """The thumbnail made from block 0 when it arrived, or None."""
    try:
        return download_file(clients.storage, _uri(clients, layout.segment_thumbnail_path(video_id)),
                             work / "thumbnail.jpg")
    except PermanentError:
        return None
