"""Run deploy-veo31.sh --dry-run and read back its plan (used by the offline tests and by operators).

The dry-run prints one shell-quoted gcloud command per line on stdout; `read_plan` turns that into
argument lists. `copy_deploy_tree` copies what the script needs into a scratch folder and, only
where an agent has no main.py yet, writes a placeholder entry point so the plan can be built.
"""
from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from shared.core import topics
from shared.core.config import ENVIRONMENT_VARIABLES

REPO_ROOT = Path(__file__).resolve().parents[2]
DEPLOY_SCRIPT = "deploy-veo31.sh"
DEPLOY_TREE = (DEPLOY_SCRIPT, "infra", "shared")
_PLACEHOLDER_MAIN = '''"""Placeholder written by infra/deploy/dryrun.py: the real agent main.py is not written yet."""
import functions_framework


@functions_framework.{kind}
def {entry}({arg}):
    """Placeholder entry point."""
    return "placeholder"
'''


@dataclass(frozen=True)
class DryRun:
    """The outcome of one dry run."""

    returncode: int
    commands: list[list[str]]
    stderr: str


def read_plan(stdout: str) -> list[list[str]]:
    """The commands of a dry-run output, one argument list per non-empty line."""
    return [shlex.split(line) for line in stdout.splitlines() if line.strip()]


def copy_deploy_tree(dest: Path, repo_root: Path = REPO_ROOT) -> list[str]:
    """Copy the script, infra/, shared/ and the agents to dest; return agents given a placeholder main.py."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".venv", "tests")
    for name in DEPLOY_TREE:
        source = repo_root / name
        if source.is_dir():
            shutil.copytree(source, dest / name, ignore=ignore, dirs_exist_ok=True)
        else:
            shutil.copy2(source, dest / name)
    placeholders = []
    agents = [(a.agent, a.entry_point, "http", "request") for a in topics.HTTP_AGENTS]
    agents += [(r.agent, r.entry_point, "cloud_event", "cloud_event") for r in topics.EVENT_ROUTES]
    for agent, entry, kind, arg in agents:
        shutil.copytree(repo_root / agent, dest / agent, ignore=ignore, dirs_exist_ok=True)
        if not (dest / agent / "main.py").exists():
            (dest / agent / "main.py").write_text(_PLACEHOLDER_MAIN.format(kind=kind, entry=entry, arg=arg))
            placeholders.append(agent)
    return placeholders


def dry_run(args: Sequence[str], root: Path = REPO_ROOT, env: Mapping[str, str] | None = None,
            python: str = sys.executable, timeout: float = 120) -> DryRun:
    """Run `root/deploy-veo31.sh --dry-run args...` with a clean deploy environment."""
    run_env = {k: v for k, v in os.environ.items() if not _is_deploy_setting(k)}
    run_env.update({"DEPLOY_PYTHON": python, **(env or {})})
    proc = subprocess.run(["bash", str(root / DEPLOY_SCRIPT), "--dry-run", *args], cwd=root, env=run_env,
                          capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    return DryRun(proc.returncode, read_plan(proc.stdout) if proc.returncode == 0 else [], proc.stderr)


# What the script reads from its environment: its own settings and every pipeline setting (it passes them on).
_DEPLOY_SETTINGS = ("DEPLOY_", "DRY_RUN", "VEO_", "AUTH_", "FIRESTORE_", "ENABLE_CDN", "CDN_DOMAIN", "BUDGET_AMOUNT",
                    "BILLING_ACCOUNT", "NOTIFICATION_CHANNELS", "SCRIPT_INVOKERS", "ALLOW_UNAUTHENTICATED_SCRIPT",
                    "BUILD_SERVICE_ACCOUNT", *ENVIRONMENT_VARIABLES)


def _is_deploy_setting(name: str) -> bool:
    return name.startswith(_DEPLOY_SETTINGS)


def planned(result: DryRun, *words: str) -> list[list[str]]:
    """The planned commands starting with `gcloud words...`."""
    return [c for c in result.commands if c[1:1 + len(words)] == list(words)]


def flag_values(command: list[str], name: str) -> list[str]:
    """The values of every --name=value argument of a command ("" for a bare --name)."""
    return [arg.partition("=")[2] for arg in command if arg.partition("=")[0] == name]
