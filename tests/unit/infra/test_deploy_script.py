"""deploy-veo31.sh --dry-run: the full command plan, read back and checked against the specs.

The expected values come from shared/core/topics.py and infra/gcp/*.json, never from a second list.
Each plan is built in a scratch copy of the deploy tree (placeholder main.py only where an agent
has none yet), so the staged sources can be inspected too.
"""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from infra.deploy import spec
from infra.deploy.dryrun import REPO_ROOT, DryRun, copy_deploy_tree, dry_run
from shared.core import topics

PROJECT = "veo-unit-test"
REGION = "europe-west1"
SECRET_VALUE = "AIza-unit-test-secret-never-printed"
FULL = ["--project", PROJECT, "--region", REGION, "--budget-amount", "300",
        "--billing-account", "012345-6789AB-CDEF01"]
AGENT_SETTINGS = json.loads((REPO_ROOT / "infra/gcp/functions.json").read_text())["agents"]
ROLES = json.loads((REPO_ROOT / "infra/gcp/iam/roles.json").read_text())


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("deploy-tree")
    copy_deploy_tree(root)
    return root


def plan_in(tree: Path, tmp: Path, args: list[str], **env: str) -> DryRun:
    """A dry run of the copied deploy script; the work dir (staged sources, rendered files) is kept."""
    result = dry_run([*args, "--work-dir", str(tmp)], root=tree, env={"GEMINI_API_KEY": SECRET_VALUE, **env})
    assert result.returncode == 0, result.stderr
    return result


@pytest.fixture(scope="module")
def first(tree: Path, tmp_path_factory: pytest.TempPathFactory) -> DryRun:
    return plan_in(tree, tmp_path_factory.mktemp("first"), [*FULL, "--env", "dev"])


@pytest.fixture(scope="module")
def rerun(tree: Path, tmp_path_factory: pytest.TempPathFactory) -> DryRun:
    return plan_in(tree, tmp_path_factory.mktemp("rerun"), [*FULL, "--env", "dev"], DEPLOY_DRY_RUN_ASSUME="present")


def flags(command: list[str]) -> dict[str, list[str]]:
    """--name=value arguments as name -> values (a bare flag maps to [""])."""
    found: dict[str, list[str]] = {}
    for arg in command:
        if arg.startswith("--"):
            name, _, value = arg.partition("=")
            found.setdefault(name, []).append(value)
    return found


def flag(command: list[str], name: str) -> str:
    """The single value of a flag."""
    values = flags(command).get(name)
    assert values and len(values) == 1, f"{name} in {command}"
    return values[0]


def commands(result: DryRun, *words: str) -> list[list[str]]:
    """Planned commands starting with `gcloud words...`."""
    return [c for c in result.commands if c[1:1 + len(words)] == list(words)]


def deploy_of(result: DryRun, function: str) -> list[str]:
    matches = [c for c in commands(result, "functions", "deploy") if c[3] == function]
    assert len(matches) == 1, f"{function} deployed {len(matches)} times"
    return matches[0]


def sa(principal: str, env: str = "dev") -> str:
    return f"{env}-{principal}@{PROJECT}.iam.gserviceaccount.com"


def test_every_line_is_a_gcloud_command(first: DryRun) -> None:
    assert len(first.commands) > 50
    assert all(c[0] == "gcloud" for c in first.commands)


def test_every_agent_is_deployed_once_as_gen2_python312(first: DryRun) -> None:
    deployed = {c[3] for c in commands(first, "functions", "deploy")}
    agents = [a.agent for a in topics.HTTP_AGENTS] + [r.name for r in topics.EVENT_ROUTES]
    assert deployed == {f"dev-{a}" for a in agents} and "dev-agent-monitor-webhooks" in deployed
    for command in commands(first, "functions", "deploy"):
        assert "--gen2" in command
        assert flag(command, "--runtime") == "python312"
        assert flag(command, "--project") == PROJECT and flag(command, "--region") == REGION


def test_http_agents_have_http_triggers(first: DryRun) -> None:
    for agent in topics.HTTP_AGENTS:
        command = deploy_of(first, f"dev-{agent.agent}")
        assert flag(command, "--entry-point") == agent.entry_point
        assert "--trigger-http" in command and "--trigger-topic" not in flags(command)
        # the front door is public at the IAM level and authenticates in the application (docs/auth.md)
        public = agent.agent == "agent-script"
        assert ("--allow-unauthenticated" if public else "--no-allow-unauthenticated") in command


def test_event_agents_have_topic_triggers_with_retry(first: DryRun) -> None:
    for route in topics.EVENT_ROUTES:
        command = deploy_of(first, f"dev-{route.name}")
        assert flag(command, "--entry-point") == route.entry_point
        assert flag(command, "--trigger-topic") == f"dev-{route.topic}"
        assert "--retry" in command
        # webhook calls are bounded by their own deadline and attempts: a short function timeout
        assert flag(command, "--timeout") == ("120s" if route.name == "agent-monitor-webhooks" else "540s")
        assert flag(command, "--trigger-service-account") == sa(route.name)
        assert flag(command, "--source").endswith(f"/functions/{route.agent}")


def test_the_webhook_function_runs_agent_monitors_code_as_its_own_account(first: DryRun) -> None:
    """Webhooks leave the pipeline workers: their own function on their own topic, agent-monitor's folder with
    the deliver_webhook entry point, as an account that may only read and write Firestore and park messages."""
    command = deploy_of(first, "dev-agent-monitor-webhooks")
    assert flag(command, "--entry-point") == "deliver_webhook"
    assert flag(command, "--trigger-topic") == "dev-webhook-events"
    assert flag(command, "--source").endswith("/functions/agent-monitor")
    assert flag(command, "--service-account") == sa("agent-monitor-webhooks")
    member = f"--member=serviceAccount:{sa('agent-monitor-webhooks')}"
    verbs = {"add-iam-policy-binding", "add-invoker-policy-binding"}
    granted = {("project" if c[1] == "projects" else c[[i for i, a in enumerate(c) if a in verbs][0] + 1])
               for c in first.commands if verbs & set(c) and member in c}
    # Firestore (a project role under the database condition), parking malformed messages, its own invocation
    assert granted == {"project", f"dev-{topics.DEAD_LETTER}", "dev-agent-monitor-webhooks"}, granted


def test_resources_per_agent_match_functions_json(first: DryRun) -> None:
    for agent, settings in AGENT_SETTINGS.items():
        command = deploy_of(first, f"dev-{agent}")
        assert flag(command, "--memory") == settings["memory"]
        assert flag(command, "--cpu") == str(settings["cpu"])
        assert flag(command, "--timeout") == f"{settings['timeout_s']}s"
        assert flag(command, "--concurrency") == str(settings["concurrency"])
        assert flag(command, "--min-instances") == str(settings["min_instances"])
        assert flag(command, "--max-instances") == str(settings["max_instances"])
    assembler = deploy_of(first, "dev-agent-assembler")
    assert _mebibytes(flag(assembler, "--memory")) >= 2048
    assert flag(assembler, "--concurrency") == "1"
    assert _mebibytes(flag(deploy_of(first, "dev-agent-script"), "--memory")) == 512


def _mebibytes(memory: str) -> int:
    return int(memory[:-2]) * (1024 if memory.endswith("Gi") else 1)


def test_each_agent_runs_as_its_own_service_account(first: DryRun) -> None:
    created = {c[4] for c in commands(first, "iam", "service-accounts", "create")}
    runtime = {flag(c, "--service-account") for c in commands(first, "functions", "deploy")}
    assert len(runtime) == len(commands(first, "functions", "deploy"))
    assert runtime == {f"{name}@{PROJECT}.iam.gserviceaccount.com" for name in created
                       if name not in ("dev-scheduler", "dev-builder")}


def test_roles_are_granted_as_declared_and_nothing_broad(first: DryRun) -> None:
    granted = [(flag(c, "--member"), flag(c, "--role")) for c in first.commands
               if "--role" in flags(c)]
    assert not [g for g in granted if g[1] in ("roles/owner", "roles/editor")]
    for principal, bindings in ROLES.items():
        if principal.startswith("_"):
            continue
        for binding in bindings:
            if binding.get("only_if") == "vertex" or binding["role"] == "roles/run.invoker":
                continue
            assert (f"serviceAccount:{sa(principal)}", binding["role"]) in granted, (principal, binding)


def env_vars(command: list[str]) -> dict[str, str]:
    """--set-env-vars, written with gcloud's alternate delimiter (^|^) since values may hold commas."""
    value = flag(command, "--set-env-vars")
    assert value.startswith("^|^")
    return dict(item.split("=", 1) for item in value[3:].split("|"))


def test_functions_get_production_settings(first: DryRun) -> None:
    for command in commands(first, "functions", "deploy"):
        env = env_vars(command)
        assert env["PIPELINE_ENV"] == "production"
        assert env["GOOGLE_CLOUD_PROJECT"] == PROJECT
        assert env["PIPELINE_BUCKET"] == f"{PROJECT}-dev-media"
        assert env["STATUS_BASE_URL"].startswith("https://")
        assert env["GENAI_MODE"] == "gemini_api"
        assert env["FIRESTORE_DATABASE"] == "dev-pipeline"
        assert 0 < int(env["INVOCATION_BUDGET_SECONDS"]) < int(flag(command, "--timeout")[:-1])
        assert "CORS_ORIGINS" not in env and "VEO_REQUESTS_PER_MINUTE" not in env, "unset: config's defaults"


def test_veo_quota_retry_and_cors_settings_are_passed_when_set(tree: Path, tmp_path: Path) -> None:
    given = {"VEO_RETRY_ATTEMPTS": "6", "VEO_RETRY_MAX_WAIT_SECONDS": "20", "VEO_ORPHAN_SECONDS": "1200",
             "VEO_REQUESTS_PER_MINUTE": "20", "VEO_MAX_CONCURRENT": "8"}
    cors = "https://app.example,https://studio.example"
    plan = plan_in(tree, tmp_path, ["--project", PROJECT, "--region", REGION], CORS_ORIGINS=cors,
                   VEO_FALLBACK_MODEL="veo-3.1-fast-generate-preview", **given)
    for command in commands(plan, "functions", "deploy"):
        env = env_vars(command)
        assert {k: env[k] for k in given} == given
        assert env.get("CORS_ORIGINS") == (cors if command[3] == "dev-agent-script" else None)
        assert ("VEO_FALLBACK_MODEL" in env) == (command[3] == "dev-agent-video-veo31")


def test_secret_is_created_from_stdin_and_never_printed(first: DryRun) -> None:
    assert commands(first, "secrets", "create")[0][3] == "dev-gemini-api-key"
    add = commands(first, "secrets", "versions", "add")
    assert add and flag(add[0], "--data-file") == "-"
    assert SECRET_VALUE not in first.stderr
    assert all(SECRET_VALUE not in arg for c in first.commands for arg in c)


def test_topics_dead_letter_and_its_iam(first: DryRun) -> None:
    created = {c[4] for c in commands(first, "pubsub", "topics", "create")}
    assert created == {f"dev-{t}" for t in topics.ALL_TOPICS}
    dead = f"projects/{PROJECT}/topics/dev-{topics.DEAD_LETTER}"
    updates = commands(first, "pubsub", "subscriptions", "update")
    assert len(updates) == len(topics.EVENT_ROUTES)
    for update in updates:
        assert flag(update, "--ack-deadline") == "600"
        assert flag(update, "--dead-letter-topic") == dead
        assert flag(update, "--max-delivery-attempts") == str(topics.MAX_DELIVERY_ATTEMPTS)
        assert flag(update, "--min-retry-delay") and flag(update, "--max-retry-delay")
    pubsub_agent = "serviceAccount:service-PROJECT_NUMBER@gcp-sa-pubsub.iam.gserviceaccount.com"
    publisher = [c for c in commands(first, "pubsub", "topics", "add-iam-policy-binding")
                 if flag(c, "--member") == pubsub_agent]
    assert [(c[4], flag(c, "--role")) for c in publisher] == [(f"dev-{topics.DEAD_LETTER}", "roles/pubsub.publisher")]
    subscriber = [c for c in commands(first, "pubsub", "subscriptions", "add-iam-policy-binding")
                  if flag(c, "--member") == pubsub_agent]
    assert sorted(c[4] for c in subscriber) == sorted(c[4] for c in updates)
    assert all(flag(c, "--role") == "roles/pubsub.subscriber" for c in subscriber)
    dead_sub = f"dev-{topics.DEAD_LETTER_SUBSCRIPTION}"
    assert commands(first, "pubsub", "subscriptions", "create")[0][4] == dead_sub
    # agent-monitor records what lands there; the event agents park malformed messages on the topic
    readers = [(c[4], flag(c, "--member"), flag(c, "--role"))
               for c in commands(first, "pubsub", "subscriptions", "add-iam-policy-binding") if c[4] == dead_sub]
    assert readers == [(dead_sub, f"serviceAccount:{sa('agent-monitor')}", "roles/pubsub.subscriber")]
    parkers = {flag(c, "--member") for c in commands(first, "pubsub", "topics", "add-iam-policy-binding")
               if c[4] == f"dev-{topics.DEAD_LETTER}" and flag(c, "--member") != pubsub_agent}
    assert parkers == {f"serviceAccount:{sa(r.name)}" for r in topics.EVENT_ROUTES}


def test_private_bucket_with_lifecycle(first: DryRun) -> None:
    create = commands(first, "storage", "buckets", "create")[0]
    assert create[4] == f"gs://{PROJECT}-dev-media"
    assert "--uniform-bucket-level-access" in create and "--public-access-prevention" in create
    rules = json.loads(Path(flag(create, "--lifecycle-file")).read_text())["rule"]
    assert any(r["action"]["type"] == "Delete" and "veo31_videos/" in r["condition"].get("matchesPrefix", [])
               for r in rules)
    assert flag(commands(first, "firestore", "databases", "create")[0], "--database") == "dev-pipeline"


def test_firestore_database_and_monitor_indexes(first: DryRun) -> None:
    assert commands(first, "firestore", "databases", "create")
    indexes = {tuple(flags(c)["--field-config"]) for c in commands(first, "firestore", "indexes", "composite")}
    assert all(flag(c, "--collection-group") == "video_status"
               for c in commands(first, "firestore", "indexes", "composite"))
    for second in ("updated_at", "next_attempt_at"):
        assert ("field-path=status,order=ascending", f"field-path={second},order=ascending") in indexes


def test_cached_scripts_and_idempotency_keys_expire_by_ttl(first: DryRun) -> None:
    ttls = {flag(c, "--collection-group"): c for c in commands(first, "firestore", "fields", "ttls", "update")}
    assert set(ttls) == {"script_cache", "idempotency_keys"}
    assert all("expires_at" in ttl and "--enable-ttl" in ttl for ttl in ttls.values())


def test_front_door_may_sign_urls_as_itself_only(first: DryRun) -> None:
    [grant] = [c for c in commands(first, "iam", "service-accounts", "add-iam-policy-binding")
               if "gcp-sa-pubsub" not in flag(c, "--member")]
    assert sa("agent-script") in grant and flag(grant, "--member") == f"serviceAccount:{sa('agent-script')}"
    assert flag(grant, "--role") == "roles/iam.serviceAccountTokenCreator"


def test_scheduler_calls_the_monitor_every_two_minutes_with_oidc(first: DryRun) -> None:
    job = commands(first, "scheduler", "jobs", "create", "http")[0]
    assert flag(job, "--schedule") == "*/2 * * * *"
    assert flag(job, "--oidc-service-account-email") == sa("scheduler")
    assert flag(job, "--uri") == flag(job, "--oidc-token-audience")
    assert flag(job, "--uri") == f"https://dev-agent-monitor-PROJECT_NUMBER.{REGION}.run.app"
    invokers = commands(first, "functions", "add-invoker-policy-binding")
    assert any(c[3] == "dev-agent-monitor" and flag(c, "--member") == f"serviceAccount:{sa('scheduler')}"
               for c in invokers)


def test_no_cdn_and_no_budget_unless_asked(first: DryRun, tree: Path, tmp_path: Path) -> None:
    assert not commands(first, "compute"), "the Cloud CDN was removed (docs/operations.md, 'Cloud CDN')"
    bare = plan_in(tree, tmp_path, ["--project", PROJECT, "--region", REGION])
    assert not commands(bare, "compute")
    assert not commands(bare, "billing")


@pytest.mark.parametrize("args", [["--enable-cdn"], ["--cdn-domain", "media.example.com"]])
def test_cdn_flags_are_refused_with_a_pointer_to_the_docs(tree: Path, args: list[str]) -> None:
    result = dry_run(["--project", PROJECT, "--region", REGION, *args], root=tree)
    assert result.returncode != 0 and "Cloud CDN was removed" in result.stderr and "operations.md" in result.stderr


def test_budget_thresholds(first: DryRun) -> None:
    budget = commands(first, "billing", "budgets", "create")[0]
    assert sorted(float(v.split("=")[1]) for v in flags(budget)["--threshold-rule"]) == [0.5, 0.75, 0.9, 1.0]
    assert flag(budget, "--filter-projects") == f"projects/{PROJECT}"


def test_log_metrics_dashboard_and_alerts(first: DryRun) -> None:
    metrics = {c[4]: json.loads(Path(flag(c, "--config-from-file")).read_text())
               for c in commands(first, "logging", "metrics", "create")}
    assert 'jsonPayload.event="step_finished"' in metrics["dev_step_duration"]["filter"]
    assert metrics["dev_step_duration"]["valueExtractor"] == "EXTRACT(jsonPayload.duration_s)"
    assert metrics["dev_step_cost"]["valueExtractor"] == "EXTRACT(jsonPayload.cost_usd)"
    assert 'jsonPayload.event="status_changed"' in metrics["dev_video_status_changes"]["filter"]
    dashboard = json.loads(Path(flag(commands(first, "monitoring", "dashboards", "create")[0],
                                      "--config-from-file")).read_text())
    text = json.dumps(dashboard)
    titles = " | ".join(t["widget"]["title"].lower() for t in dashboard["mosaicLayout"]["tiles"])
    for wanted in ("videos per day", "success rate", "time per step", "cost per"):
        assert wanted in titles
    used = {m for m in metrics if m in text}
    assert used == set(metrics), "the dashboard reads every log-based metric"
    policies = [json.loads(Path(flag(c, "--policy-from-file")).read_text())
                for c in commands(first, "alpha", "monitoring", "policies", "create")]
    queries = json.dumps(policies)
    assert "> 0.1" in queries and "[1h]" in queries, "failure rate > 10 % over 1 h"
    assert "dev_step_duration" in queries, "step latency alert"


def test_required_apis_are_enabled(first: DryRun) -> None:
    enabled = set(commands(first, "services", "enable")[0][3:])
    for api in ("cloudfunctions", "run", "cloudbuild", "eventarc", "pubsub", "firestore", "cloudscheduler",
                "secretmanager", "logging", "monitoring", "generativelanguage", "billingbudgets", "iamcredentials"):
        assert f"{api}.googleapis.com" in enabled
    assert "compute.googleapis.com" not in enabled


def test_every_create_is_preceded_by_its_probe_and_a_rerun_updates(first: DryRun, rerun: DryRun) -> None:
    probes = ("describe", "list")
    # No probe exists for these; both are idempotent (an existing index is ALREADY_EXISTS, an existing service
    # identity is returned as it is).
    unprobed = (["firestore", "indexes"], ["beta", "services"])
    for index, command in enumerate(first.commands):
        if "create" in command[:5] and command[1:3] not in unprobed:
            assert any(p in first.commands[index - 1] for p in probes), command
    creates = [c for c in rerun.commands if "create" in c[:5] and c[1:3] not in unprobed]
    assert not creates, creates
    for words in (("pubsub", "topics", "update"), ("storage", "buckets", "update"), ("logging", "metrics", "update"),
                  ("scheduler", "jobs", "update"), ("monitoring", "dashboards", "update"),
                  ("billing", "budgets", "update")):
        assert commands(rerun, *words), words
    assert not commands(rerun, "secrets", "versions", "add"), "an existing key is never overwritten"


def test_environment_prefix_separates_every_name(tree: Path, tmp_path: Path) -> None:
    staging = plan_in(tree, tmp_path, [*FULL, "--env", "staging"])
    names = [c[3] for c in commands(staging, "functions", "deploy")] + \
            [c[4] for c in commands(staging, "pubsub", "topics", "create")] + \
            [c[4] for c in commands(staging, "iam", "service-accounts", "create")]
    assert names and all(n.startswith("staging-") for n in names)
    assert not any("dev-" in arg for c in staging.commands for arg in c)


def test_vertex_mode_has_no_api_key_secret(tree: Path, tmp_path: Path) -> None:
    vertex = plan_in(tree, tmp_path, ["--project", PROJECT, "--region", REGION, "--genai-mode", "vertex"])
    assert not commands(vertex, "secrets")
    for command in commands(vertex, "functions", "deploy"):
        assert "--clear-secrets" in command
        assert env_vars(command).get("VEO_MODEL") == (
            "veo-3.1-generate-001" if command[3] == "dev-agent-video-veo31" else None)


def test_staged_sources_are_self_contained(first: DryRun) -> None:
    for command in commands(first, "functions", "deploy"):
        source = Path(flag(command, "--source"))
        assert (source / "main.py").is_file() and (source / "shared" / "__init__.py").is_file()
        assert (source / ".gcloudignore").is_file()
        assert not list(source.rglob("__pycache__")) and not list(source.rglob("tests"))
        lines = [ln for ln in (source / "requirements.txt").read_text().splitlines() if ln and ln[0] != "#"]
        assert lines[0] == "--require-hashes"
        assert all("==" in ln and "--hash=sha256:" in ln for ln in lines[1:])
        assert any(ln.startswith("functions-framework==") for ln in lines)


@pytest.mark.parametrize(("args", "message"), [
    (["--region", REGION], "--project"),
    (["--project", PROJECT], "--region"),
    (["--project", PROJECT, "--region", REGION, "--env", "qa"], "--env"),
    (["--project", PROJECT, "--region", REGION, "--budget-amount", "10"], "--billing-account"),
    (["--project", PROJECT, "--region", REGION, "--genai-mode", "openai"], "--genai-mode"),
    (["--project", PROJECT, "--region", REGION, "--bogus"], "--bogus"),
    (["--project"], "--project"),
])
def test_bad_arguments_fail_clearly(tree: Path, args: list[str], message: str) -> None:
    result = dry_run(args, root=tree)
    assert result.returncode != 0
    assert "ERROR" in result.stderr and message in result.stderr
    assert not result.commands


def test_values_can_come_from_the_environment(tree: Path, tmp_path: Path) -> None:
    result = plan_in(tree, tmp_path, [], DEPLOY_PROJECT=PROJECT, DEPLOY_REGION=REGION, DEPLOY_ENV="prod")
    assert {c[3] for c in commands(result, "functions", "deploy")} >= {"prod-agent-script"}


def test_script_is_bash_and_shellcheck_clean() -> None:
    script = REPO_ROOT / "deploy-veo31.sh"
    assert subprocess.run(["bash", "-n", str(script)], capture_output=True).returncode == 0
    checked = subprocess.run(["shellcheck", str(script)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout


def test_spec_rows_come_from_shared_topics() -> None:
    rows = spec.function_specs("dev")
    assert {r.agent for r in rows} == {a.agent for a in topics.HTTP_AGENTS} | {r.name for r in topics.EVENT_ROUTES}
    assert {r.trigger_topic for r in rows if r.trigger_topic} == {f"dev-{r.topic}" for r in topics.EVENT_ROUTES}


def test_firestore_rules_denying_every_client_are_released_to_the_database(first: DryRun) -> None:
    [release] = commands(first, "alpha", "firebase", "security-rules", "release")
    assert release[5] == "cloud.firestore/dev-pipeline" and flag(release, "--project") == PROJECT
    source = Path(flag(release, "--source"))
    assert source.name == "firestore.rules" and "allow read, write: if false;" in source.read_text()
    assert "firebaserules.googleapis.com" in set(commands(first, "services", "enable")[0][3:])


def test_the_project_spend_cap_alerts_on_its_log_metric(first: DryRun) -> None:
    metrics = {c[4]: json.loads(Path(flag(c, "--config-from-file")).read_text())
               for c in commands(first, "logging", "metrics", "create")}
    assert 'jsonPayload.event="project_spend_cap"' in metrics["dev_project_spend_holds"]["filter"]
    policies = [json.loads(Path(flag(c, "--policy-from-file")).read_text())
                for c in commands(first, "alpha", "monitoring", "policies", "create")]
    assert any("user/dev_project_spend_holds" in json.dumps(p["conditions"]) for p in policies)
