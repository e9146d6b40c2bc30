"""The runner's hooks as the pipeline deploys them: a finished job calls its webhook."""
from __future__ import annotations

from shared.core.runner import Hooks
from shared.ops import webhooks

PIPELINE_HOOKS = Hooks(job_ended=webhooks.notify)
