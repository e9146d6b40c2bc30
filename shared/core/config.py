"""Configuration: every environment variable the pipeline reads, read here and nowhere else.

Defaults run the local cloud (`PIPELINE_ENV=local`). With `PIPELINE_ENV=production` the settings
that have no safe default must be present, and `load_settings()` fails naming the missing one.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache

from shared.core.errors import ConfigError

# The API modes and the Veo model table live in shared.core.veo_models; re-exported here.
from shared.core.veo_models import GEMINI_API as GEMINI_API
from shared.core.veo_models import VEO_MODELS as VEO_MODELS
from shared.core.veo_models import VERTEX as VERTEX
from shared.core.veo_models import default_veo_model as default_veo_model

LOCAL_PROJECT = "demo-veo-pipeline"
# Every environment variable settings_from_env (so load_settings) reads; tests/unit/core/test_config_variables.py
# keeps it exact. The local cloud passes these through to its processes.
ENVIRONMENT_VARIABLES: tuple[str, ...] = (
    "PIPELINE_ENV", "GENAI_MODE", "GOOGLE_CLOUD_PROJECT", "PIPELINE_BUCKET", "GEMINI_API_KEY",
    "GEMINI_API_KEY_REQUIRED", "GENAI_BASE_URL",
    "LOCAL_FIRESTORE_PORT", "LOCAL_PUBSUB_PORT", "LOCAL_GCS_PORT", "LOCAL_SIMULATOR_PORT", "LOCAL_AGENTS_BASE_PORT",
    "VERTEX_LOCATION", "SCRIPT_MODEL", "VEO_MODEL", "VEO_FALLBACK_MODEL", "IMAGE_MODEL", "VERTEX_OUTPUT_PREFIX",
    "TTS_MODEL", "TTS_VOICE",
    "VEO_RETRY_ATTEMPTS", "VEO_RETRY_MAX_WAIT_SECONDS", "VEO_ORPHAN_SECONDS", "VEO_POLL_SECONDS",
    "VEO_REQUESTS_PER_MINUTE", "VEO_MAX_CONCURRENT", "VEO_QUOTA_WINDOW_SECONDS", "INVOCATION_BUDGET_SECONDS",
    "MUSIC_VOLUME", "WHISPER_MODEL_DIR", "STATUS_BASE_URL", "STUCK_AFTER_SECONDS", "MAX_MONITOR_RETRIES",
    "MONITOR_BACKOFF_SECONDS", "LEASE_GRACE_SECONDS", "VIDEO_LEASE_MARGIN_SECONDS", "ASSEMBLY_LEASE_SECONDS",
    "PIPELINE_TOPIC_PREFIX", "FIRESTORE_DATABASE", "GENAI_TIMEOUT_SECONDS", "VEO_AUDIO_RETRIES",
    "VEO_OPERATION_DEADLINE_SECONDS", "GENAI_FILE_RETENTION_SECONDS",
    "AUTH_MODE", "AUTH_AUDIENCE", "AUTH_SERVICE_ACCOUNTS", "AUTH_CERTS_URL",
    "CORS_ORIGINS", "DEFAULT_PLAN", "RATE_LIMIT_WINDOW_SECONDS", "SIGNED_URL_SECONDS",
    "SIGNING_KEY_FILE", "SIGNED_URL_ENDPOINT", "WEBHOOK_ALLOWED_NETWORKS", "WEBHOOK_ATTEMPTS",
    "WEBHOOK_BACKOFF_SECONDS", "SCRIPT_CACHE_DAYS",
    "SSE_MAX_SECONDS", "SSE_STREAMS_PER_USER", "PROJECT_VEO_USD_PER_DAY",
)


@dataclass(frozen=True)
class LocalPorts:
    """Loopback ports of the local cloud (each overridable by its environment variable)."""

    firestore: int = 8081
    pubsub: int = 8085
    gcs: int = 4443
    simulator: int = 8090
    agents_base: int = 8091  # agent i listens on agents_base + i, in shared.core.topics order

    @property
    def studio(self) -> int:
        """The studio web front end's port: just below the agents, so every offset stack moves it too."""
        return self.agents_base - 3

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> LocalPorts:
        return cls(
            firestore=int(env.get("LOCAL_FIRESTORE_PORT", cls.firestore)),
            pubsub=int(env.get("LOCAL_PUBSUB_PORT", cls.pubsub)),
            gcs=int(env.get("LOCAL_GCS_PORT", cls.gcs)),
            simulator=int(env.get("LOCAL_SIMULATOR_PORT", cls.simulator)),
            agents_base=int(env.get("LOCAL_AGENTS_BASE_PORT", cls.agents_base)),
        )


@dataclass(frozen=True)
class Settings:
    """Typed pipeline settings."""

    environment: str = "local"
    project: str = LOCAL_PROJECT
    bucket: str = f"{LOCAL_PROJECT}-media"
    genai_mode: str = GEMINI_API
    gemini_api_key: str = "local-simulator-key"
    genai_base_url: str | None = "http://127.0.0.1:8090"
    vertex_location: str = "us-central1"
    script_model: str = "gemini-3.8-flash"  # contract M5: gemini-2.5-flash is retired
    veo_model: str = "veo-3.1-generate-preview"
    veo_fallback_model: str | None = None  # takes over when the primary stays exhausted (429/5xx)
    image_model: str = "gemini-3.1-flash-image"  # characters' portraits and opening frames (contract M7)
    tts_model: str = "gemini-3.8-flash-lite-tts"  # storyboard speech (contract M8, T1-T8)
    tts_voice: str = "Kore"  # one of the 30 prebuilt voices (contract T4)
    genai_timeout_seconds: float = 120.0  # HTTP timeout of every google-genai call (Veo submissions return at once)
    vertex_output_prefix: str | None = None  # gs:// prefix Veo writes to in Vertex mode (default: the bucket)
    veo_retry_attempts: int = 4  # submission attempts per model on 429/5xx
    veo_retry_max_wait_seconds: float = 8.0
    veo_orphan_seconds: float = 900.0  # a `submitting` block with no output after this was never accepted
    veo_poll_seconds: float = 10.0
    veo_audio_retries: int = 2  # a block filtered for its audio is resubmitted unchanged this many times (free)
    veo_operation_deadline_seconds: float = 1800.0  # an operation still running after this is abandoned
    genai_file_retention_seconds: float = 172800.0  # Gemini API files (generated videos) are deleted after 2 days
    # Project-wide Veo quota (shared.video.quota): requests per window and running operations. The local
    # defaults never throttle the local stack; production's fit Veo 3.1's default project quota (about
    # 10 requests/min per project and region): set them to the quota you were granted.
    veo_requests_per_minute: int = 600  # production default 10
    veo_max_concurrent: int = 50  # production default 10
    veo_quota_window_seconds: float = 60.0  # the rate's window (tests shorten it)
    invocation_budget_seconds: float = 480.0
    music_volume: float = 0.20
    whisper_model_dir: str | None = None
    status_base_url: str = "http://127.0.0.1:8091"
    stuck_after_seconds: float = 600.0
    max_monitor_retries: int = 3
    monitor_backoff_seconds: tuple[float, ...] = (60.0, 180.0, 600.0)  # wait before retry 1, 2, 3 of a step
    lease_grace_seconds: float = 60.0  # how long past an expired lease the monitor waits before taking over
    video_lease_margin_seconds: float = 60.0  # the video lease outlives the invocation budget by this
    assembly_lease_seconds: float = 600.0  # longer than any assembly (the assembler has no heartbeat)
    topic_prefix: str = ""  # environment prefix of Pub/Sub topic names (e.g. "dev-"), set by deploy-veo31.sh
    firestore_database: str = "(default)"
    local_ports: LocalPorts = field(default_factory=LocalPorts)
    # --- the product API (issue 7) ---
    auth_mode: str = "api_key"  # api_key | id_token | both (production default: both); docs/auth.md
    auth_audience: tuple[str, ...] = ()  # audiences of service-account ID tokens (default: STATUS_BASE_URL)
    auth_service_accounts: tuple[str, ...] = ()  # e-mails whose Google ID tokens are accepted (lower case)
    auth_certs_url: str | None = None  # local/tests only: where both ID-token certificate sets are fetched
    cors_origins: tuple[str, ...] = ("http://localhost:3000", "http://127.0.0.1:3000", "http://localhost:5173")
    default_plan: str = "free"  # plan of a user seen for the first time (shared.api.quotas.PLANS)
    rate_limit_window_seconds: float = 60.0  # short window of the expensive routes' rate limit
    signed_url_seconds: int = 900  # lifetime of delivered files' signed URLs
    signing_key_file: str | None = None  # service-account key that signs URLs (local: a throwaway key)
    signed_url_endpoint: str | None = None  # host of signed URLs (local: fake-gcs)
    webhook_allowed_networks: tuple[str, ...] = ()  # loopback / private / link_local callbacks allowed
    webhook_attempts: int = 4
    webhook_backoff_seconds: float = 1.0  # doubled after each failed attempt
    script_cache_days: float = 7.0
    # A progress stream ends before agent-script's timeout (300 s, infra/gcp/functions.json) and the client
    # resumes with Last-Event-ID; each user holds at most sse_streams_per_user streams at once; past the
    # project's Veo spend of the UTC day (0: no cap) new Veo submissions wait (shared.pricing.spend).
    sse_max_seconds: float = 240.0
    sse_streams_per_user: int = 3
    project_veo_usd_per_day: float = 0.0

    @property
    def is_local(self) -> bool:
        return self.environment == "local"


_REQUIRED_IN_PRODUCTION = ("GOOGLE_CLOUD_PROJECT", "PIPELINE_BUCKET", "STATUS_BASE_URL")


def _required(env: Mapping[str, str], production: bool, mode: str) -> None:
    key_required = env.get("GEMINI_API_KEY_REQUIRED", "true").strip().lower() != "false"
    if not production:
        return
    needed = list(_REQUIRED_IN_PRODUCTION)
    # Only the agents that call Gemini or Veo get the key (deploy-veo31.sh sets GEMINI_API_KEY_REQUIRED=false on
    # the others), so they cannot read a secret they do not need.
    if mode == GEMINI_API and key_required:
        needed.append("GEMINI_API_KEY")
    for name in needed:
        if not env.get(name):
            raise ConfigError(f"missing required setting {name} (PIPELINE_ENV=production)")


def settings_from_env(env: Mapping[str, str]) -> Settings:
    """Build settings from a mapping (tests pass their own)."""
    d = Settings()
    environment = env.get("PIPELINE_ENV", d.environment)
    if environment not in ("local", "production"):
        raise ConfigError(f"PIPELINE_ENV must be 'local' or 'production', not {environment!r}")
    production = environment == "production"
    mode = env.get("GENAI_MODE", d.genai_mode)
    if mode not in (GEMINI_API, VERTEX):
        raise ConfigError(f"GENAI_MODE must be {GEMINI_API!r} or {VERTEX!r}, not {mode!r}")
    _required(env, production, mode)
    project = env.get("GOOGLE_CLOUD_PROJECT", d.project)
    ports = LocalPorts.from_env(env)
    local_base = f"http://127.0.0.1:{ports.simulator}"
    return Settings(
        environment=environment,
        project=project,
        bucket=env.get("PIPELINE_BUCKET", f"{project}-media"),
        genai_mode=mode,
        gemini_api_key=env.get("GEMINI_API_KEY", "" if production else d.gemini_api_key),
        genai_base_url=env.get("GENAI_BASE_URL") or (None if production else local_base),
        vertex_location=env.get("VERTEX_LOCATION", d.vertex_location),
        script_model=env.get("SCRIPT_MODEL", d.script_model),
        veo_model=env.get("VEO_MODEL") or default_veo_model(mode),
        veo_fallback_model=env.get("VEO_FALLBACK_MODEL") or None,
        image_model=env.get("IMAGE_MODEL", d.image_model),
        tts_model=env.get("TTS_MODEL") or d.tts_model,
        tts_voice=env.get("TTS_VOICE") or d.tts_voice,
        vertex_output_prefix=env.get("VERTEX_OUTPUT_PREFIX") or None,
        veo_retry_attempts=int(env.get("VEO_RETRY_ATTEMPTS", d.veo_retry_attempts)),
        veo_retry_max_wait_seconds=_float(env, "VEO_RETRY_MAX_WAIT_SECONDS", d.veo_retry_max_wait_seconds),
        veo_orphan_seconds=_float(env, "VEO_ORPHAN_SECONDS", d.veo_orphan_seconds),
        veo_poll_seconds=_float(env, "VEO_POLL_SECONDS", 10.0 if production else 1.0),
        veo_audio_retries=int(env.get("VEO_AUDIO_RETRIES") or d.veo_audio_retries),
        veo_operation_deadline_seconds=_positive(env, "VEO_OPERATION_DEADLINE_SECONDS",
                                                 d.veo_operation_deadline_seconds),
        genai_file_retention_seconds=_positive(env, "GENAI_FILE_RETENTION_SECONDS", d.genai_file_retention_seconds),
        genai_timeout_seconds=_positive(env, "GENAI_TIMEOUT_SECONDS", d.genai_timeout_seconds),
        veo_requests_per_minute=int(env.get("VEO_REQUESTS_PER_MINUTE")
                                    or (10 if production else d.veo_requests_per_minute)),
        veo_max_concurrent=int(env.get("VEO_MAX_CONCURRENT") or (10 if production else d.veo_max_concurrent)),
        veo_quota_window_seconds=_float(env, "VEO_QUOTA_WINDOW_SECONDS", d.veo_quota_window_seconds),
        invocation_budget_seconds=_float(env, "INVOCATION_BUDGET_SECONDS", d.invocation_budget_seconds),
        music_volume=_float(env, "MUSIC_VOLUME", d.music_volume),
        whisper_model_dir=env.get("WHISPER_MODEL_DIR") or None,
        status_base_url=env.get("STATUS_BASE_URL", f"http://127.0.0.1:{ports.agents_base}"),
        stuck_after_seconds=_float(env, "STUCK_AFTER_SECONDS", d.stuck_after_seconds),
        max_monitor_retries=int(env.get("MAX_MONITOR_RETRIES", d.max_monitor_retries)),
        monitor_backoff_seconds=_seconds_list(env, "MONITOR_BACKOFF_SECONDS", d.monitor_backoff_seconds),
        lease_grace_seconds=_float(env, "LEASE_GRACE_SECONDS", d.lease_grace_seconds),
        video_lease_margin_seconds=_float(env, "VIDEO_LEASE_MARGIN_SECONDS", d.video_lease_margin_seconds),
        assembly_lease_seconds=_float(env, "ASSEMBLY_LEASE_SECONDS", d.assembly_lease_seconds),
        topic_prefix=env.get("PIPELINE_TOPIC_PREFIX", d.topic_prefix),
        firestore_database=env.get("FIRESTORE_DATABASE", d.firestore_database),
        local_ports=ports,
        **_api_settings(env, production, ports),  # type: ignore[arg-type]
    )


AUTH_MODES = ("api_key", "id_token", "both")
WEBHOOK_NETWORKS = ("loopback", "private", "link_local")


def _names(env: Mapping[str, str], name: str, default: tuple[str, ...],
           allowed: tuple[str, ...] | None = None) -> tuple[str, ...]:
    """A comma-separated list setting; each item checked against `allowed` when given."""
    raw = env.get(name)
    if raw is None:
        return default
    items = tuple(item.strip() for item in raw.split(",") if item.strip())
    bad = [item for item in items if allowed is not None and item not in allowed]
    if bad:
        raise ConfigError(f"{name}: unknown value(s) {', '.join(bad)} (allowed: {', '.join(allowed or ())})")
    return items


def _service_accounts(env: Mapping[str, str]) -> tuple[str, ...]:
    """AUTH_SERVICE_ACCOUNTS: comma-separated service-account e-mails (compared in lower case)."""
    emails = tuple(e.lower() for e in _names(env, "AUTH_SERVICE_ACCOUNTS", ()))
    bad = [e for e in emails if e.count("@") != 1 or e.startswith("@") or e.endswith("@")]
    if bad:
        raise ConfigError(f"AUTH_SERVICE_ACCOUNTS: not an e-mail address: {', '.join(bad)}")
    return emails


def _certs_url(env: Mapping[str, str], production: bool) -> str | None:
    """AUTH_CERTS_URL: the local cloud's own ID-token certificates; production verifies against Google's only."""
    url = env.get("AUTH_CERTS_URL") or None
    if url and production:
        raise ConfigError("AUTH_CERTS_URL is for the local cloud and tests; production uses Google's certificates")
    return url


def _api_settings(env: Mapping[str, str], production: bool, ports: LocalPorts) -> dict[str, object]:
    """The product API's settings (auth, CORS, quotas, signed URLs, webhooks, script cache)."""
    d = Settings()
    auth_mode = env.get("AUTH_MODE") or ("both" if production else d.auth_mode)
    if auth_mode not in AUTH_MODES:
        raise ConfigError(f"AUTH_MODE must be one of {', '.join(AUTH_MODES)}, not {auth_mode!r}")
    return {
        "auth_mode": auth_mode,
        "auth_audience": _names(env, "AUTH_AUDIENCE", d.auth_audience),
        "auth_service_accounts": _service_accounts(env),
        "auth_certs_url": _certs_url(env, production),
        "cors_origins": _names(env, "CORS_ORIGINS", () if production else d.cors_origins),
        "default_plan": env.get("DEFAULT_PLAN", d.default_plan),
        "rate_limit_window_seconds": _float(env, "RATE_LIMIT_WINDOW_SECONDS", d.rate_limit_window_seconds),
        "signed_url_seconds": int(env.get("SIGNED_URL_SECONDS", d.signed_url_seconds)),
        "signing_key_file": env.get("SIGNING_KEY_FILE") or None,
        "signed_url_endpoint": env.get("SIGNED_URL_ENDPOINT")
        or ("https://storage.googleapis.com" if production else f"http://127.0.0.1:{ports.gcs}"),
        "webhook_allowed_networks": _names(env, "WEBHOOK_ALLOWED_NETWORKS", (), WEBHOOK_NETWORKS),
        "webhook_attempts": int(env.get("WEBHOOK_ATTEMPTS", d.webhook_attempts)),
        "webhook_backoff_seconds": _float(env, "WEBHOOK_BACKOFF_SECONDS", d.webhook_backoff_seconds),
        "sse_max_seconds": _positive(env, "SSE_MAX_SECONDS", d.sse_max_seconds),
        "sse_streams_per_user": int(env.get("SSE_STREAMS_PER_USER") or d.sse_streams_per_user),
        "project_veo_usd_per_day": _float(env, "PROJECT_VEO_USD_PER_DAY", d.project_veo_usd_per_day),
        "script_cache_days": _float(env, "SCRIPT_CACHE_DAYS", d.script_cache_days),
    }


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a number, not {raw!r}") from exc


def _positive(env: Mapping[str, str], name: str, default: float) -> float:
    value = _float(env, name, default)
    if value <= 0:
        raise ConfigError(f"{name} must be a positive number of seconds, not {value:g}")
    return value


def _seconds_list(env: Mapping[str, str], name: str, default: tuple[float, ...]) -> tuple[float, ...]:
    """A comma-separated list of positive durations, e.g. MONITOR_BACKOFF_SECONDS=60,180,600."""
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        values = tuple(float(item) for item in raw.split(",") if item.strip())
    except ValueError as exc:
        raise ConfigError(f"{name} must be comma-separated numbers, not {raw!r}") from exc
    if not values or min(values) <= 0:
        raise ConfigError(f"{name} needs at least one positive number, not {raw!r}")
    return values


@lru_cache(maxsize=1)
def load_settings() -> Settings:
    """Settings of this process, read once from os.environ."""
    return settings_from_env(os.environ)
