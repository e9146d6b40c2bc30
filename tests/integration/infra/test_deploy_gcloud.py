"""Every gcloud command deploy-veo31.sh would run is parsed by the real gcloud, offline.

Each command of several dry-run plans (first deployment and re-run, Gemini API and Vertex, with
budget, and the describe commands of `--verify`) runs through /usr/bin/gcloud with an isolated config, a
fake access token and every API endpoint pointed at a local stub that answers HTTP 400 with a marker. A command whose
arguments gcloud accepts reaches the stub (its error names the marker); a typo'd flag or an
invalid choice stops in argument parsing (exit 2) and never reaches it. Nothing contacts Google:
APIs with no endpoint override (billingbudgets) go through HTTPS_PROXY, the same stub, which
refuses the CONNECT with the marker (gcloud retries that for ~30 s, so those commands start first).
Commands that differ only in principal or resource names are checked once.
"""
from __future__ import annotations

import http.server
import json
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from infra.deploy.dryrun import copy_deploy_tree, dry_run

GCLOUD = shutil.which("gcloud") or "/usr/bin/gcloud"
STUB_MARKER = "OFFLINE-STUB-REACHED"
# Every API the deployment talks to, as gcloud names them in api_endpoint_overrides.
APIS = ("artifactregistry", "cloudbilling", "cloudbuild", "cloudfunctions", "cloudresourcemanager",
        "cloudscheduler", "compute", "eventarc", "firestore", "iam", "logging", "monitoring", "pubsub", "run",
        "secrets", "secretmanager", "serviceusage", "storage")
# Commands that differ only in a principal, a role or the folder of a file are checked once.
MASKED_FLAGS = ("--member", "--display-name", "--role")
PATH_FLAGS = ("--source", "--config-from-file", "--policy-from-file", "--lifecycle-file", "--key-file", "--data-file")
PROJECT = "veo-offline-test"
BASE_ARGS = ["--project", PROJECT, "--region", "us-central1", "--budget-amount", "250",
             "--billing-account", "012345-6789AB-CDEF01"]
# Optional settings the functions get when set; the comma-separated ones need gcloud's alternate delimiter (^|^).
PASSED_SETTINGS = {"CORS_ORIGINS": "https://app.example,https://studio.example", "VEO_REQUESTS_PER_MINUTE": "20",
                   "MONITOR_BACKOFF_SECONDS": "30,90,300", "VEO_OPERATION_DEADLINE_SECONDS": "2400",
                   "AUTH_SERVICE_ACCOUNTS": ",".join(f"{name}@{PROJECT}.iam.gserviceaccount.com"
                                                     for name in ("nightly", "ops"))}
PLANS = {
    "first-deploy": (BASE_ARGS + ["--env", "dev"], "missing"),
    "re-run": (BASE_ARGS + ["--env", "dev"], "present"),
    # the front door's invoker IAM check disabled (organizations forbidding allUsers), every model flag
    "vertex": (BASE_ARGS + ["--env", "prod", "--genai-mode", "vertex", "--no-invoker-iam-check",
                            "--veo-fallback-model", "veo-3.1-fast-generate-001",
                            "--image-model", "gemini-3.1-flash-image",
                            "--notification-channels", f"projects/{PROJECT}/notificationChannels/123"], "missing"),
    "verify": (BASE_ARGS + ["--env", "dev", "--verify"], "missing"),
    "verify-vertex": (BASE_ARGS + ["--env", "prod", "--genai-mode", "vertex", "--verify"], "missing"),
}

pytestmark = pytest.mark.skipif(not Path(GCLOUD).exists(), reason="gcloud is not installed")


class _StubHandler(http.server.BaseHTTPRequestHandler):
    """Answers every request with a Google-style 400 error carrying the marker."""

    def _reply(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        body = json.dumps({"error": {"code": 400, "message": STUB_MARKER, "status": "INVALID_ARGUMENT"}}).encode()
        self.send_response(400)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _reply

    def do_CONNECT(self) -> None:  # noqa: N802 - http.server naming
        """As an HTTPS proxy: refuse the tunnel, naming the marker in the status line."""
        self.send_response(403, STUB_MARKER)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - signature of the base class
        pass


@dataclass(frozen=True)
class Outcome:
    """What gcloud did with one command."""

    command: list[str]
    returncode: int
    stderr: str

    @property
    def reached_api(self) -> bool:
        """True when gcloud accepted the arguments and called the (stub) API.

        The Cloud Run v1 API (`gcloud run services ...`) is regional: gcloud puts the region in front of the
        endpoint's host (`us-central1-127.0.0.1`), which cannot resolve, so those calls end in a connection
        error to that host, after argument parsing (exit 1, never the parser's 2).
        """
        regional_stub = (self.command[1:2] == ["run"] and "-127.0.0.1'" in self.stderr
                         and "ConnectionError" in self.stderr)
        return self.returncode == 0 or STUB_MARKER in self.stderr or (self.returncode == 1 and regional_stub)


@pytest.fixture(scope="module")
def stub_url() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _StubHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def gcloud_env(tmp_path_factory: pytest.TempPathFactory, stub_url: str) -> dict[str, str]:
    home = tmp_path_factory.mktemp("gcloud")
    token = home / "token"
    token.write_text("offline-fake-token")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLOUDSDK_", "GOOGLE_", "HTTP", "NO_PROXY"))}
    env.update({
        "CLOUDSDK_CONFIG": str(home / "config"),
        "CLOUDSDK_CORE_PROJECT": PROJECT,
        "CLOUDSDK_AUTH_ACCESS_TOKEN_FILE": str(token),
        "CLOUDSDK_CORE_DISABLE_PROMPTS": "1",
        "CLOUDSDK_CORE_CHECK_GCE_METADATA": "false",
        "CLOUDSDK_CORE_DISABLE_USAGE_REPORTING": "true",
        "CLOUDSDK_CORE_DISABLE_FILE_LOGGING": "true",
        "CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK": "true",
        "CLOUDSDK_SURVEY_DISABLE_PROMPTS": "true",
        "GCE_METADATA_HOST": "127.0.0.1:9", "GCE_METADATA_IP": "127.0.0.1:9", "NO_GCE_CHECK": "True",
        "HTTPS_PROXY": stub_url.rstrip("/"), "NO_PROXY": "127.0.0.1,localhost",
    })
    for api in APIS:
        env[f"CLOUDSDK_API_ENDPOINT_OVERRIDES_{api.upper()}"] = stub_url
    return env


def run_gcloud(command: list[str], env: dict[str, str]) -> Outcome:
    """Run one planned command with the real gcloud (stdin closed: secrets are read from it)."""
    assert command[0] == "gcloud", command
    proc = subprocess.run([GCLOUD, *command[1:]], env=env, capture_output=True, text=True, timeout=90,
                          stdin=subprocess.DEVNULL)
    return Outcome(command, proc.returncode, proc.stderr)


def run_all(commands: list[list[str]], env: dict[str, str]) -> list[Outcome]:
    """Run the commands in parallel (gcloud spends ~1 s starting up), proxied ones first."""
    ordered = sorted(commands, key=lambda c: c[1] != "billing")
    with ThreadPoolExecutor(max_workers=max(4, (os.cpu_count() or 2) * 2)) as pool:
        return list(pool.map(lambda c: run_gcloud(c, env), ordered))


def signature(command: list[str]) -> tuple[str, ...]:
    """The command with resource names and principals masked."""
    masked = []
    for arg in command:
        name, equals, _ = arg.partition("=")
        if arg.startswith("--") and equals and name in MASKED_FLAGS:
            masked.append(f"{name}=*")
        elif arg.startswith("--") and equals and name in PATH_FLAGS:
            masked.append(f"{name}={Path(arg.partition('=')[2]).name}")
        elif arg.startswith("--"):
            masked.append(arg)
        else:
            masked.append("<name>" if any(m in arg for m in ("dev-", "prod-", PROJECT, "/")) else arg)
    return tuple(masked)


@pytest.fixture(scope="module")
def planned_commands(tmp_path_factory: pytest.TempPathFactory) -> list[list[str]]:
    """One command per signature over every plan (work dirs kept: commands read their files)."""
    root = tmp_path_factory.mktemp("deploy-tree")
    copy_deploy_tree(root)
    unique: dict[tuple[str, ...], list[str]] = {}
    for name, (args, assume) in PLANS.items():
        work = tmp_path_factory.mktemp(f"work-{name}")
        result = dry_run([*args, "--work-dir", str(work)], root=root,
                         env={"DEPLOY_DRY_RUN_ASSUME": assume, "DEPLOY_PROJECT_NUMBER": "123456789012",
                              **PASSED_SETTINGS})
        assert result.returncode == 0, result.stderr
        for command in result.commands:
            unique.setdefault(signature(command), command)
    return list(unique.values())


# Commands of gcloud groups newer than this machine's SDK (528): the script checks for them before a real run.
NEWER_THAN_THIS_SDK = {("alpha", "firebase", "security-rules")}  # reference pages updated 2026-10


def _known_to_this_sdk(command: list[str]) -> bool:
    return tuple(command[1:4]) not in NEWER_THAN_THIS_SDK


def test_every_planned_command_is_accepted_by_gcloud(planned_commands: list[list[str]],
                                                     gcloud_env: dict[str, str]) -> None:
    outcomes = run_all([c for c in planned_commands if _known_to_this_sdk(c)], gcloud_env)
    rejected = [o for o in outcomes if not o.reached_api]
    report = "\n\n".join(f"$ {' '.join(o.command)}\nexit {o.returncode}\n{o.stderr.strip()[-800:]}"
                         for o in rejected)
    assert not rejected, f"{len(rejected)} of {len(outcomes)} commands rejected by gcloud:\n{report}"


def test_plans_cover_every_kind_of_resource(planned_commands: list[list[str]]) -> None:
    groups = {" ".join(c[1:3]) for c in planned_commands}
    for expected in ("functions deploy", "pubsub topics", "pubsub subscriptions", "scheduler jobs",
                     "firestore indexes", "secrets create", "logging metrics", "monitoring dashboards",
                     "alpha monitoring", "billing budgets", "storage buckets", "services enable",
                     "iam service-accounts", "beta services", "run services", "eventarc triggers",
                     "projects get-iam-policy", "secrets get-iam-policy", "firestore databases"):
        assert expected in groups, f"no '{expected}' command in the plans"
    assert not [c for c in planned_commands if c[1] == "compute"], "the Cloud CDN was removed"
    # the front door: public at the IAM level (allUsers), or its invoker IAM check disabled (docs/auth.md)
    assert [c for c in planned_commands if c[1:3] == ["functions", "deploy"] and "--allow-unauthenticated" in c]
    assert [c for c in planned_commands if c[1:4] == ["run", "services", "update"] and "--no-invoker-iam-check" in c]


@pytest.mark.parametrize("mutation", ["typo_flag", "invalid_choice"])
def test_negative_control_bad_arguments_are_detected(planned_commands: list[list[str]],
                                                     gcloud_env: dict[str, str], mutation: str) -> None:
    """The check is not vacuous: a typo'd flag or a bad value makes gcloud refuse the command."""
    deploy = next(c for c in planned_commands if c[1:3] == ["functions", "deploy"])
    if mutation == "typo_flag":
        broken = [arg.replace("--max-instances=", "--max-instance=") for arg in deploy]
    else:
        broken = [("--ingress-settings=internal-onli" if arg.startswith("--ingress-settings=") else arg)
                  for arg in deploy]
    assert broken != deploy
    good, bad = run_all([deploy, broken], gcloud_env)
    assert good.reached_api, good.stderr
    assert not bad.reached_api
    assert bad.returncode == 2
    assert "unrecognized arguments" in bad.stderr or "Invalid choice" in bad.stderr or "invalid choice" in bad.stderr


def test_firestore_point_in_time_recovery_is_turned_on(planned_commands: list[list[str]]) -> None:
    """Backups: a new database is created with PITR and an existing one is updated to it (docs/operations.md)."""
    databases = [c for c in planned_commands if c[1:3] == ["firestore", "databases"]]
    creates = [c for c in databases if c[3] == "create"]
    updates = [c for c in databases if c[3] == "update"]
    assert creates and all("--enable-pitr" in c for c in creates), creates
    assert updates and all("--enable-pitr" in c for c in updates), updates
    ttls = {a for c in planned_commands if c[1:4] == ["firestore", "fields", "ttls"] for a in c
            if a.startswith("--collection-group=")}
    assert "--collection-group=idempotency_keys" in ttls, ttls
