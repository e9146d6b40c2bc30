"""`./deploy-veo31.sh --verify`: the checks of infra/deploy/verify.py run on recorded describe outputs.

tests/fixtures/gcloud/dev/ holds, one file per command, what `gcloud ... --format=json` returns for a
correctly deployed `dev` environment (written by hand from the REST resource formats cited in verify.py).
Each test breaks one property in a copy and expects exactly the matching check to fail.
"""
from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from infra.deploy import verify
from infra.deploy.dryrun import REPO_ROOT

FIXTURES = REPO_ROOT / "tests/fixtures/gcloud/dev"
PROJECT, REGION = "veo-verify-test", "europe-west1"
QA_SA = "dev-agent-qa@veo-verify-test.iam.gserviceaccount.com"
QA_SUB = "pubsub_subscriptions_describe_eventarc-europe-west1-dev-agent-qa-481516-sub-342"


def checks(folder: Path = FIXTURES, **target: Any) -> list[verify.Check]:
    t = verify.Target(PROJECT, REGION, "dev", **target)
    return verify.run_checks(t, verify.RecordedGcloud(folder))


def broken(tmp_path: Path, name: str, change: Callable[[Any], None]) -> Path:
    folder = tmp_path / "recorded"
    shutil.copytree(FIXTURES, folder)
    path = folder / f"{name}.json"
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))
    return folder


def failed(result: list[verify.Check]) -> list[str]:
    return [c.line() for c in result if not c.ok]


def test_a_correct_deployment_passes_every_check() -> None:
    result = checks()
    assert len(result) > 60 and not failed(result)
    covered = " ".join(c.what for c in result)
    for what in ("ack deadline", "dead letters", "retry backoff", "ingress", "secrets", "datastore.user",
                 "audience", "invokable by", "lifecycle", "public access prevention", "built by", "Firestore",
                 "invokable by anyone", "AUTH_AUDIENCE", "AUTH_CERTS_URL"):
        assert what in covered, what


@pytest.mark.parametrize(("name", "change", "expected"), [
    (QA_SUB, lambda d: d.update(ackDeadlineSeconds=10), "dev-agent-qa subscription: ack deadline 10 s"),
    (QA_SUB, lambda d: d.pop("deadLetterPolicy"), "dev-agent-qa subscription: dead letters"),
    (QA_SUB, lambda d: d["retryPolicy"].update(maximumBackoff="60s"), "dev-agent-qa subscription: retry backoff"),
    ("functions_describe_dev-agent-monitor", lambda d: d["serviceConfig"].update(ingressSettings="ALLOW_ALL"),
     "dev-agent-monitor: ingress ALLOW_INTERNAL_ONLY"),
    ("functions_describe_dev-agent-qa", lambda d: d["serviceConfig"].update(secretEnvironmentVariables=[
        {"key": "GEMINI_API_KEY", "secret": "dev-gemini-api-key", "version": "latest"}]),
     "dev-agent-qa: secrets none"),
    ("functions_describe_dev-agent-script", lambda d: d["serviceConfig"].pop("secretEnvironmentVariables"),
     "dev-agent-script: secrets ['GEMINI_API_KEY']"),
    ("functions_describe_dev-agent-qa", lambda d: d["buildConfig"].pop("serviceAccount"), "dev-agent-qa: built by"),
    ("scheduler_jobs_describe_dev-monitor-tick",
     lambda d: d["httpTarget"]["oidcToken"].update(audience="https://europe-west1-x.cloudfunctions.net/m"),
     "dev-monitor-tick: audience https://dev-agent-monitor-123456789012.europe-west1.run.app"),
    ("run_services_get-iam-policy_dev-agent-monitor", lambda d: d.update(bindings=[]), "dev-agent-monitor: invokable"),
    ("run_services_get-iam-policy_dev-agent-script", lambda d: d.update(bindings=[]),
     "dev-agent-script: invokable by anyone at the IAM level"),
    ("functions_describe_dev-agent-script", lambda d: d["serviceConfig"]["environmentVariables"].pop("AUTH_AUDIENCE"),
     "dev-agent-script: AUTH_AUDIENCE names https://europe-west1-veo-verify-test.cloudfunctions.net/dev-agent-script, "
     "https://dev-agent-script-123456789012.europe-west1.run.app"),
    ("functions_describe_dev-agent-script", lambda d: d["serviceConfig"]["environmentVariables"].update(
        AUTH_CERTS_URL="http://127.0.0.1:8099/certs"), "dev-agent-script: AUTH_CERTS_URL unset"),
    (f"projects_get-iam-policy_{PROJECT}", lambda d: d["bindings"].append(
        {"role": "roles/datastore.user", "members": [f"serviceAccount:{QA_SA}"]}),
     f"{QA_SA}: roles/datastore.user on database dev-pipeline only"),
    (f"projects_get-iam-policy_{PROJECT}", lambda d: d["bindings"].append(
        {"role": "roles/iam.serviceAccountTokenCreator",
         "members": ["serviceAccount:service-123456789012@gcp-sa-pubsub.iam.gserviceaccount.com"]}),
     "Pub/Sub service agent: no project-wide token creator"),
    ("secrets_get-iam-policy_dev-gemini-api-key", lambda d: d["bindings"][0]["members"].append(
        f"serviceAccount:{QA_SA}"), "dev-gemini-api-key: readable by"),
    (f"iam_service-accounts_get-iam-policy_{QA_SA}", lambda d: d.update(bindings=[]),
     f"{QA_SA}: Pub/Sub service agent"),
    ("storage_buckets_describe_veo-verify-test-dev-media",
     lambda d: d["lifecycle"]["rule"][0]["condition"]["matchesPrefix"].remove("veo31_blocks/"),
     "gs://veo-verify-test-dev-media: lifecycle deletes"),
    ("storage_buckets_describe_veo-verify-test-dev-media",
     lambda d: d["iamConfiguration"].update(publicAccessPrevention="inherited"),
     "gs://veo-verify-test-dev-media: public access prevention"),
    ("firestore_databases_describe", lambda d: d.update(name="projects/veo-verify-test/databases/(default)"),
     "Firestore database dev-pipeline: exists"),
])
def test_each_broken_property_fails_its_check(tmp_path: Path, name: str, change: Callable[[Any], None],
                                              expected: str) -> None:
    result = failed(checks(broken(tmp_path, name, change)))
    assert len(result) == 1 and result[0].startswith(f"FAIL  {expected}"), result


def test_a_front_door_with_its_invoker_check_disabled_passes_without_all_users(tmp_path: Path) -> None:
    folder = broken(tmp_path, "run_services_get-iam-policy_dev-agent-script", lambda d: d.update(bindings=[]))
    service = {"metadata": {"name": "dev-agent-script", "annotations": {verify.INVOKER_IAM_DISABLED: "true"}}}
    (folder / "run_services_describe_dev-agent-script.json").write_text(json.dumps(service))
    assert not failed(checks(folder))


def test_vertex_mode_checks_the_vertex_service_agent_on_the_bucket(tmp_path: Path) -> None:
    folder = tmp_path / "recorded"
    shutil.copytree(FIXTURES, folder)
    for name in ("functions_describe_dev-agent-script", "functions_describe_dev-agent-video-veo31",
                 "functions_describe_dev-agent-assembler-storyboards"):
        doc = json.loads((folder / f"{name}.json").read_text())
        doc["serviceConfig"].pop("secretEnvironmentVariables")
        (folder / f"{name}.json").write_text(json.dumps(doc))
    assert [c.split(":")[0] for c in failed(checks(folder, genai_mode="vertex"))] == [
        "FAIL  gs", "FAIL  gs"], "no bucket IAM policy recorded: both Vertex AI roles missing"
    agent = "serviceAccount:service-123456789012@gcp-sa-aiplatform.iam.gserviceaccount.com"
    (folder / "storage_buckets_get-iam-policy_veo-verify-test-dev-media.json").write_text(json.dumps({"bindings": [
        {"role": "roles/storage.objectCreator", "members": [agent]},
        {"role": "roles/storage.objectViewer", "members": [agent]}]}))
    assert not failed(checks(folder, genai_mode="vertex"))


def test_the_cli_prints_one_line_per_check_and_fails_when_one_fails(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--project", PROJECT, "--region", REGION, "--env", "dev"]
    assert verify.main([*args, "--recorded", str(FIXTURES)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines and all(line.startswith("OK    ") for line in lines)
    folder = broken(tmp_path, QA_SUB, lambda d: d.update(ackDeadlineSeconds=60))
    assert verify.main([*args, "--recorded", str(folder), "--only", "subscriptions"]) == 1
    out = capsys.readouterr().out
    assert "FAIL  dev-agent-qa subscription: ack deadline 60 s" in out and "firestore" not in out.lower()


def test_every_recorded_file_is_asked_for() -> None:
    gcloud = verify.RecordedGcloud(FIXTURES)
    verify.run_checks(verify.Target(PROJECT, REGION, "dev"), gcloud)
    assert {p.name for p in FIXTURES.glob("*.json")} <= set(gcloud.asked)
