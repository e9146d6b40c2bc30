"""agent-assembler: subtitles, music, upscale and encode of a job's Veo video (Pub/Sub: assembly-requests)."""
import functions_framework
from cloudevents.http import CloudEvent

from shared.assembly.step import handle
from shared.core.clients import default_clients
from shared.core.messages import AssemblyRequest, BlockReady
from shared.core.runner import run_event
from shared.ops.hooks import PIPELINE_HOOKS


@functions_framework.cloud_event
def assemble_event(cloud_event: CloudEvent) -> None:
    """Transcribe a finished Veo block ahead, or assemble the delivered short and hand it to QA."""
    run_event(default_clients(), cloud_event, (AssemblyRequest, BlockReady), "agent-assembler", "assemble", handle,
              PIPELINE_HOOKS)
