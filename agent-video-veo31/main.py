"""agent-video-veo31: generates a job's Veo 3.1 video, block by block (Pub/Sub: video-requests)."""
import functions_framework
from cloudevents.http import CloudEvent

from shared.core.clients import default_clients
from shared.core.messages import VideoRequest
from shared.core.runner import run_event
from shared.ops.hooks import PIPELINE_HOOKS
from shared.video.step import generate_video


@functions_framework.cloud_event
def video_event(cloud_event: CloudEvent) -> None:
    """Advance the job's Veo chain; re-published until every block is done."""
    run_event(default_clients(), cloud_event, VideoRequest, "agent-video-veo31", "video", generate_video,
              PIPELINE_HOOKS)
