"""Read the declarative infra (infra/gcp/*.json + shared.core.topics) and print it for deploy-veo31.sh.

Every subcommand prints tab-separated lines, one resource per line, so the shell script never holds
a second list of names. Names are prefixed with the environment (`dev-video-requests`,
`dev-agent-script`, metric `dev_step_duration`) so environments can share one project.

Values are checked against the documented limits of Cloud Run functions before anything is deployed
(`check_limits`): event-function timeout, memory/CPU pairs, concurrency. Functions are listed in deploy
order: consumers before producers (`deploy_order`), the front door last.

CLI: python -m infra.deploy.spec
    {functions,pubsub,principals,bindings,indexes,lifecycle,render-monitoring,model-defaults} --env ENV ...
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.core import layout, topics
from shared.core.config import Settings, default_veo_model

REPO_ROOT = Path(__file__).resolve().parents[2]
GCP_DIR = REPO_ROOT / "infra" / "gcp"
ENVIRONMENTS = ("dev", "staging", "prod")
SCHEDULER = "scheduler"
# The Cloud Build service account of function builds (one per environment): projects created since July 2024
# build with a default account that may lack the builder role.
# https://cloud.google.com/functions/docs/securing/build-custom-sa
BUILDER = "builder"
FRONT_DOOR = "agent-script"  # deployed last: it starts work that the other functions consume
# database: a project-level role limited by an IAM condition to the environment's Firestore database.
BINDING_KINDS = ("project", "database", "bucket", "secret", "topic", "subscription", "function", "self")
SECRET_ROLE = "roles/secretmanager.secretAccessor"
PUBLISHER_ROLE = "roles/pubsub.publisher"

# --- documented limits -----------------------------------------------------------------------------
# Event-driven functions time out after 540 s at most, HTTP functions after 3600 s.
# https://cloud.google.com/functions/docs/configuring/timeout
EVENT_TIMEOUT_MAX_S = 540
HTTP_TIMEOUT_MAX_S = 3600
# Memory tiers and the vCPU each comes with (the minimum CPU for that memory).
# https://cloud.google.com/functions/docs/configuring/memory
MEMORY_TIER_CPU: dict[str, float] = {"128Mi": 0.083, "256Mi": 0.167, "512Mi": 0.333, "1Gi": 0.583, "2Gi": 1,
                                     "4Gi": 2, "8Gi": 2, "16Gi": 4, "32Gi": 8}
# 4 and 8 vCPU need at least 2 GiB and 4 GiB. https://cloud.google.com/run/docs/configuring/services/cpu
CPU_MIN_MEMORY_MI: dict[float, int] = {4: 2048, 8: 4096}
# Concurrency above 1 needs at least 1 vCPU. https://cloud.google.com/functions/docs/configuring/concurrency
CONCURRENCY_MIN_CPU = 1.0
CPU_VALUES = (0.083, 0.167, 0.333, 0.583, 1, 2, 4, 6, 8)
_PLACEHOLDER = re.compile(r"\$\{([A-Z][A-Z0-9_]*)\}")


class SpecError(Exception):
    """A declarative file is inconsistent with shared.core.topics or with itself."""


@dataclass(frozen=True)
class FunctionSpec:
    """One agent deployed as a 2nd-gen Cloud Function."""

    agent: str
    name: str
    entry_point: str
    trigger_topic: str | None
    memory: str
    cpu: str
    timeout_s: int
    concurrency: int
    min_instances: int
    max_instances: int
    ingress: str
    budget_s: int
    gemini_key: bool = False  # the GEMINI_API_KEY secret is mounted (gemini_api mode): it calls Gemini or Veo
    source: str = ""  # the agent folder holding its main.py, when it is not `agent` (agent-monitor-webhooks)

    def row(self) -> list[str]:
        """The tab-separated fields printed for the shell script."""
        kind = "event" if self.trigger_topic else "http"
        return [self.agent, self.name, self.entry_point, kind, self.trigger_topic or "-", self.memory, self.cpu,
                str(self.timeout_s), str(self.concurrency), str(self.min_instances), str(self.max_instances),
                self.ingress, str(self.budget_s), "1" if self.gemini_key else "0", self.source or self.agent]


def load_json(name: str, gcp_dir: Path = GCP_DIR) -> Any:
    """A JSON file of infra/gcp."""
    return json.loads((gcp_dir / name).read_text(encoding="utf-8"))


def prefixed(env: str, name: str) -> str:
    """The environment's name of a resource (`dev-` + name)."""
    return f"{env}-{name}"


def function_specs(env: str, gcp_dir: Path = GCP_DIR) -> list[FunctionSpec]:
    """Every function of shared.core.topics with its settings from functions.json, in deploy order.

    A function, its principal (service account) and its functions.json entry share one name: the agent's, or
    the route's own (agent-monitor-webhooks runs agent-monitor's folder with another entry point, as itself)."""
    spec = load_json("functions.json", gcp_dir)
    settings: Mapping[str, Any] = spec["agents"]
    roles: Mapping[str, Any] = load_json("iam/roles.json", gcp_dir)
    entries: list[tuple[str, str, str, str | None]] = [(a.agent, a.agent, a.entry_point, None)
                                                       for a in topics.HTTP_AGENTS]
    entries += [(r.name, r.agent, r.entry_point, prefixed(env, r.topic)) for r in topics.EVENT_ROUTES]
    unknown = set(settings) - {name for name, _, _, _ in entries}
    if unknown:
        raise SpecError(f"functions.json names agents unknown to shared.core.topics: {sorted(unknown)}")
    specs = [_function_spec(env, name, entry, topic, settings, int(spec["budget_margin_s"]),
                            gemini_key=_reads_secret(roles.get(name, [])), source=folder)
             for name, folder, entry, topic in entries]
    return deploy_order(specs, roles)


def _reads_secret(bindings: list[Mapping[str, Any]]) -> bool:
    """True when the principal may read the Gemini API key (so the function mounts it)."""
    return any(b["on"] == "secret" and b["role"] == SECRET_ROLE for b in bindings)


def _function_spec(env: str, agent: str, entry: str, topic: str | None, settings: Mapping[str, Any],
                   margin: int, gemini_key: bool = False, source: str = "") -> FunctionSpec:
    if agent not in settings:
        raise SpecError(f"functions.json has no settings for {agent}")
    s = settings[agent]
    timeout = int(s["timeout_s"])
    spec = FunctionSpec(agent, prefixed(env, agent), entry, topic, s["memory"], str(s["cpu"]), timeout,
                            int(s["concurrency"]), int(s["min_instances"]), int(s["max_instances"]), s["ingress"],
                            max(timeout - margin, 1), gemini_key, "" if source == agent else source)
    check_limits(spec)
    return spec


def check_limits(function: FunctionSpec) -> None:
    """Refuse settings Cloud Run functions would refuse (or silently change): see the limits above."""
    name = function.name
    limit = EVENT_TIMEOUT_MAX_S if function.trigger_topic else HTTP_TIMEOUT_MAX_S
    kind = "event" if function.trigger_topic else "HTTP"
    if not 1 <= function.timeout_s <= limit:
        raise SpecError(f"{name}: {kind} functions time out after {limit} s at most, not {function.timeout_s}")
    if function.memory not in MEMORY_TIER_CPU:
        raise SpecError(f"{name}: memory {function.memory!r} is not one of {list(MEMORY_TIER_CPU)}")
    try:
        cpu = float(function.cpu)
    except ValueError:
        raise SpecError(f"{name}: cpu {function.cpu!r} is not a number") from None
    if cpu not in CPU_VALUES:
        raise SpecError(f"{name}: cpu {function.cpu} is not one of {CPU_VALUES}")
    if cpu < MEMORY_TIER_CPU[function.memory]:
        raise SpecError(f"{name}: {function.memory} needs at least {MEMORY_TIER_CPU[function.memory]} vCPU, "
                        f"not {function.cpu}")
    if _mebibytes(function.memory) < CPU_MIN_MEMORY_MI.get(cpu, 0):
        raise SpecError(f"{name}: {function.cpu} vCPU needs at least {CPU_MIN_MEMORY_MI[cpu]} MiB of memory, "
                        f"not {function.memory}")
    if function.concurrency > 1 and cpu < CONCURRENCY_MIN_CPU:
        raise SpecError(f"{name}: concurrency {function.concurrency} needs at least 1 vCPU, not {function.cpu}")
    if not 0 <= function.min_instances <= function.max_instances:
        raise SpecError(f"{name}: min_instances {function.min_instances} > max_instances {function.max_instances}")
    if function.ingress not in ("all", "internal-only", "internal-and-gclb"):
        raise SpecError(f"{name}: unknown ingress {function.ingress!r}")


def _mebibytes(memory: str) -> int:
    return int(memory[:-2]) * (1024 if memory.endswith("Gi") else 1)


def deploy_order(specs: list[FunctionSpec], roles: Mapping[str, Any]) -> list[FunctionSpec]:
    """Consumers before producers: a function is deployed after every function that consumes a topic it
    publishes to (iam/roles.json publisher bindings, shared.core.topics routes), the front door last."""
    names = {f.agent: f.name for f in specs}
    consumer = {r.topic: names[r.name] for r in topics.EVENT_ROUTES if r.name in names}
    waits_for: dict[str, set[str]] = {}
    for function in specs:
        published = {b["on"].partition(":")[2] for b in roles.get(function.agent, [])
                     if b["role"] == PUBLISHER_ROLE and b["on"].startswith("topic:")}
        waits_for[function.name] = {consumer[t] for t in published if t in consumer} - {function.name}
    position = {function.name: index for index, function in enumerate(specs)}
    ordered: list[FunctionSpec] = []
    pending = list(specs)
    while pending:
        done = {f.name for f in ordered}
        ready = [f for f in pending if waits_for[f.name] <= done]
        if not ready:
            raise SpecError(f"publish cycle between {sorted(f.name for f in pending)}")
        first = min(ready, key=lambda f: (f.agent == FRONT_DOOR, position[f.name]))
        ordered.append(first)
        pending.remove(first)
    return ordered


def pubsub_rows(env: str) -> list[list[str]]:
    """Work topics and the dead-letter topic with its pull subscription and delivery limit."""
    rows = [["topic", prefixed(env, r.topic)] for r in topics.EVENT_ROUTES]
    dead = prefixed(env, topics.DEAD_LETTER)
    rows.append(["dead_letter", dead, prefixed(env, topics.DEAD_LETTER_SUBSCRIPTION),
                 str(topics.MAX_DELIVERY_ATTEMPTS)])
    return rows


def principals(env: str) -> list[list[str]]:
    """Each principal (agent, scheduler, build account) with its service-account id."""
    names = [a.agent for a in topics.HTTP_AGENTS] + [r.name for r in topics.EVENT_ROUTES] + [SCHEDULER, BUILDER]
    return [[name, prefixed(env, name)] for name in names]


def binding_rows(env: str, genai_mode: str, gcp_dir: Path = GCP_DIR) -> list[list[str]]:
    """IAM bindings as principal, kind, target, role; conditional ones filtered by mode."""
    roles: Mapping[str, Any] = load_json("iam/roles.json", gcp_dir)
    known = {name for name, _ in principals(env)}
    known_topics = {r.topic for r in topics.EVENT_ROUTES} | {topics.DEAD_LETTER}
    rows: list[list[str]] = []
    for principal, bindings in roles.items():
        if principal.startswith("_"):
            continue
        if principal not in known:
            raise SpecError(f"iam/roles.json names unknown principal {principal}")
        for binding in bindings:
            if binding.get("only_if") not in (None, genai_mode):
                continue
            kind, target = _binding_target(env, binding["on"], known, known_topics)
            rows.append([principal, kind, target, binding["role"]])
    return rows


def _binding_target(env: str, on: str, agents: set[str], known_topics: set[str]) -> tuple[str, str]:
    kind, _, name = on.partition(":")
    if kind not in BINDING_KINDS:
        raise SpecError(f"unknown binding scope {on!r}")
    if kind == "topic" and name not in known_topics:
        raise SpecError(f"binding on unknown topic {name!r}")
    if kind == "subscription" and name != topics.DEAD_LETTER_SUBSCRIPTION:
        raise SpecError(f"binding on unknown subscription {name!r} (only the dead-letter pull subscription is ours)")
    if kind == "function" and name not in agents:
        raise SpecError(f"binding on unknown function {name!r}")
    return kind, prefixed(env, name) if name else "-"


def lifecycle_policy(gcp_dir: Path = GCP_DIR) -> dict[str, Any]:
    """The bucket's lifecycle configuration, its expiring prefixes taken from shared.core.layout.

    Every intermediate per-job folder (`INTERMEDIATE_JOB_FOLDERS`: every job folder but the delivered ones)
    expires after `delete_after_days`, so a folder added to layout expires without anyone editing infra/gcp.
    https://cloud.google.com/storage/docs/lifecycle#matchesprefix-suffix
    """
    spec = load_json("lifecycle.json", gcp_dir)
    if "keep" in spec["job_folders"]:
        raise SpecError("lifecycle.json: 'keep' is gone; delivered job folders are "
                        "shared.core.layout.DELIVERED_JOB_FOLDERS")
    expiring = [f"{folder}/" for folder in layout.INTERMEDIATE_JOB_FOLDERS]
    rules: list[dict[str, Any]] = []
    if expiring:
        rules.append({"action": {"type": "Delete"},
                      "condition": {"age": int(spec["job_folders"]["delete_after_days"]), "matchesPrefix": expiring}})
    rules.append({"action": {"type": "AbortIncompleteMultipartUpload"},
                  "condition": {"age": int(spec["abort_incomplete_multipart_upload_days"])}})
    return {"rule": rules}


def write_lifecycle(out: Path, gcp_dir: Path = GCP_DIR) -> list[list[str]]:
    """Write the lifecycle file for `gcloud storage buckets --lifecycle-file`; row: path, expiring prefixes."""
    policy = lifecycle_policy(gcp_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(policy, indent=2), encoding="utf-8")
    prefixes = [p for rule in policy["rule"] for p in rule["condition"].get("matchesPrefix", [])]
    return [[str(out), ",".join(prefixes)]]


def model_default_rows(genai_mode: str) -> list[list[str]]:
    """The model ids shared.core.config uses when none is set (name, id), so the deploy passes (and shows) them."""
    defaults = Settings()
    return [["SCRIPT_MODEL", defaults.script_model], ["IMAGE_MODEL", defaults.image_model],
            ["VEO_MODEL", default_veo_model(genai_mode)]]


def index_rows(gcp_dir: Path = GCP_DIR) -> list[list[str]]:
    """`gcloud firestore indexes composite create` arguments, one index per row."""
    rows = []
    for index in load_json("firestore.indexes.json", gcp_dir)["indexes"]:
        args = [f"--collection-group={index['collectionGroup']}",
                f"--query-scope={index.get('queryScope', 'COLLECTION').lower().replace('_', '-')}"]
        for field in index["fields"]:
            order = "order" if "order" in field else "array-config"
            value = field.get("order") or field["arrayConfig"]
            args.append(f"--field-config=field-path={field['fieldPath']},{order}={value.lower()}")
        rows.append(args)
    return rows


def render_template(text: str, values: Mapping[str, str]) -> str:
    """Replace ${NAME} placeholders (upper-case only); an unknown one is an error."""
    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise SpecError(f"unknown placeholder ${{{name}}}")
        return values[name]

    return _PLACEHOLDER.sub(replace, text)


def render_monitoring(env: str, project: str, out: Path, channels: list[str] | None = None,
                      gcp_dir: Path = GCP_DIR) -> list[list[str]]:
    """Write the environment's metrics, dashboard and alert policies to `out`; rows: kind, name, path."""
    values = {"ENV": env, "PROJECT": project}
    out.mkdir(parents=True, exist_ok=True)
    rows: list[list[str]] = []
    monitoring = gcp_dir / "monitoring"
    for path in sorted((monitoring / "metrics").glob("*.json")):
        rows.append(["metric", f"{env}_{path.stem}", str(_render_file(path, values, out / f"metric_{path.name}"))])
    dashboard = _render_file(monitoring / "dashboard.json", values, out / "dashboard.json")
    rows.append(["dashboard", json.loads(dashboard.read_text())["displayName"], str(dashboard)])
    for path in sorted((monitoring / "alerts").glob("*.json")):
        rendered = _render_file(path, values, out / f"alert_{path.name}")
        policy = json.loads(rendered.read_text())
        if channels:
            policy["notificationChannels"] = channels
            rendered.write_text(json.dumps(policy, indent=2), encoding="utf-8")
        rows.append(["alert", policy["displayName"], str(rendered)])
    return rows


def _render_file(source: Path, values: Mapping[str, str], target: Path) -> Path:
    text = render_template(source.read_text(encoding="utf-8"), values)
    json.loads(text)  # a template must stay valid JSON once rendered
    target.write_text(text, encoding="utf-8")
    return target


def _print_rows(rows: Iterable[list[str]]) -> None:
    for row in rows:
        if any("\t" in field or "\n" in field for field in row):
            raise SpecError(f"field with a tab or newline: {row}")
        print("\t".join(row))


def _parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m infra.deploy.spec", description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("functions", "pubsub", "principals", "bindings", "indexes", "lifecycle",
                                         "render-monitoring", "model-defaults"))
    parser.add_argument("--env", required=True, choices=ENVIRONMENTS)
    parser.add_argument("--genai-mode", default="gemini_api", choices=("gemini_api", "vertex"))
    parser.add_argument("--project", default="")
    parser.add_argument("--out", type=Path,
                        help="render-monitoring: folder for the rendered files; lifecycle: the file to write")
    parser.add_argument("--notification-channels", default="",
                        help="render-monitoring: comma-separated notification channels of the alert policies")
    return parser.parse_args(argv)


def rows_for(args: argparse.Namespace) -> list[list[str]]:
    """The rows a subcommand prints."""
    if args.what == "functions":
        return [spec.row() for spec in function_specs(args.env)]
    if args.what == "pubsub":
        return pubsub_rows(args.env)
    if args.what == "principals":
        return principals(args.env)
    if args.what == "bindings":
        return binding_rows(args.env, args.genai_mode)
    if args.what == "indexes":
        return index_rows()
    if args.what == "model-defaults":
        return model_default_rows(args.genai_mode)
    if args.what == "lifecycle":
        if not args.out:
            raise SpecError("lifecycle needs --out")
        return write_lifecycle(args.out)
    if not args.out or not args.project:
        raise SpecError("render-monitoring needs --out and --project")
    channels = [c for c in args.notification_channels.split(",") if c]
    return render_monitoring(args.env, args.project, args.out, channels)


def main(argv: list[str] | None = None) -> int:
    """Print the requested rows; exit 1 naming the problem when a spec is inconsistent."""
    args = _parse_args(sys.argv[1:] if argv is None else argv)
    try:
        _print_rows(rows_for(args))
    except (SpecError, KeyError, ValueError) as exc:
        print(f"spec: error: {exc!r}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
