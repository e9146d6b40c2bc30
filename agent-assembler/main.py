"""agent-assembler: subtitles, music, upscale and encode of a job's Veo video (Pub/Sub: assembly-requests).
Its second entry point, `render_storyboard`, is the storyboard function (Pub/Sub: storyboard-requests), deployed
as agent-assembler-storyboards."""
import functions_framework
from cloudevents.http import CloudEvent

from shared.assembly.step import handle
from shared.assembly.storyboard import render_storyboard as render_preview
from shared.core.clients import default_clients
from shared.core.messages import AssemblyRequest, BlockReady, StoryboardRequest
from shared.core.runner import run_event
from shared.ops.hooks import PIPELINE_HOOKS


@functions_framework.cloud_event
def assemble_event(cloud_event: CloudEvent) -> None:
    """Transcribe a finished Veo block ahead, or assemble the delivered short and hand it to QA."""
    run_event(default_clients(), cloud_event, (AssemblyRequest, BlockReady), "agent-assembler", "assemble", handle,
              PIPELINE_HOOKS)


@functions_framework.cloud_event
def render_storyboard(cloud_event: CloudEvent) -> None:
    """Render a reviewed job's storyboard preview for one script revision (its failure never fails the job)."""
    run_event(default_clients(), cloud_event, StoryboardRequest, "agent-assembler", "storyboard", render_preview)
