"""Where things live: every Firestore collection and every Cloud Storage path of the pipeline.

One source: the code, the deletion of a video, the bucket's lifecycle rules and the deploy script all
read these names, so a new kind of file is added here once.
"""
from __future__ import annotations

# --- Firestore collections ------------------------------------------------------------------------
VIDEO_STATUS = "video_status"
USERS = "users"
API_KEYS = "api_keys"
USER_QUOTAS = "quotas"
VEO_LIMITER = "veo_limiter"  # project-wide Veo quota; its own collection so no user id can collide with it
CHARACTERS = "characters"
SCRIPT_CACHE = "script_cache"
IDEMPOTENCY_KEYS = "idempotency_keys"  # POST /videos retries: {owner, body_sha256, response, expires_at (TTL)}
WEBHOOK_DELIVERIES = "webhook_deliveries"
DEAD_LETTERS = "dead_letters"
USER_SPEND = "user_spend"  # each user's Veo spend of the day and month (shared.pricing.spend)
PROJECT_SPEND = "project_spend"  # the project's Veo spend per UTC day (shared.pricing.spend)
SSE_STREAMS = "sse_streams"  # each user's open progress streams, with leases (shared.api.progress)

# --- Cloud Storage: one object per job ------------------------------------------------------------


def script_path(video_id: str) -> str:
    return f"scripts/{video_id}.json"


def final_video_path(video_id: str) -> str:
    return f"final_videos/{video_id}.mp4"


def thumbnail_path(video_id: str) -> str:
    return f"thumbnails/{video_id}.jpg"


def subtitles_path(video_id: str, extension: str) -> str:
    return f"subtitles/{video_id}.{extension}"


def qa_report_path(video_id: str, extension: str) -> str:
    return f"qa_reports/{video_id}.{extension}"


def character_portrait_path(character_id: str) -> str:
    return f"characters/{character_id}.png"


def music_path(file_name: str) -> str:
    return f"music/{file_name}"


# --- Cloud Storage: per-job folders ----------------------------------------------------------------
VEO_VIDEOS = "veo31_videos"
VEO_BLOCKS = "veo31_blocks"
VEO_FRAMES = "veo31_frames"
RENDITIONS = "renditions"
STORYBOARDS = "storyboards"
TRANSCRIPTS = "transcripts"
SEGMENTS = "segments"  # each block's finished picture, encoded while Veo makes the next (shared.assembly.streaming)
# Folders holding one job's files, each under `<folder>/<video_id>/` (all deleted with the video).
JOB_FOLDERS: tuple[str, ...] = (VEO_VIDEOS, VEO_BLOCKS, VEO_FRAMES, RENDITIONS, STORYBOARDS, TRANSCRIPTS,
                                  SEGMENTS)
# Delivered folders (signed URLs while the video exists); every other job folder is intermediate: it expires.
DELIVERED_JOB_FOLDERS: tuple[str, ...] = (RENDITIONS,)
INTERMEDIATE_JOB_FOLDERS: tuple[str, ...] = tuple(f for f in JOB_FOLDERS if f not in DELIVERED_JOB_FOLDERS)


def job_folder(folder: str, video_id: str) -> str:
    """The prefix of one job's files in one of JOB_FOLDERS (ends with a slash)."""
    if folder not in JOB_FOLDERS:
        raise ValueError(f"{folder!r} is not a per-job folder")
    return f"{folder}/{video_id}/"


def veo_video_path(video_id: str, segment: int | None = None) -> str:
    """The joined Veo video of a job (one chain) or of one of its segments (numbered from 0)."""
    if segment is None:
        return f"{VEO_VIDEOS}/{video_id}.mp4"
    return f"{job_folder(VEO_VIDEOS, video_id)}segment-{segment}.mp4"


def veo_block_prefix(video_id: str, index: int, attempt: int) -> str:
    """Vertex AI writes attempt `attempt` of block `index` here (deterministic, so a crash can adopt it)."""
    return f"{job_folder(VEO_BLOCKS, video_id)}b{index:02d}-a{attempt}/"


def frame_path(video_id: str, name: str) -> str:
    return f"{job_folder(VEO_FRAMES, video_id)}{name}.png"


def rendition_path(video_id: str, name: str) -> str:
    return f"{job_folder(RENDITIONS, video_id)}{name}.mp4"


def storyboard_path(video_id: str, revision: int) -> str:
    return f"{job_folder(STORYBOARDS, video_id)}r{revision}.mp4"


def transcript_path(video_id: str, block: int) -> str:
    return f"{job_folder(TRANSCRIPTS, video_id)}block-{block:02d}.json"


def dialogue_path(video_id: str) -> str:
    """The assembler's dialogue report (each block's verdict, the raw transcript) that QA judges."""
    return f"{job_folder(TRANSCRIPTS, video_id)}dialogue.json"


def segment_path(video_id: str, block: int, key: str, kind: str = "final") -> str:
    """Block `block`'s picture segment (`kind`: final, or a rendition's name) made from inputs digested as `key`."""
    return f"{job_folder(SEGMENTS, video_id)}block-{block:02d}-{key}-{kind}.mp4"


def segment_manifests(video_id: str) -> str:
    """The folder of a job's segment manifests (JSON only, so it can be listed and parsed as a whole)."""
    return f"{job_folder(SEGMENTS, video_id)}manifests/"


def segment_manifest_path(video_id: str, block: int) -> str:
    """What block `block`'s stored segment was made from (its key) and its picture measurements."""
    return f"{segment_manifests(video_id)}block-{block:02d}.json"


def segment_thumbnail_path(video_id: str) -> str:
    """The thumbnail taken from block 0 when it arrived."""
    return f"{job_folder(SEGMENTS, video_id)}thumbnail.jpg"


def job_prefixes(video_id: str) -> list[str]:
    """Every per-job folder of `video_id` (what deleting a video lists and removes)."""
    return [job_folder(folder, video_id) for folder in JOB_FOLDERS]

