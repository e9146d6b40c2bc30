"""What deploy-veo31.sh gives each function: the front door's authentication (docs/auth.md), the model ids, and
every other setting of shared/core/config.py an operator may tune in production.

Every name of config.ENVIRONMENT_VARIABLES is one of: tunable (set in the deploy environment, it reaches the
functions: PASSED_THROUGH in deploy-veo31.sh, or a flag of the script), set by the script itself
(SET_BY_THE_SCRIPT), or local/test only (LOCAL_ONLY, with the reason). A new setting in config.py fails
`test_every_setting_is_tunable_set_by_the_script_or_local_only` until it is put in one of them.
"""
from __future__ import annotations

import pytest

from infra.deploy.dryrun import DryRun, dry_run, flag_values, planned
from shared.core import config

PROJECT = "veo-settings-test"
REGION = "europe-west1"
NUMBER = "123456789012"
BASE = ["--project", PROJECT, "--region", REGION, "--env", "dev"]
FRONT_DOOR = "dev-agent-script"
CLOUDFUNCTIONS_URL = f"https://{REGION}-{PROJECT}.cloudfunctions.net/{FRONT_DOOR}"
RUN_APP_URL = f"https://{FRONT_DOOR}-{NUMBER}.{REGION}.run.app"

# Set by deploy-veo31.sh from its own flags or computations; a value in the deploy environment is not used.
SET_BY_THE_SCRIPT = {
    "PIPELINE_ENV": "always production",
    "GOOGLE_CLOUD_PROJECT": "--project",
    "PIPELINE_BUCKET": "--bucket (default <project>-<env>-media)",
    "INVOCATION_BUDGET_SECONDS": "each function's timeout minus infra/gcp/functions.json budget_margin_s",
    "PIPELINE_TOPIC_PREFIX": "<env>-",
    "GEMINI_API_KEY_REQUIRED": "true where the key is mounted (infra/gcp/iam/roles.json secret readers)",
    "GEMINI_API_KEY": "mounted from Secret Manager (<env>-gemini-api-key), never an environment value",
    "AUTH_AUDIENCE": "the front door's two URLs (+ STATUS_BASE_URL); AUTH_AUDIENCE in the environment adds to them",
}
# Read by the pipeline but never deployed, with the reason.
LOCAL_ONLY = {
    "GENAI_BASE_URL": "points google-genai at the local simulator; production calls Google's endpoints",
    "LOCAL_FIRESTORE_PORT": "a port of the local cloud's emulators",
    "LOCAL_PUBSUB_PORT": "a port of the local cloud's emulators",
    "LOCAL_GCS_PORT": "a port of the local cloud's emulators",
    "LOCAL_SIMULATOR_PORT": "a port of the local cloud's simulator",
    "LOCAL_AGENTS_BASE_PORT": "the local cloud's agents' ports",
    "VERTEX_OUTPUT_PREFIX": "smoke tests only: the deploy grants the Vertex AI service agent the bucket only, and the "
                            "lifecycle and video deletion cover gs://<bucket>/veo31_blocks/ only",
    "VEO_QUOTA_WINDOW_SECONDS": "tests shorten the rate's window; VEO_REQUESTS_PER_MINUTE is per minute, like "
                                "Google's quota",
    "AUTH_CERTS_URL": "the local cloud's ID-token certificates; production refuses to start with it (docs/auth.md)",
    "SIGNING_KEY_FILE": "the local cloud's throwaway key; production signs URLs through IAM signBlob, with no key",
    "SIGNED_URL_ENDPOINT": "the local fake-gcs host; production signs storage.googleapis.com URLs",
    "WEBHOOK_ALLOWED_NETWORKS": "tests call back to loopback; production refuses callbacks to loopback, private and "
                                "link-local (metadata server) addresses",
}
# Values the script checks (the others only need to be recognisable when they arrive).
VALID = {"GENAI_MODE": "gemini_api", "FIRESTORE_DATABASE": "tuned-db", "AUTH_MODE": "id_token",
         "AUTH_SERVICE_ACCOUNTS": "nightly@veo-settings-test.iam.gserviceaccount.com",
         "CORS_ORIGINS": "https://studio.example.com,https://admin.example.com",
         "STATUS_BASE_URL": "https://api.example.com", "MONITOR_BACKOFF_SECONDS": "30,90,300"}


def env_vars(command: list[str]) -> dict[str, str]:
    [value] = flag_values(command, "--set-env-vars")
    assert value.startswith("^|^")
    return dict(item.split("=", 1) for item in value[3:].split("|"))


def deploy_envs(result: DryRun) -> dict[str, dict[str, str]]:
    """agent -> the environment its function is deployed with."""
    return {c[3].removeprefix("dev-"): env_vars(c) for c in planned(result, "functions", "deploy")}


def deploy_of(result: DryRun, agent: str) -> list[str]:
    [command] = [c for c in planned(result, "functions", "deploy") if c[3] == f"dev-{agent}"]
    return command


@pytest.fixture(scope="module")
def default(make_plan) -> DryRun:  # type: ignore[no-untyped-def]
    return make_plan(BASE, DEPLOY_PROJECT_NUMBER=NUMBER)


# --- 1. the front door: public at the IAM level, authenticated by the application ------------------------------

def test_the_front_door_is_invokable_by_all_users_and_the_rest_stays_private(default: DryRun) -> None:
    script = deploy_of(default, "agent-script")
    assert "--allow-unauthenticated" in script and "--no-allow-unauthenticated" not in script
    assert flag_values(script, "--ingress-settings") == ["all"]
    assert "--no-allow-unauthenticated" in deploy_of(default, "agent-monitor")
    bindings = planned(default, "functions", "add-invoker-policy-binding")
    assert not [c for c in bindings if c[3] == FRONT_DOOR], "no IAM-private invoker list on the front door"
    assert not planned(default, "run", "services", "update"), "the invoker IAM check stays on by default"
    assert "front door invokable by anyone at the IAM level (allUsers invoker)" in default.stderr


def test_the_front_door_gets_its_auth_settings_and_the_others_do_not(default: DryRun) -> None:
    envs = deploy_envs(default)
    front = envs["agent-script"]
    assert front["AUTH_MODE"] == "both"
    assert front["AUTH_AUDIENCE"].split(",") == [CLOUDFUNCTIONS_URL, RUN_APP_URL]
    assert "AUTH_SERVICE_ACCOUNTS" not in front and "CORS_ORIGINS" not in front, "unset: none allowed"
    for agent, env in envs.items():
        assert "AUTH_CERTS_URL" not in env, agent
        if agent != "agent-script":
            assert not {"AUTH_MODE", "AUTH_AUDIENCE", "AUTH_SERVICE_ACCOUNTS", "CORS_ORIGINS"} & set(env), agent


def test_operator_flags_reach_the_front_door_and_config_reads_them(make_plan) -> None:  # type: ignore[no-untyped-def]
    sa1, sa2 = f"nightly@{PROJECT}.iam.gserviceaccount.com", f"backend@{PROJECT}.iam.gserviceaccount.com"
    result = make_plan([*BASE, "--auth-mode", "id_token", "--auth-service-accounts", sa1,
                        "--auth-service-accounts", sa2, "--cors-origins", "https://studio.example.com",
                        "--cors-origins", "https://admin.example.com:8443", "--status-base-url",
                        "https://api.example.com/"],
                       DEPLOY_PROJECT_NUMBER=NUMBER, AUTH_AUDIENCE="https://edge.example.com",
                       AUTH_CERTS_URL="http://127.0.0.1:1/certs")
    front = deploy_envs(result)["agent-script"]
    assert "AUTH_CERTS_URL" not in front, "never deployed: the function would refuse to start"
    settings = config.settings_from_env({**front, "GEMINI_API_KEY": "from-secret-manager"})
    assert settings.auth_mode == "id_token"
    assert settings.auth_service_accounts == (sa1, sa2)
    assert settings.cors_origins == ("https://studio.example.com", "https://admin.example.com:8443")
    assert settings.auth_audience == (CLOUDFUNCTIONS_URL, RUN_APP_URL, "https://api.example.com",
                                      "https://edge.example.com")
    assert settings.auth_certs_url is None


def test_where_all_users_is_forbidden_the_invoker_check_is_disabled_instead(make_plan) -> None:  # type: ignore[no-untyped-def]
    for result in (make_plan([*BASE, "--no-invoker-iam-check"]), make_plan(BASE, DEPLOY_NO_INVOKER_IAM_CHECK="1")):
        script = deploy_of(result, "agent-script")
        assert "--no-allow-unauthenticated" in script
        [update] = planned(result, "run", "services", "update")
        assert update[4] == FRONT_DOOR and "--no-invoker-iam-check" in update
        assert flag_values(update, "--region") == [REGION] and flag_values(update, "--project") == [PROJECT]
        assert result.commands.index(update) > result.commands.index(script), "after the service exists"
        assert "invoker IAM check disabled" in result.stderr


@pytest.mark.parametrize(("args", "env", "message"), [
    (["--script-invoker", "user:ada@example.com"], {}, "--auth-service-accounts"),
    ([], {"SCRIPT_INVOKERS": "user:ada@example.com"}, "AUTH_SERVICE_ACCOUNTS"),
    (["--auth-mode", "open"], {}, "--auth-mode"),
    (["--auth-service-accounts", "not-an-email"], {}, "not an e-mail"),
    (["--auth-mode", "api_key", "--auth-service-accounts", "a@b.iam.gserviceaccount.com"], {}, "--auth-mode"),
    (["--cors-origins", "https://studio.example.com/app"], {}, "not an origin"),
    (["--cors-origins", "studio.example.com"], {}, "not an origin"),
])
def test_the_removed_invoker_list_and_bad_auth_values_are_refused(deploy_tree, args: list[str],  # type: ignore[no-untyped-def]
                                                                  env: dict[str, str], message: str) -> None:
    result = dry_run([*BASE, *args], root=deploy_tree, env=env)
    assert result.returncode != 0 and "ERROR" in result.stderr and message in result.stderr
    assert not result.commands


# --- 2. model ids: every one settable, each passed only to the agents that read it ------------------------------

MODEL_READERS = {
    "SCRIPT_MODEL": {"agent-script"},  # shared/script/writer.py
    "IMAGE_MODEL": {"agent-script", "agent-video-veo31"},  # shared/api/characters.py, shared/video/inputs.py
    "VEO_MODEL": {"agent-video-veo31"},  # shared/video/chain.py
    "VEO_FALLBACK_MODEL": {"agent-video-veo31"},  # shared/video/chain.py
}


def receivers(result: DryRun, name: str) -> dict[str, str]:
    return {agent: env[name] for agent, env in deploy_envs(result).items() if name in env}


def test_model_flags_reach_only_the_agents_that_read_them(make_plan) -> None:  # type: ignore[no-untyped-def]
    given = {"SCRIPT_MODEL": "gemini-9-flash", "IMAGE_MODEL": "gemini-9-image",
             "VEO_MODEL": "veo-3.1-fast-generate-preview", "VEO_FALLBACK_MODEL": "veo-3.1-lite-generate-preview"}
    result = make_plan([*BASE, "--script-model", given["SCRIPT_MODEL"], "--image-model", given["IMAGE_MODEL"],
                        "--veo-model", given["VEO_MODEL"], "--veo-fallback-model", given["VEO_FALLBACK_MODEL"]])
    for name, readers in MODEL_READERS.items():
        assert receivers(result, name) == {agent: given[name] for agent in readers}, name
    assert (f"models: script {given['SCRIPT_MODEL']}, image {given['IMAGE_MODEL']}, Veo {given['VEO_MODEL']} "
            f"(fallback: {given['VEO_FALLBACK_MODEL']})") in result.stderr


def test_model_ids_come_from_the_environment_too(make_plan) -> None:  # type: ignore[no-untyped-def]
    result = make_plan(BASE, IMAGE_MODEL="gemini-9-image", VEO_FALLBACK_MODEL="veo-3.1-fast-generate-preview")
    assert receivers(result, "IMAGE_MODEL") == dict.fromkeys(MODEL_READERS["IMAGE_MODEL"], "gemini-9-image")
    assert set(receivers(result, "VEO_FALLBACK_MODEL")) == MODEL_READERS["VEO_FALLBACK_MODEL"]


@pytest.mark.parametrize("mode", ["gemini_api", "vertex"])
def test_unset_models_are_config_defaults_shown_in_the_plan(make_plan, mode: str) -> None:  # type: ignore[no-untyped-def]
    result = make_plan([*BASE, "--genai-mode", mode])
    defaults = config.Settings()
    wanted = {"SCRIPT_MODEL": defaults.script_model, "IMAGE_MODEL": defaults.image_model,
              "VEO_MODEL": config.default_veo_model(mode)}
    for name, value in wanted.items():
        assert receivers(result, name) == dict.fromkeys(MODEL_READERS[name], value), name
    assert not receivers(result, "VEO_FALLBACK_MODEL"), "no fallback unless asked"
    assert f"Veo {config.default_veo_model(mode)} (fallback: none)" in result.stderr


# --- 3. every setting of config.py: tunable, set by the script, or local/test only ------------------------------

def test_the_lists_name_real_settings_and_do_not_overlap() -> None:
    names = set(config.ENVIRONMENT_VARIABLES)
    assert set(LOCAL_ONLY) <= names and set(SET_BY_THE_SCRIPT) <= names
    assert not set(LOCAL_ONLY) & set(SET_BY_THE_SCRIPT)
    assert all(reason.strip() for reason in (*LOCAL_ONLY.values(), *SET_BY_THE_SCRIPT.values()))


def test_every_setting_is_tunable_set_by_the_script_or_local_only(make_plan) -> None:  # type: ignore[no-untyped-def]
    given = {name: VALID.get(name, f"tuned-{name.lower()}") for name in config.ENVIRONMENT_VARIABLES}
    result = make_plan(BASE, **given)
    deployed: dict[str, set[str]] = {}
    for command in planned(result, "functions", "deploy"):
        for name, value in env_vars(command).items():
            deployed.setdefault(name, set()).add(value)
        for secret in flag_values(command, "--set-secrets"):
            deployed.setdefault(secret.partition("=")[0], set())
    for name in config.ENVIRONMENT_VARIABLES:
        if name in LOCAL_ONLY:
            assert name not in deployed, f"{name} is local/test only ({LOCAL_ONLY[name]}) but was deployed"
        elif name in SET_BY_THE_SCRIPT:
            assert name in deployed, f"{name}: the script should set it ({SET_BY_THE_SCRIPT[name]})"
        else:
            assert given[name] in deployed.get(name, set()), (
                f"{name} (shared/core/config.py) cannot be set in production: add it to PASSED_THROUGH in "
                "deploy-veo31.sh (or give it a flag), or to LOCAL_ONLY in this test with the reason")


def test_passed_through_settings_reach_every_function_only_when_set(make_plan, default: DryRun) -> None:  # type: ignore[no-untyped-def]
    given = {"VEO_AUDIO_RETRIES": "3", "VEO_OPERATION_DEADLINE_SECONDS": "2400", "GENAI_TIMEOUT_SECONDS": "90",
             "GENAI_FILE_RETENTION_SECONDS": "86400", "MONITOR_BACKOFF_SECONDS": "30,90,300"}
    result = make_plan(BASE, **given)
    for agent, env in deploy_envs(result).items():
        assert {k: env.get(k) for k in given} == given, agent
        settings = config.settings_from_env({**env, "GEMINI_API_KEY": "from-secret-manager"})
        assert settings.monitor_backoff_seconds == (30.0, 90.0, 300.0)
        assert settings.veo_operation_deadline_seconds == 2400.0 and settings.genai_timeout_seconds == 90.0
    for agent, env in deploy_envs(default).items():
        assert not set(given) & set(env), f"{agent}: unset settings keep config.py's production defaults"
