"""agent-assembler: subtitles, music, upscale and encode of a job's Veo video (Pub/Sub: assembly-requests)."""
import functions_framework
from cloudevents.http import CloudEvent

from shared.assemble_step import handle
from shared.clients import default_clients
from shared.messages import AssemblyRequest, BlockReady
from shared.steps import run_event


@functions_framework.cloud_event
def assemble_event(cloud_event: CloudEvent) -> None:
    """Transcribe a finished Veo block ahead, or assemble the delivered short and hand it to QA."""
    run_event(default_clients(), cloud_event, (AssemblyRequest, BlockReady), "agent-assembler", "assemble", handle)
