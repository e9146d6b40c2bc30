"""Check a deployed environment against the specs: `./deploy-veo31.sh --verify` runs this module.

Every resource the deployment made is described with `gcloud ... --format=json` and checked where it
matters; each check prints one line, `OK    what` or `FAIL  what: why`, and the exit status is 1 when one
failed. The describe formats are the REST resources of each API:
  functions   https://cloud.google.com/functions/docs/reference/rest/v2/projects.locations.functions
  eventarc    https://cloud.google.com/eventarc/docs/reference/rest/v1/projects.locations.triggers
  pubsub      https://cloud.google.com/pubsub/docs/reference/rest/v1/projects.subscriptions
  scheduler   https://cloud.google.com/scheduler/docs/reference/rest/v1/projects.locations.jobs
  run         https://cloud.google.com/run/docs/reference/rest/v1/namespaces.services (status.url, annotations)
  storage     https://cloud.google.com/storage/docs/json_api/v1/buckets (`--raw`)
  firestore   https://cloud.google.com/firestore/docs/reference/rest/v1/projects.databases
  IAM policy  https://cloud.google.com/iam/docs/reference/rest/v1/Policy

The checks are pure functions of those documents, so tests run them on recorded outputs
(tests/fixtures/gcloud/, through `RecordedGcloud`). `--only subscriptions` is what deploy-veo31.sh runs
right after configuring the Eventarc subscriptions; `--print-commands` prints the describe commands
instead of running them (the dry run's plan).

CLI: python -m infra.deploy.verify --project P --region R --env E [--genai-mode M] [--bucket B]
     [--firestore-database D] [--only functions|subscriptions|iam|scheduler|bucket|firestore] [--print-commands]
"""
from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from infra.deploy import spec
from shared.core import topics

ACK_DEADLINE_S = 600  # Pub/Sub's maximum, above the 540 s of an event function
MIN_ACK_DEADLINE_S = spec.EVENT_TIMEOUT_MAX_S
MIN_RETRY_DELAY = "10s"
MAX_RETRY_DELAY = "600s"
INGRESS = {"all": "ALLOW_ALL", "internal-only": "ALLOW_INTERNAL_ONLY", "internal-and-gclb": "ALLOW_INTERNAL_AND_GCLB"}
SECTIONS = ("functions", "subscriptions", "iam", "scheduler", "bucket", "firestore")
DATASTORE_ROLE = "roles/datastore.user"
# Cloud Run's annotation of a service whose invoker IAM check is disabled (`--no-invoker-iam-check`).
# https://cloud.google.com/run/docs/securing/managing-access#invoker_check
INVOKER_IAM_DISABLED = "run.googleapis.com/invoker-iam-disabled"
TOKEN_CREATOR = "roles/iam.serviceAccountTokenCreator"


class Gcloud(Protocol):
    """Runs one read-only gcloud command and returns its JSON output (None when it failed)."""

    def json(self, args: list[str]) -> Any: ...


class GcloudCli:
    """The real gcloud."""

    def json(self, args: list[str]) -> Any:
        proc = subprocess.run(["gcloud", *args, "--format=json"], capture_output=True, text=True, check=False,
                              stdin=subprocess.DEVNULL)
        if proc.returncode != 0:
            return None
        return json.loads(proc.stdout or "null")


class PrintingGcloud:
    """--print-commands: print each command (shell-quoted, as the dry run does) and answer nothing."""

    def __init__(self, out: Callable[[str], None] = print) -> None:
        self.out = out
        self.printed: set[str] = set()

    def json(self, args: list[str]) -> Any:
        line = shlex.join(["gcloud", *args, "--format=json"])
        if line not in self.printed:
            self.printed.add(line)
            self.out(line)
        return None


class RecordedGcloud:
    """Answers from recorded outputs: `fixture_name(args)` + .json in a folder (missing file: failed)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.asked: list[str] = []

    def json(self, args: list[str]) -> Any:
        path = self.folder / f"{fixture_name(args)}.json"
        self.asked.append(path.name)
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def fixture_name(args: list[str]) -> str:
    """The command's verbs and resource names, without flags ('functions_describe_dev-agent-qa')."""
    words = []
    for arg in args:
        if arg.startswith("--"):
            continue
        words.append(arg.rstrip("/").rsplit("/", 1)[-1])
    return "_".join(words)


@dataclass(frozen=True)
class Check:
    """One verified property."""

    what: str
    ok: bool
    why: str = ""

    def line(self) -> str:
        return f"OK    {self.what}" if self.ok else f"FAIL  {self.what}: {self.why}"


@dataclass
class Target:
    """The environment being verified."""

    project: str
    region: str
    env: str
    genai_mode: str = "gemini_api"
    bucket: str = ""
    database: str = ""
    project_number: str = ""
    functions: list[spec.FunctionSpec] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.bucket = self.bucket or f"{self.project}-{self.env}-media"
        self.database = self.database or default_database(self.env)
        self.functions = self.functions or spec.function_specs(self.env)

    def sa(self, principal: str) -> str:
        return f"{self.env}-{principal}@{self.project}.iam.gserviceaccount.com"

    def scope(self) -> list[str]:
        return [f"--project={self.project}"]

    def regional(self) -> list[str]:
        return [f"--project={self.project}", f"--region={self.region}"]


def default_database(env: str) -> str:
    """One Firestore database per environment (deploy-veo31.sh's default)."""
    return f"{env}-pipeline"


def database_condition(project: str, database: str) -> str:
    """The IAM condition that limits a Firestore role to one database (and nothing below another one)."""
    name = f"projects/{project}/databases/{database}"
    return f'resource.name == "{name}" || resource.name.startsWith("{name}/")'


def _check(what: str, ok: bool, why: str = "") -> Check:
    return Check(what, bool(ok), "" if ok else why)


def _get(doc: Any, path: str, default: Any = None) -> Any:
    """doc["a"]["b"] for path "a.b" (default where missing)."""
    for key in path.split("."):
        if not isinstance(doc, dict) or key not in doc:
            return default
        doc = doc[key]
    return doc


def _members(policy: Any, role: str, conditional: bool | None = None) -> set[str]:
    """Members granted `role` in an IAM policy (only conditional or unconditional bindings when asked)."""
    found: set[str] = set()
    for binding in (policy or {}).get("bindings", []):
        if binding.get("role") != role:
            continue
        if conditional is not None and bool(binding.get("condition")) != conditional:
            continue
        found |= set(binding.get("members", []))
    return found


def _conditions(policy: Any, role: str, member: str) -> list[str]:
    return [b["condition"].get("expression", "") for b in (policy or {}).get("bindings", [])
            if b.get("role") == role and member in b.get("members", []) and b.get("condition")]


# --- sections --------------------------------------------------------------------------------------
def check_functions(t: Target, gcloud: Gcloud) -> Iterator[Check]:
    """State, ingress, identity, build account, secret mounts, timeout and trigger of each function."""
    builder = f"projects/{t.project}/serviceAccounts/{t.sa(spec.BUILDER)}"
    for f in t.functions:
        doc = gcloud.json(["functions", "describe", f.name, *t.regional()])
        if doc is None:
            yield Check(f"{f.name}: deployed", False, "gcloud functions describe failed")
            continue
        yield _check(f"{f.name}: state ACTIVE", doc.get("state") == "ACTIVE", f"state {doc.get('state')}")
        ingress = _get(doc, "serviceConfig.ingressSettings")
        yield _check(f"{f.name}: ingress {INGRESS[f.ingress]}", ingress == INGRESS[f.ingress], f"ingress {ingress}")
        runtime_sa = _get(doc, "serviceConfig.serviceAccountEmail")
        yield _check(f"{f.name}: runs as {t.sa(f.agent)}", runtime_sa == t.sa(f.agent), f"runs as {runtime_sa}")
        built_by = _get(doc, "buildConfig.serviceAccount", "")
        yield _check(f"{f.name}: built by {t.sa(spec.BUILDER)}", built_by == builder, f"build account {built_by!r}")
        mounted = sorted(s.get("key", "") for s in _get(doc, "serviceConfig.secretEnvironmentVariables", []) or [])
        wanted = ["GEMINI_API_KEY"] if f.gemini_key and t.genai_mode == "gemini_api" else []
        secrets = {s.get("secret", "") for s in _get(doc, "serviceConfig.secretEnvironmentVariables", []) or []}
        yield _check(f"{f.name}: secrets {wanted or 'none'}",
                     mounted == wanted and secrets <= {f"{t.env}-gemini-api-key"}, f"mounted {mounted} from {secrets}")
        timeout = _get(doc, "serviceConfig.timeoutSeconds")
        yield _check(f"{f.name}: timeout {f.timeout_s} s", timeout == f.timeout_s, f"timeout {timeout}")
        if f.agent == spec.FRONT_DOOR:
            yield from check_front_door(t, gcloud, f, doc)
        if f.trigger_topic:
            topic = _get(doc, "eventTrigger.pubsubTopic")
            wanted_topic = f"projects/{t.project}/topics/{f.trigger_topic}"
            yield _check(f"{f.name}: triggered by {f.trigger_topic}", topic == wanted_topic, f"topic {topic}")
            retry = _get(doc, "eventTrigger.retryPolicy")
            yield _check(f"{f.name}: retries failed events", retry == "RETRY_POLICY_RETRY", f"retryPolicy {retry}")


def check_front_door(t: Target, gcloud: Gcloud, f: spec.FunctionSpec, doc: Any) -> Iterator[Check]:
    """The front door is invokable by anyone at the IAM level (allUsers, or its invoker IAM check disabled) and
    authenticates in the application: AUTH_AUDIENCE names both its URLs, AUTH_CERTS_URL is unset (docs/auth.md)."""
    policy = gcloud.json(["run", "services", "get-iam-policy", f.name, *t.regional()])
    service = gcloud.json(["run", "services", "describe", f.name, *t.regional()])
    public = "allUsers" in _members(policy, "roles/run.invoker")
    unchecked = str((_get(service, "metadata.annotations") or {}).get(INVOKER_IAM_DISABLED, "")).lower() == "true"
    yield _check(f"{f.name}: invokable by anyone at the IAM level (allUsers or invoker IAM check disabled)",
                 public or unchecked, "IAM-private: browsers, API keys and Firebase users cannot reach the app; "
                 "re-run deploy-veo31.sh (docs/auth.md)")
    env = _get(doc, "serviceConfig.environmentVariables", {}) or {}
    urls = [doc.get("url") or f"https://{t.region}-{t.project}.cloudfunctions.net/{f.name}",
            run_url(f.name, t.project_number, t.region)]
    audiences = [a.strip().rstrip("/") for a in env.get("AUTH_AUDIENCE", "").split(",") if a.strip()]
    yield _check(f"{f.name}: AUTH_AUDIENCE names {', '.join(urls)}", set(urls) <= set(audiences),
                 f"AUTH_AUDIENCE {env.get('AUTH_AUDIENCE')!r}")
    yield _check(f"{f.name}: AUTH_CERTS_URL unset", "AUTH_CERTS_URL" not in env,
                 "local cloud only: the function refuses to start with it")


def check_subscriptions(t: Target, gcloud: Gcloud) -> Iterator[Check]:
    """The push subscription Eventarc made for each event function: ack deadline, dead letters, retries,
    push identity, and the Pub/Sub service agent's rights on them."""
    dead = f"projects/{t.project}/topics/{t.env}-{topics.DEAD_LETTER}"
    agent = pubsub_agent(t.project_number)
    for f in t.functions:
        if not f.trigger_topic:
            continue
        subscription = trigger_subscription(t, gcloud, f.name)
        doc = gcloud.json(["pubsub", "subscriptions", "describe", subscription, *t.scope()])
        policy = gcloud.json(["pubsub", "subscriptions", "get-iam-policy", subscription, *t.scope()])
        sa_policy = gcloud.json(["iam", "service-accounts", "get-iam-policy", t.sa(f.agent), *t.scope()])
        yield from _subscription_checks(t, f, subscription, doc, policy, sa_policy, dead, agent)


def _subscription_checks(t: Target, f: spec.FunctionSpec, subscription: str, doc: Any, policy: Any,
                         sa_policy: Any, dead: str, agent: str) -> Iterator[Check]:
    what = f"{f.name} subscription"
    if doc is None:
        yield Check(f"{what}: found", False, f"no subscription {subscription}")
        return
    ack = doc.get("ackDeadlineSeconds", 10)
    yield _check(f"{what}: ack deadline {ack} s >= {MIN_ACK_DEADLINE_S} s (set to {ACK_DEADLINE_S})",
                 ack >= MIN_ACK_DEADLINE_S, "a message would be redelivered while its function still runs")
    dlp = doc.get("deadLetterPolicy") or {}
    yield _check(f"{what}: dead letters to {t.env}-{topics.DEAD_LETTER} after {topics.MAX_DELIVERY_ATTEMPTS} "
                 "attempts",
                 dlp.get("deadLetterTopic") == dead and dlp.get("maxDeliveryAttempts") == topics.MAX_DELIVERY_ATTEMPTS,
                 f"deadLetterPolicy {dlp}")
    retry = doc.get("retryPolicy") or {}
    yield _check(f"{what}: retry backoff {MIN_RETRY_DELAY}-{MAX_RETRY_DELAY}",
                 retry.get("minimumBackoff") == MIN_RETRY_DELAY and retry.get("maximumBackoff") == MAX_RETRY_DELAY,
                 f"retryPolicy {retry}")
    pusher = _get(doc, "pushConfig.oidcToken.serviceAccountEmail")
    yield _check(f"{what}: pushes as {t.sa(f.agent)}", pusher == t.sa(f.agent), f"push identity {pusher}")
    yield _check(f"{what}: Pub/Sub service agent may forward dead letters",
                 f"serviceAccount:{agent}" in _members(policy, "roles/pubsub.subscriber"),
                 "roles/pubsub.subscriber missing for the Pub/Sub service agent")
    yield _check(f"{t.sa(f.agent)}: Pub/Sub service agent may mint its push tokens",
                 f"serviceAccount:{agent}" in _members(sa_policy, TOKEN_CREATOR),
                 "roles/iam.serviceAccountTokenCreator missing on the push service account")


def check_iam(t: Target, gcloud: Gcloud) -> Iterator[Check]:
    """Project bindings (Firestore limited to the database, build account), the secret's readers."""
    policy = gcloud.json(["projects", "get-iam-policy", t.project, *t.scope()])
    secret = f"{t.env}-gemini-api-key"
    secret_policy = (gcloud.json(["secrets", "get-iam-policy", secret, *t.scope()])
                     if t.genai_mode == "gemini_api" else None)
    if policy is None:
        yield Check("project IAM policy: readable", False, "gcloud projects get-iam-policy failed")
        return
    condition = database_condition(t.project, t.database)
    for f in t.functions:
        member = f"serviceAccount:{t.sa(f.agent)}"
        unconditional = member in _members(policy, DATASTORE_ROLE, conditional=False)
        yield _check(f"{t.sa(f.agent)}: {DATASTORE_ROLE} on database {t.database} only",
                     not unconditional and condition in _conditions(policy, DATASTORE_ROLE, member),
                     "granted project-wide" if unconditional else "no binding with the database condition")
    for binding in spec.binding_rows(t.env, t.genai_mode):
        principal, kind, _, role = binding
        if principal == spec.BUILDER and kind == "project":
            yield _check(f"{t.sa(spec.BUILDER)}: {role}",
                         f"serviceAccount:{t.sa(spec.BUILDER)}" in _members(policy, role), "missing")
    agent = f"serviceAccount:{pubsub_agent(t.project_number)}"
    yield _check("Pub/Sub service agent: no project-wide token creator", agent not in _members(policy, TOKEN_CREATOR),
                 f"remove it: gcloud projects remove-iam-policy-binding {t.project} --member={agent} "
                 f"--role={TOKEN_CREATOR}")
    if t.genai_mode != "gemini_api":
        return
    readers = _members(secret_policy, spec.SECRET_ROLE)
    wanted = {f"serviceAccount:{t.sa(f.agent)}" for f in t.functions if f.gemini_key}
    yield _check(f"{secret}: readable by {sorted(w.split(':')[1].split('@')[0] for w in wanted)} only",
                 readers == wanted, f"readers {sorted(readers)}")


def check_scheduler(t: Target, gcloud: Gcloud) -> Iterator[Check]:
    """The monitor's job: its URL and OIDC audience are the monitor's run.app URL, signed as the scheduler."""
    monitor = f"{t.env}-agent-monitor"
    job = gcloud.json(["scheduler", "jobs", "describe", f"{t.env}-monitor-tick", f"--project={t.project}",
                       f"--location={t.region}"])
    service = gcloud.json(["run", "services", "describe", monitor, *t.regional()])
    url = _get(service, "status.url") or run_url(monitor, t.project_number, t.region)
    invoker_policy = gcloud.json(["run", "services", "get-iam-policy", monitor, *t.regional()])
    if job is None:
        yield Check(f"{t.env}-monitor-tick: exists", False, "gcloud scheduler jobs describe failed")
        return
    yield _check(f"{t.env}-monitor-tick: enabled", job.get("state") == "ENABLED", f"state {job.get('state')}")
    uri, oidc = _get(job, "httpTarget.uri"), _get(job, "httpTarget.oidcToken") or {}
    yield _check(f"{t.env}-monitor-tick: calls {url}", uri == url, f"uri {uri}")
    yield _check(f"{t.env}-monitor-tick: audience {url}", oidc.get("audience") == url,
                 f"audience {oidc.get('audience')}")
    yield _check(f"{t.env}-monitor-tick: signs as {t.sa(spec.SCHEDULER)}",
                 oidc.get("serviceAccountEmail") == t.sa(spec.SCHEDULER),
                 f"OIDC account {oidc.get('serviceAccountEmail')}")
    invokers = _members(invoker_policy, "roles/run.invoker")
    yield _check(f"{monitor}: invokable by {t.sa(spec.SCHEDULER)}",
                 f"serviceAccount:{t.sa(spec.SCHEDULER)}" in invokers, f"invokers {sorted(invokers)}")


def check_bucket(t: Target, gcloud: Gcloud) -> Iterator[Check]:
    """Private bucket, lifecycle covering every expiring per-job prefix, Vertex AI's rights in Vertex mode."""
    doc = gcloud.json(["storage", "buckets", "describe", f"gs://{t.bucket}", *t.scope(), "--raw"])
    policy = (gcloud.json(["storage", "buckets", "get-iam-policy", f"gs://{t.bucket}", *t.scope()])
              if t.genai_mode == "vertex" else None)
    if doc is None:
        yield Check(f"gs://{t.bucket}: exists", False, "gcloud storage buckets describe failed")
        return
    yield _check(f"gs://{t.bucket}: public access prevention enforced",
                 _get(doc, "iamConfiguration.publicAccessPrevention") == "enforced",
                 f"publicAccessPrevention {_get(doc, 'iamConfiguration.publicAccessPrevention')}")
    yield _check(f"gs://{t.bucket}: uniform bucket-level access",
                 _get(doc, "iamConfiguration.uniformBucketLevelAccess.enabled") is True, "disabled")
    wanted = {p for rule in spec.lifecycle_policy()["rule"] for p in rule["condition"].get("matchesPrefix", [])}
    deleted = {p for rule in _get(doc, "lifecycle.rule", []) or [] if _get(rule, "action.type") == "Delete"
               for p in _get(rule, "condition.matchesPrefix", []) or []}
    yield _check(f"gs://{t.bucket}: lifecycle deletes {sorted(wanted)}", wanted <= deleted,
                 f"missing {sorted(wanted - deleted)}")
    if t.genai_mode == "vertex":
        member = f"serviceAccount:{vertex_agent(t.project_number)}"
        for role in VERTEX_BUCKET_ROLES:
            yield _check(f"gs://{t.bucket}: Vertex AI service agent has {role}", member in _members(policy, role),
                         "missing")


def check_firestore(t: Target, gcloud: Gcloud) -> Iterator[Check]:
    """The environment's own database exists (Firestore Native)."""
    doc = gcloud.json(["firestore", "databases", "describe", f"--database={t.database}", *t.scope()])
    name = f"projects/{t.project}/databases/{t.database}"
    yield _check(f"Firestore database {t.database}: exists", _get(doc, "name") == name, "not found")
    if doc is not None:
        yield _check(f"Firestore database {t.database}: native mode", doc.get("type") == "FIRESTORE_NATIVE",
                     f"type {doc.get('type')}")


VERTEX_BUCKET_ROLES = ("roles/storage.objectCreator", "roles/storage.objectViewer")
CHECKS: dict[str, Callable[[Target, Gcloud], Iterator[Check]]] = {
    "functions": check_functions, "subscriptions": check_subscriptions, "iam": check_iam,
    "scheduler": check_scheduler, "bucket": check_bucket, "firestore": check_firestore}


def pubsub_agent(project_number: str) -> str:
    return f"service-{project_number}@gcp-sa-pubsub.iam.gserviceaccount.com"


def vertex_agent(project_number: str) -> str:
    return f"service-{project_number}@gcp-sa-aiplatform.iam.gserviceaccount.com"


def run_url(service: str, project_number: str, region: str) -> str:
    """The deterministic run.app URL of a Cloud Run service (functions are Cloud Run services).
    https://cloud.google.com/run/docs/triggering/https-request#deterministic"""
    return f"https://{service}-{project_number}.{region}.run.app"


def trigger_subscription(t: Target, gcloud: Gcloud, function: str) -> str:
    """The Pub/Sub subscription behind an event function's Eventarc trigger."""
    doc = gcloud.json(["functions", "describe", function, *t.regional()])
    trigger = (_get(doc, "eventTrigger.trigger")
               or f"projects/{t.project}/locations/{t.region}/triggers/{function}-DRYRUN")
    found = gcloud.json(["eventarc", "triggers", "describe", trigger, f"--project={t.project}",
                         f"--location={t.region}"])
    return str(_get(found, "transport.pubsub.subscription")
               or f"projects/{t.project}/subscriptions/eventarc-{t.region}-{function}-DRYRUN-sub")


def run_checks(t: Target, gcloud: Gcloud, sections: tuple[str, ...] = SECTIONS) -> list[Check]:
    """Every check of the sections asked for (the project number is read first)."""
    if not t.project_number:
        project = gcloud.json(["projects", "describe", t.project])
        t.project_number = str(_get(project, "projectNumber") or "PROJECT_NUMBER")
    return [check for section in sections for check in CHECKS[section](t, gcloud)]


def _parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m infra.deploy.verify", description=__doc__.splitlines()[0])
    parser.add_argument("--project", required=True)
    parser.add_argument("--region", required=True)
    parser.add_argument("--env", required=True, choices=spec.ENVIRONMENTS)
    parser.add_argument("--genai-mode", default="gemini_api", choices=("gemini_api", "vertex"))
    parser.add_argument("--bucket", default="")
    parser.add_argument("--firestore-database", default="")
    parser.add_argument("--project-number", default="")
    parser.add_argument("--only", action="append", choices=SECTIONS, help="a section (repeatable; default: all)")
    parser.add_argument("--print-commands", action="store_true", help="print the describe commands, run nothing")
    parser.add_argument("--recorded", type=Path, help="answer from recorded outputs in this folder (tests)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Print one line per check; 1 when any failed."""
    args = _parse_args(sys.argv[1:] if argv is None else argv)
    target = Target(args.project, args.region, args.env, args.genai_mode, args.bucket, args.firestore_database,
                    args.project_number)
    sections = tuple(args.only or SECTIONS)
    gcloud: Gcloud = GcloudCli()
    if args.print_commands:
        gcloud = PrintingGcloud()
    elif args.recorded:
        gcloud = RecordedGcloud(args.recorded)
    checks = run_checks(target, gcloud, sections)
    if args.print_commands:
        return 0
    for check in checks:
        print(check.line())
    failed = [c for c in checks if not c.ok]
    print(f"verify: {len(checks) - len(failed)} passed, {len(failed)} failed", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

