"""The pipeline's exceptions and error codes: one tree, and one enum of codes that carries each HTTP status.

    PipelineError
    ├── TransientError        raise it: the message is redelivered and the step retried
    │   ├── VeoBusy           every Veo model stayed exhausted (429/5xx) past its retry budget
    │   ├── QuotaWait         the project's Veo quota stayed taken for the whole wait
    │   └── SpendHold         the project's Veo spend of the day is used up: the job waits (shared.pricing.spend)
    ├── PermanentError        record the reason, mark the job failed, acknowledge the message
    │   ├── InvalidInputError bad request or malformed message (HTTP 4xx with `code`)
    │   │   ├── Unauthenticated   no or unverifiable credentials (401)
    │   │   ├── QuotaError        over a quota or rate limit (429, with retry_after)
    │   │   │   └── SpendLimit    over the plan's daily or monthly Veo spend (429 spend_limit, with the allowance)
    │   │   └── OverBudget        the request's max_cost_usd refuses it (422, with the estimates)
    │   ├── BudgetExhausted   a running job's next paid call would pass its max_cost_usd (over_budget + receipt)
    │   ├── ConfigError       a setting is missing or malformed
    │   └── GenerationError   a model refused or returned unusable output
    └── Conflict              someone else got there first: stop quietly, nothing to record
        ├── IllegalTransition the job's status forbids the transition (shared.core.status)
        ├── LeaseHeld         another live invocation holds the job's lease (shared.core.lease)
        └── Superseded        another invocation changed a Veo block under us (shared.video.step)
"""
from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    """Every error code the pipeline records or answers, with its HTTP status (`http_status`)."""

    # requests: 400 unless stated
    INVALID_INPUT = "invalid_input"
    INVALID_BODY = "invalid_body"
    INVALID_JSON = "invalid_json"
    UNKNOWN_FIELD = "unknown_field"
    INVALID_BLOCKS = "invalid_blocks"
    INVALID_CALLBACK_URL = "invalid_callback_url"
    INVALID_DURATION = "invalid_duration"
    INVALID_MUSIC = "invalid_music"
    INVALID_PAGE_TOKEN = "invalid_page_token"
    INVALID_PLAN = "invalid_plan"
    INVALID_PRESET = "invalid_preset"
    INVALID_TTL = "invalid_ttl"
    INVALID_USER_ID = "invalid_user_id"
    BODY_TOO_LARGE = "body_too_large"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    UNEXPECTED_BODY = "unexpected_body"
    UNAUTHENTICATED = "unauthenticated"
    ORIGIN_NOT_ALLOWED = "origin_not_allowed"
    NOT_FOUND = "not_found"
    CHARACTER_NOT_FOUND = "character_not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    VIDEO_IN_PROGRESS = "video_in_progress"
    NOT_AWAITING_APPROVAL = "not_awaiting_approval"
    NO_REVIEW = "no_review"
    REVISION_LIMIT = "revision_limit"
    OVER_BUDGET = "over_budget"
    QUOTA_EXCEEDED = "quota_exceeded"
    RATE_LIMITED = "rate_limited"
    SPEND_LIMIT = "spend_limit"
    PRESET_NOT_IN_PLAN = "preset_not_in_plan"
    TOO_MANY_STREAMS = "too_many_streams"
    INVALID_IDEMPOTENCY_KEY = "invalid_idempotency_key"
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
    IDEMPOTENCY_KEY_IN_PROGRESS = "idempotency_key_in_progress"
    # messages (dead-lettered, never answered over HTTP)
    MALFORMED_MESSAGE = "malformed_message"
    MESSAGE_TOO_LARGE = "message_too_large"
    UNSUPPORTED_SCHEMA = "unsupported_schema"
    WRONG_MESSAGE_KIND = "wrong_message_kind"
    UNEXPECTED_EVENT = "unexpected_event"
    UNKNOWN_JOB = "unknown_job"
    # jobs: failures recorded on the status document
    PIPELINE_ERROR = "pipeline_error"
    TRANSIENT = "transient"
    PERMANENT = "permanent"
    CONFIG_ERROR = "config_error"
    MISSING_TOOL = "missing_tool"
    GENERATION_FAILED = "generation_failed"
    SCRIPT_GENERATION_FAILED = "script_generation_failed"
    INVALID_SCRIPT = "invalid_script"
    IMAGE_GENERATION_FAILED = "image_generation_failed"
    VEO_BUSY = "veo_busy"
    VEO_QUOTA_WAIT = "veo_quota_wait"
    SPEND_HOLD = "spend_hold"
    VEO_INVALID_REQUEST = "veo_invalid_request"
    VEO_REJECTED = "veo_rejected"
    VEO_FAILED = "veo_failed"
    VEO_SAFETY_FILTERED = "veo_safety_filtered"
    VEO_SUBMISSION_UNKNOWN = "veo_submission_unknown"
    VEO_OPERATION_DEADLINE = "veo_operation_deadline"
    VEO_INPUT_EXPIRED = "veo_input_expired"
    BAD_MEDIA = "bad_media"
    MISSING_MEDIA = "missing_media"
    MISSING_MUSIC = "missing_music"
    MISSING_FONT = "missing_font"
    MISSING_GLYPHS = "missing_glyphs"
    NO_FRAMES = "no_frames"
    FFMPEG_FAILED = "ffmpeg_failed"
    FFMPEG_TIMEOUT = "ffmpeg_timeout"
    LOUDNESS_UNMEASURED = "loudness_unmeasured"
    QA_FAILED = "qa_failed"
    RETRIES_EXHAUSTED = "retries_exhausted"
    PUBLISH_FAILED = "publish_failed"
    DEAD_LETTERED = "dead_lettered"
    CONFLICT = "conflict"
    # answers of the front door when something behind it fails
    UPSTREAM_UNAVAILABLE = "upstream_unavailable"
    INTERNAL = "internal"

    @property
    def http_status(self) -> int:
        return _HTTP_STATUS.get(self, 400 if self in _REQUEST_CODES else 500)


_HTTP_STATUS: dict[ErrorCode, int] = {
    ErrorCode.BODY_TOO_LARGE: 413, ErrorCode.UNSUPPORTED_MEDIA_TYPE: 415, ErrorCode.UNAUTHENTICATED: 401,
    ErrorCode.ORIGIN_NOT_ALLOWED: 403, ErrorCode.NOT_FOUND: 404, ErrorCode.CHARACTER_NOT_FOUND: 404,
    ErrorCode.METHOD_NOT_ALLOWED: 405, ErrorCode.VIDEO_IN_PROGRESS: 409, ErrorCode.NOT_AWAITING_APPROVAL: 409,
    ErrorCode.NO_REVIEW: 409, ErrorCode.REVISION_LIMIT: 409, ErrorCode.OVER_BUDGET: 422, ErrorCode.QUOTA_EXCEEDED: 429,
    ErrorCode.RATE_LIMITED: 429, ErrorCode.UPSTREAM_UNAVAILABLE: 503,
    # 429, not 402: RFC 9110 section 15.5.3 reserves 402 "for future use"; 429 (RFC 6585) carries Retry-After,
    # the time until the day's or month's allowance resets, as quota_exceeded does.
    ErrorCode.SPEND_LIMIT: 429, ErrorCode.TOO_MANY_STREAMS: 429, ErrorCode.PRESET_NOT_IN_PLAN: 403,
    ErrorCode.INTERNAL: 500,
    ErrorCode.SCRIPT_GENERATION_FAILED: 502, ErrorCode.INVALID_SCRIPT: 502, ErrorCode.IMAGE_GENERATION_FAILED: 502,
    ErrorCode.GENERATION_FAILED: 502,
    ErrorCode.IDEMPOTENCY_KEY_REUSED: 422, ErrorCode.IDEMPOTENCY_KEY_IN_PROGRESS: 409,
}
_REQUEST_CODES = frozenset(list(ErrorCode)[:list(ErrorCode).index(ErrorCode.MALFORMED_MESSAGE)])


def http_status_of(code: str) -> int:
    """The HTTP status of an error code; a field's validation code (`invalid_<field>`) is a 400."""
    try:
        return ErrorCode(code).http_status
    except ValueError:
        return 400


class PipelineError(Exception):
    """Base of every error the pipeline raises on purpose."""

    code: str = ErrorCode.PIPELINE_ERROR

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = str(code or type(self).code)  # a plain string on the instance: logs, JSON and Firestore


class TransientError(PipelineError):
    """Retry later: raising it makes Pub/Sub redeliver."""

    code = ErrorCode.TRANSIENT


class VeoBusy(TransientError):
    """Every model stayed exhausted (429/5xx) past its retry budget; nothing was billed."""

    code = ErrorCode.VEO_BUSY

    def __init__(self, message: str, retries: int) -> None:
        super().__init__(message)
        self.retries = retries


class QuotaWait(TransientError):
    """The Veo quota stayed taken for the whole wait: try again later (nothing was submitted)."""

    code = ErrorCode.VEO_QUOTA_WAIT


class PermanentError(PipelineError):
    """Retrying cannot help: fail the job with this reason."""

    code = ErrorCode.PERMANENT


class InvalidInputError(PermanentError):
    """A request or message that does not match its schema."""

    code = ErrorCode.INVALID_INPUT

    def __init__(self, message: str, *, code: str = ErrorCode.INVALID_INPUT, field: str | None = None) -> None:
        super().__init__(message, code=code)
        self.field = field


class Unauthenticated(InvalidInputError):
    """No credentials, or credentials that do not verify (HTTP 401)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code=ErrorCode.UNAUTHENTICATED)


class QuotaError(InvalidInputError):
    """The request is over a limit; retry after `retry_after` seconds (HTTP 429)."""

    def __init__(self, message: str, *, code: str, retry_after: int) -> None:
        super().__init__(message, code=code)
        self.retry_after = max(1, retry_after)


class SpendLimit(QuotaError):
    """Over the plan's daily or monthly Veo spend (HTTP 429 `spend_limit`); carries what is left."""

    def __init__(self, message: str, *, retry_after: int, allowance: dict[str, Any]) -> None:
        super().__init__(message, code=ErrorCode.SPEND_LIMIT, retry_after=retry_after)
        self.allowance = allowance


class OverBudget(InvalidInputError):
    """The request's max_cost_usd refuses it; carries every preset's estimate."""

    def __init__(self, message: str, estimates: dict[str, dict[str, Any]]) -> None:
        super().__init__(message, code=ErrorCode.OVER_BUDGET, field="max_cost_usd")
        self.estimates = estimates


class BudgetExhausted(PermanentError):
    """A running job's billed cost plus its next paid call would pass its max_cost_usd: it stops, and the
    failure records `status_fields` (its receipt) with the reason."""

    code = ErrorCode.OVER_BUDGET

    def __init__(self, message: str, receipt: dict[str, Any]) -> None:
        super().__init__(message)
        self.status_fields: dict[str, Any] = {"receipt": receipt}


class SpendHold(TransientError):
    """The project's Veo spend of the UTC day is used up: nothing was submitted; the job waits, it does not fail."""

    code = ErrorCode.SPEND_HOLD


class ConfigError(PermanentError):
    """A missing or malformed setting."""

    code = ErrorCode.CONFIG_ERROR


class GenerationError(PermanentError):
    """A model refused the request or returned something unusable."""

    code = ErrorCode.GENERATION_FAILED


class Conflict(PipelineError):
    """Another writer got there first; the caller stops quietly (nothing to retry, nothing to record)."""

    code = ErrorCode.CONFLICT


class IllegalTransition(Conflict):
    """The document is not in a status from which the requested transition is legal."""

    def __init__(self, video_id: str, current: Any, target: Any) -> None:
        current_value = getattr(current, "value", current)
        super().__init__(f"{video_id}: cannot go from {current_value} to {getattr(target, 'value', target)}")
        self.current = current
        self.target = target


class LeaseHeld(Conflict):
    """Another live invocation holds the job's lease."""


class Superseded(Conflict):
    """Another invocation changed the block under us (our lease expired): stop without touching it."""
