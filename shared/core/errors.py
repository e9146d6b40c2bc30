"""The pipeline's exceptions.

    PipelineError
    ├── TransientError        raise it: the message is redelivered and the step retried
    │   └── NotReadyError     the work is under way elsewhere (e.g. a Veo operation still running)
    └── PermanentError        record the reason, mark the job failed, acknowledge the message
        ├── InvalidInputError bad request or malformed message (HTTP 4xx with `code`)
        ├── ConfigError       a setting is missing or malformed
        └── GenerationError   a model refused or returned unusable output
"""
from __future__ import annotations


class PipelineError(Exception):
    """Base of every error the pipeline raises on purpose."""

    code = "pipeline_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code


class TransientError(PipelineError):
    """Retry later: raising it makes Pub/Sub redeliver."""

    code = "transient"


class NotReadyError(TransientError):
    """The work is under way elsewhere; try again later."""

    code = "not_ready"


class PermanentError(PipelineError):
    """Retrying cannot help: fail the job with this reason."""

    code = "permanent"


class InvalidInputError(PermanentError):
    """A request or message that does not match its schema."""

    code = "invalid_input"

    def __init__(self, message: str, *, code: str = "invalid_input", field: str | None = None) -> None:
        super().__init__(message, code=code)
        self.field = field


class ConfigError(PermanentError):
    """A missing or malformed setting."""

    code = "config_error"


class GenerationError(PermanentError):
    """A model refused the request or returned something unusable."""

    code = "generation_failed"
