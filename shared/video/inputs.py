"""Images a Veo block starts from: a character's opening frame, or the last frame of the previous segment.

Each is stored at a deterministic path (gs://BUCKET/veo31_frames/{video_id}/…) and reused when it is
already there, so a redelivered message never pays the image model twice.

A Gemini API video downloaded for its last frame is kept in the bucket too (`kept_video_uri`): the Gemini
API deletes generated files after 2 days (contract R1–R2), and the video step delivers the kept copy.
"""
from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from google.api_core import exceptions as gexc

from shared.core import layout, log
from shared.core.clients import Clients
from shared.core.errors import TransientError
from shared.core.storage import gs_uri, split_uri, upload_bytes, upload_file
from shared.video import veo
from shared.video.characters import generate_image
from shared.video.prompts import opening_frame_prompt
from shared.video.segments import last_frame


def frame_uri(clients: Clients, video_id: str, name: str) -> str:
    """Where a job's start frame `name` is kept."""
    return gs_uri(clients.settings.bucket, layout.frame_path(video_id, name))


def _existing(clients: Clients, uri: str) -> bytes | None:
    bucket, path = split_uri(uri)
    try:
        data: bytes = clients.storage.bucket(bucket).blob(path).download_as_bytes()  # storage is untyped here
        return data
    except gexc.NotFound:
        return None
    except gexc.GoogleAPICallError as exc:
        raise TransientError(f"reading {uri} failed: {exc}") from exc


def _read(clients: Clients, uri: str) -> bytes:
    data = _existing(clients, uri)
    if data is None:
        raise TransientError(f"{uri} is missing")
    return data


def opening_frame(clients: Clients, video_id: str, script: dict[str, Any], character: dict[str, Any],
                  before_draw: Callable[[], None] | None = None) -> tuple[bytes, bool]:
    """Block 1's opening frame showing the character in its scene; (PNG, whether the image model was called).
    `before_draw` runs before the (paid) image call, e.g. the job's budget guard."""
    uri = frame_uri(clients, video_id, "opening")
    found = _existing(clients, uri)
    if found is not None:
        return found, False
    if before_draw is not None:
        before_draw()
    portrait = _read(clients, character["image_uri"])
    png = generate_image(clients.genai, clients.settings.image_model, opening_frame_prompt(script, character),
                         [portrait], aspect_ratio=veo.VERTICAL)
    upload_bytes(clients.storage, uri, png, "image/png")
    log.info("opening frame composed", uri=uri)
    return png, True


def kept_video_uri(clients: Clients, video_id: str, block: int) -> str:
    """Where the bucket keeps a copy of block `block`'s Gemini API video (a segment's whole video)."""
    return gs_uri(clients.settings.bucket, f"{layout.job_folder(layout.VEO_BLOCKS, video_id)}kept/b{block:02d}.mp4")


def kept_video(clients: Clients, video_id: str, block: int) -> str | None:
    """The kept copy of block `block`'s video, when there is one."""
    uri = kept_video_uri(clients, video_id, block)
    bucket, path = split_uri(uri)
    try:
        return uri if clients.storage.bucket(bucket).blob(path).exists() else None
    except gexc.GoogleAPICallError as exc:
        raise TransientError(f"checking {uri} failed: {exc}") from exc


def segment_start_frame(clients: Clients, video_id: str, block: int, previous_video_uri: str) -> bytes:
    """The last frame of block `block - 1`'s video (the previous segment's), which starts block `block`.

    A Gemini API video is downloaded while it still exists and kept in the bucket; one that is gone fails the
    job with `veo_input_expired` (shared.video.veo.download)."""
    uri = frame_uri(clients, video_id, f"block-{block}")
    found = _existing(clients, uri)
    if found is not None:
        return found
    with tempfile.TemporaryDirectory(prefix="frame-") as tmp:
        video = veo.download(clients.genai, clients.storage, previous_video_uri, Path(tmp) / "previous.mp4")
        if not previous_video_uri.startswith("gs://"):
            upload_file(clients.storage, kept_video_uri(clients, video_id, block - 1), video, "video/mp4")
        png = last_frame(video, Path(tmp) / "last.png").read_bytes()
    upload_bytes(clients.storage, uri, png, "image/png")
    return png
