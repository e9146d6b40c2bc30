"""Issue 13 §2: the plan of a first deployment on a fresh project has everything a fresh project needs.

Each test reads the dry-run plan (every gcloud command, in order) and fails if the point it names is undone.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from infra.deploy import spec
from infra.deploy.dryrun import DryRun, flag_values, planned
from shared.core import layout, topics

PROJECT = "veo-fresh-test"
REGION = "europe-west1"
BASE = ["--project", PROJECT, "--region", REGION, "--env", "dev"]
PUBSUB_AGENT = "serviceAccount:service-PROJECT_NUMBER@gcp-sa-pubsub.iam.gserviceaccount.com"
TOKEN_CREATOR = "roles/iam.serviceAccountTokenCreator"


def sa(principal: str) -> str:
    return f"dev-{principal}@{PROJECT}.iam.gserviceaccount.com"


def one(command: list[str], name: str) -> str:
    values = flag_values(command, name)
    assert len(values) == 1, (name, command)
    return values[0]


def index_of(result: DryRun, predicate: object) -> int:
    return next(i for i, c in enumerate(result.commands) if predicate(c))  # type: ignore[operator]


def env_vars(command: list[str]) -> dict[str, str]:
    value = one(command, "--set-env-vars")
    return dict(item.split("=", 1) for item in value[3:].split("|"))


@pytest.fixture(scope="module")
def first(make_plan) -> DryRun:  # type: ignore[no-untyped-def]
    return make_plan(BASE)


@pytest.fixture(scope="module")
def vertex(make_plan) -> DryRun:  # type: ignore[no-untyped-def]
    return make_plan([*BASE, "--genai-mode", "vertex"])


def test_build_account_is_created_granted_the_documented_roles_and_used_by_every_build(first: DryRun) -> None:
    builder = sa("builder")
    assert [c[4] for c in planned(first, "iam", "service-accounts", "create")].count("dev-builder") == 1
    granted = {one(c, "--role") for c in planned(first, "projects", "add-iam-policy-binding")
               if one(c, "--member") == f"serviceAccount:{builder}"}
    assert granted == {"roles/cloudbuild.builds.builder", "roles/logging.logWriter", "roles/artifactregistry.writer",
                       "roles/storage.objectViewer"}
    deploys = planned(first, "functions", "deploy")
    assert deploys and all(one(c, "--build-service-account") == f"projects/{PROJECT}/serviceAccounts/{builder}"
                           for c in deploys)
    first_build = index_of(first, lambda c: c[1:3] == ["functions", "deploy"])
    last_grant = max(i for i, c in enumerate(first.commands) if f"--member=serviceAccount:{builder}" in c)
    assert last_grant < first_build, "the build account has its roles before the first build"


def test_pubsub_identity_is_created_before_any_grant_and_its_token_creator_is_scoped(first: DryRun) -> None:
    created = index_of(first, lambda c: c[1:5] == ["beta", "services", "identity", "create"]
                       and "--service=pubsub.googleapis.com" in c)
    grants = [i for i, c in enumerate(first.commands) if f"--member={PUBSUB_AGENT}" in c]
    assert grants and created < min(grants)
    project_wide = [c for c in planned(first, "projects", "add-iam-policy-binding") if PUBSUB_AGENT in " ".join(c)]
    assert not project_wide, "no project-wide grant to the Pub/Sub service agent"
    scoped = [c[4] for c in planned(first, "iam", "service-accounts", "add-iam-policy-binding")
              if one(c, "--member") == PUBSUB_AGENT and one(c, "--role") == TOKEN_CREATOR]
    assert sorted(scoped) == sorted(sa(r.name) for r in topics.EVENT_ROUTES), "only the push (trigger) accounts"
    triggers = {one(c, "--trigger-service-account") for c in planned(first, "functions", "deploy")
                if flag_values(c, "--trigger-topic")}
    assert triggers == set(scoped)


def test_signed_urls_can_use_iam_signblob(first: DryRun) -> None:
    assert "iamcredentials.googleapis.com" in planned(first, "services", "enable")[0]


def test_event_subscriptions_get_a_600s_ack_deadline_and_are_read_back(first: DryRun) -> None:
    updates = planned(first, "pubsub", "subscriptions", "update")
    assert len(updates) == len(topics.EVENT_ROUTES)
    for update in updates:
        assert int(one(update, "--ack-deadline")) >= spec.EVENT_TIMEOUT_MAX_S
        assert one(update, "--ack-deadline") == "600"
        assert one(update, "--max-delivery-attempts") == str(topics.MAX_DELIVERY_ATTEMPTS)
        assert one(update, "--min-retry-delay") == "10s" and one(update, "--max-retry-delay") == "600s"
        name = update[4]
        described = [i for i, c in enumerate(first.commands)
                     if c[1:4] == ["pubsub", "subscriptions", "describe"] and c[4] == name]
        assert described and described[0] > first.commands.index(update), f"{name} is read back after its update"
    assert "reading the event subscriptions back" in first.stderr


def test_consumers_are_deployed_before_producers_and_the_front_door_last(first: DryRun) -> None:
    order = [c[3].removeprefix("dev-") for c in planned(first, "functions", "deploy")]
    assert order[:4] == ["agent-monitor-webhooks", "agent-qa", "agent-assembler", "agent-video-veo31"]
    assert order[-1] == "agent-script"
    roles = json.loads((Path(spec.GCP_DIR) / "iam/roles.json").read_text())
    consumer = {r.topic: r.name for r in topics.EVENT_ROUTES}
    for agent in order:
        for binding in roles[agent]:
            topic = binding["on"].partition(":")[2]
            if binding["role"] == spec.PUBLISHER_ROLE and consumer.get(topic, agent) != agent:
                assert order.index(consumer[topic]) < order.index(agent), (agent, "publishes to", topic)


def test_lifecycle_expires_every_intermediate_job_folder_of_layout(first: DryRun) -> None:
    create = planned(first, "storage", "buckets", "create")[0]
    rules = json.loads(Path(one(create, "--lifecycle-file")).read_text())["rule"]
    deleted = {p for r in rules if r["action"]["type"] == "Delete" for p in r["condition"]["matchesPrefix"]}
    assert layout.DELIVERED_JOB_FOLDERS == (layout.RENDITIONS,), "renditions/ is delivered (rendition_urls)"
    assert deleted == {f"{folder}/" for folder in layout.INTERMEDIATE_JOB_FOLDERS}
    assert not deleted & {f"{folder}/" for folder in layout.DELIVERED_JOB_FOLDERS}


def test_job_folders_are_delivered_or_intermediate_and_new_ones_are_intermediate() -> None:
    assert set(layout.DELIVERED_JOB_FOLDERS) <= set(layout.JOB_FOLDERS)
    assert set(layout.INTERMEDIATE_JOB_FOLDERS) == set(layout.JOB_FOLDERS) - set(layout.DELIVERED_JOB_FOLDERS)
    assert "keep" not in json.loads((spec.GCP_DIR / "lifecycle.json").read_text())["job_folders"], \
        "the delivered folders are declared once, in shared/core/layout.py"


def test_a_new_intermediate_folder_expires_without_editing_infra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(layout, "INTERMEDIATE_JOB_FOLDERS", (*layout.INTERMEDIATE_JOB_FOLDERS, "new_intermediate"))
    prefixes = spec.lifecycle_policy()["rule"][0]["condition"]["matchesPrefix"]
    assert "new_intermediate/" in prefixes and "renditions/" not in prefixes


def test_lifecycle_refuses_the_old_keep_list(tmp_path: Path) -> None:
    (tmp_path / "lifecycle.json").write_text(json.dumps(
        {"job_folders": {"delete_after_days": 7, "keep": {"renditions": "why"}},
         "abort_incomplete_multipart_upload_days": 1}))
    with pytest.raises(spec.SpecError, match="DELIVERED_JOB_FOLDERS"):
        spec.lifecycle_policy(tmp_path)


def test_vertex_service_agent_may_write_and_read_the_bucket_in_vertex_mode_only(first: DryRun, vertex: DryRun) -> None:
    agent = "serviceAccount:service-PROJECT_NUMBER@gcp-sa-aiplatform.iam.gserviceaccount.com"
    roles = {one(c, "--role") for c in planned(vertex, "storage", "buckets", "add-iam-policy-binding")
             if one(c, "--member") == agent}
    assert roles == {"roles/storage.objectCreator", "roles/storage.objectViewer"}
    created = index_of(vertex, lambda c: "--service=aiplatform.googleapis.com" in c and "identity" in c)
    assert created < index_of(vertex, lambda c: f"--member={agent}" in c)
    assert not [c for c in first.commands if any("gcp-sa-aiplatform" in a for a in c)]


def test_gemini_key_is_mounted_and_readable_only_where_gemini_or_veo_is_called(first: DryRun, vertex: DryRun) -> None:
    with_key = {"agent-script", "agent-video-veo31", "agent-assembler-storyboards"}
    for command in planned(first, "functions", "deploy"):
        agent = command[3].removeprefix("dev-")
        env = env_vars(command)
        if agent in with_key:
            assert one(command, "--set-secrets") == "GEMINI_API_KEY=dev-gemini-api-key:latest"
            assert env["GEMINI_API_KEY_REQUIRED"] == "true"
        else:
            assert "--clear-secrets" in command and not flag_values(command, "--set-secrets"), agent
            assert env["GEMINI_API_KEY_REQUIRED"] == "false"
    readers = {one(c, "--member") for c in planned(first, "secrets", "add-iam-policy-binding")}
    assert readers == {f"serviceAccount:{sa(a)}" for a in with_key}
    for command in planned(vertex, "functions", "deploy"):
        assert "--clear-secrets" in command and env_vars(command)["GEMINI_API_KEY_REQUIRED"] == "false"


@pytest.mark.parametrize(("args", "database"),
                         [([], "dev-pipeline"), (["--firestore-database", "shared-db"], "shared-db")])
def test_datastore_user_is_limited_to_the_environment_database(make_plan, args: list[str],  # type: ignore[no-untyped-def]
                                                               database: str) -> None:
    result = make_plan([*BASE, *args])
    grants = [c for c in planned(result, "projects", "add-iam-policy-binding")
              if one(c, "--role") == "roles/datastore.user"]
    assert {one(c, "--member") for c in grants} == {f"serviceAccount:{sa(f.agent)}" for f in spec.function_specs("dev")}
    name = f"projects/{PROJECT}/databases/{database}"
    for grant in grants:
        condition = one(grant, "--condition")
        assert condition.startswith("^;^") and f'resource.name == "{name}"' in condition
        assert f'resource.name.startsWith("{name}/")' in condition
    assert one(planned(result, "firestore", "databases", "create")[0], "--database") == database
    assert all(env_vars(c)["FIRESTORE_DATABASE"] == database for c in planned(result, "functions", "deploy"))


def test_dry_run_prints_the_run_app_url_a_real_run_uses(make_plan) -> None:  # type: ignore[no-untyped-def]
    result = make_plan(BASE, DEPLOY_PROJECT_NUMBER="123456789012")
    url = f"https://dev-agent-monitor-123456789012.{REGION}.run.app"
    job = planned(result, "scheduler", "jobs", "create", "http")[0]
    assert one(job, "--uri") == url and one(job, "--oidc-token-audience") == url
    [lookup] = planned(result, "run", "services", "describe")
    assert lookup[4] == "dev-agent-monitor" and one(lookup, "--format") == "value(status.url)"


def test_cost_metric_is_in_usd_and_alerts_cover_monitor_scheduler_and_backlog(first: DryRun) -> None:
    metrics = {c[4]: json.loads(Path(one(c, "--config-from-file")).read_text())
               for c in planned(first, "logging", "metrics", "create")}
    cost = metrics["dev_step_cost"]
    assert cost["metricDescriptor"]["unit"] == "{USD}"
    assert "jsonPayload.cost_usd>=0" in cost["filter"], "a step that cost nothing still counts"
    policies = [json.loads(Path(one(c, "--policy-from-file")).read_text())
                for c in planned(first, "alpha", "monitoring", "policies", "create")]
    text = json.dumps(policies)
    absent = [c for p in policies for c in p["conditions"] if "conditionAbsent" in c]
    assert any("dev-agent-monitor" in c["conditionAbsent"]["filter"] for c in absent), "scheduler/monitor stopped"
    assert "response_code_class" in text, "monitor failing"
    assert "pubsub.googleapis.com/subscription/oldest_unacked_message_age" in text


def test_the_run_says_what_it_did(first: DryRun) -> None:
    summary = first.stderr[first.stderr.index("environment dev planned"):]
    assert ("dev-agent-monitor-webhooks dev-agent-qa dev-agent-assembler dev-agent-video-veo31 dev-agent-monitor "
            "dev-agent-assembler-storyboards dev-agent-script") in summary
    assert "builds run as dev-builder@" in summary
    assert "Gemini key mounted in: dev-agent-video-veo31 dev-agent-assembler-storyboards dev-agent-script" in summary
    assert "Firestore database dev-pipeline" in summary and ".run.app" in summary


def test_verify_in_a_dry_run_prints_its_describe_commands(make_plan) -> None:  # type: ignore[no-untyped-def]
    result = make_plan([*BASE, "--verify"])
    assert result.commands and all("--format=json" in c for c in result.commands)
    kinds = {" ".join(c[1:3]) for c in result.commands}
    for kind in ("functions describe", "pubsub subscriptions", "projects get-iam-policy", "scheduler jobs",
                 "storage buckets", "firestore databases", "secrets get-iam-policy", "run services"):
        assert kind in kinds, kind
    assert not planned(result, "functions", "deploy"), "--verify changes nothing"
