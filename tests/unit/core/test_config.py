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


def test_vertex_mode_needs_no_api_key():
    env = {"PIPELINE_ENV": "production", "GOOGLE_CLOUD_PROJECT": "p", "PIPELINE_BUCKET": "b",
           "STATUS_BASE_URL": "https://x", "GENAI_MODE": "vertex"}
    assert settings_from_env(env).genai_mode == "vertex"


@pytest.mark.parametrize("env", [{"PIPELINE_ENV": "prod"}, {"GENAI_MODE": "openai"}, {"VEO_POLL_SECONDS": "soon"}])
def test_malformed_values_fail(env):
    with pytest.raises(ConfigError):
        settings_from_env(env)
