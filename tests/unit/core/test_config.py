"""Settings: local defaults run the local stack; production fails fast naming what is missing."""
import pytest

from shared.core.config import settings_from_env
from shared.core.errors import ConfigError


def test_local_defaults_point_at_the_local_stack():
    settings = settings_from_env({})
    assert settings.is_local
    assert settings.genai_base_url == "http://127.0.0.1:8090"
    assert settings.bucket == "demo-veo-pipeline-media"


def test_ports_are_overridable():
    settings = settings_from_env({"LOCAL_SIMULATOR_PORT": "9190"})
    assert settings.genai_base_url == "http://127.0.0.1:9190"


@pytest.mark.parametrize("missing", ["GOOGLE_CLOUD_PROJECT", "PIPELINE_BUCKET", "STATUS_BASE_URL", "GEMINI_API_KEY"])
def test_production_names_the_missing_setting(missing):
    env = {"PIPELINE_ENV": "production", "GOOGLE_CLOUD_PROJECT": "p", "PIPELINE_BUCKET": "b",
           "STATUS_BASE_URL": "https://x", "GEMINI_API_KEY": "k"}
    del env[missing]
    with pytest.raises(ConfigError, match=missing):
        settings_from_env(env)


def test_production_has_no_local_endpoint():
    env = {"PIPELINE_ENV": "production", "GOOGLE_CLOUD_PROJECT": "p", "PIPELINE_BUCKET": "b",
           "STATUS_BASE_URL": "https://x", "GEMINI_API_KEY": "k"}
    assert settings_from_env(env).genai_base_url is None


def test_agents_that_never_call_gemini_start_without_the_key():
    env = {"PIPELINE_ENV": "production", "GOOGLE_CLOUD_PROJECT": "p", "PIPELINE_BUCKET": "b",
           "STATUS_BASE_URL": "https://x", "GEMINI_API_KEY_REQUIRED": "false"}
    assert settings_from_env(env).gemini_api_key == ""
    with pytest.raises(ConfigError, match="GEMINI_API_KEY"):
        settings_from_env({**env, "GEMINI_API_KEY_REQUIRED": "true"})


def test_vertex_mode_needs_no_api_key():
    env = {"PIPELINE_ENV": "production", "GOOGLE_CLOUD_PROJECT": "p", "PIPELINE_BUCKET": "b",
           "STATUS_BASE_URL": "https://x", "GENAI_MODE": "vertex"}
    assert settings_from_env(env).genai_mode == "vertex"


@pytest.mark.parametrize("env", [{"PIPELINE_ENV": "prod"}, {"GENAI_MODE": "openai"}, {"VEO_POLL_SECONDS": "soon"}])
def test_malformed_values_fail(env):
    with pytest.raises(ConfigError):
        settings_from_env(env)


def test_model_ids_default_to_the_current_ones():
    """Contract M5, M7: gemini-2.5-flash and gemini-2.5-flash-image are retired (the simulator answers 404)."""
    settings = settings_from_env({})
    assert (settings.script_model, settings.image_model) == ("gemini-3.8-flash", "gemini-3.1-flash-image")
    assert settings.veo_model == "veo-3.1-generate-preview"
    assert settings_from_env({"GENAI_MODE": "vertex"}).veo_model == "veo-3.1-generate-001"


def test_issue_18_settings_have_defaults_and_are_read():
    settings = settings_from_env({})
    assert (settings.genai_timeout_seconds, settings.veo_audio_retries, settings.veo_operation_deadline_seconds,
            settings.genai_file_retention_seconds) == (120.0, 2, 1800.0, 172800.0)
    changed = settings_from_env({"GENAI_TIMEOUT_SECONDS": "30", "VEO_AUDIO_RETRIES": "0",
                                 "VEO_OPERATION_DEADLINE_SECONDS": "900", "GENAI_FILE_RETENTION_SECONDS": "3600"})
    assert (changed.genai_timeout_seconds, changed.veo_audio_retries, changed.veo_operation_deadline_seconds,
            changed.genai_file_retention_seconds) == (30.0, 0, 900.0, 3600.0)
    with pytest.raises(ConfigError, match="GENAI_TIMEOUT_SECONDS"):
        settings_from_env({"GENAI_TIMEOUT_SECONDS": "0"})


def test_every_genai_call_has_a_timeout_in_milliseconds():
    """Contract K1: google-genai's default is no timeout; HttpOptions.timeout is in milliseconds."""
    from shared.core.clients import genai_http_options, make_genai

    local = settings_from_env({"GENAI_TIMEOUT_SECONDS": "2.5"})
    assert genai_http_options(local).timeout == 2500
    assert genai_http_options(local).base_url == "http://127.0.0.1:8090"
    production = settings_from_env({"PIPELINE_ENV": "production", "GOOGLE_CLOUD_PROJECT": "p", "PIPELINE_BUCKET": "b",
                                    "STATUS_BASE_URL": "https://x", "GEMINI_API_KEY": "k"})
    options = genai_http_options(production)
    assert options.timeout == 120_000 and options.base_url is None
    assert make_genai(local)._api_client._http_options.timeout == 2500
