"""Stage one agent as a self-contained Cloud Functions source folder.

`gcloud functions deploy --source` uploads one folder and installs the requirements.txt beside
main.py (setup.py is never run), so each agent is staged as: its own files + a copy of shared/ +
one merged requirements.txt + a .gcloudignore. Tests, caches and local-only files are left out.

The staged requirements.txt is hash-pinned: every distribution the agent installs (its closure, from
infra/gcp/requirements.lock.json, written by `python -m infra.deploy.lock`) on one line
`name==version --hash=sha256:...`, after `--require-hashes`, so pip on Cloud Build installs exactly what was
locked or fails. Staging is offline; it refuses a lock whose recorded pins differ from the requirement files.
https://pip.pypa.io/en/stable/topics/secure-installs/#hash-checking-mode

CLI: python -m infra.deploy.stage --dest DIR [--agent NAME ...]   (prints one staged path per line)
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.core import topics

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_PACKAGE = "shared"
LOCK_FILE = REPO_ROOT / "infra" / "gcp" / "requirements.lock.json"
LOCK_COMMAND = "python -m infra.deploy.lock"
IGNORED_NAMES = ("__pycache__", "*.pyc", "*.pyo", "tests", "test_*.py", "*_test.py", "conftest.py",
                 ".pytest_cache", ".mypy_cache", ".venv", "*.egg-info", ".DS_Store")
GCLOUDIGNORE = """\
# Written by infra/deploy/stage.py: the staged folder already holds only what the function needs.
.gcloudignore
.git
.gitignore
__pycache__/
*.pyc
tests/
test_*.py
*_test.py
"""
_REQUIREMENT = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(?P<extras>\[[^\]]*\])?\s*==\s*(?P<version>[^\s;#]+)"
                          r"(?P<marker>\s*;[^#]*)?$")


class StagingError(Exception):
    """The agent cannot be staged (missing files, unpinned or conflicting requirements)."""


@dataclass(frozen=True)
class Requirement:
    """One pinned requirement line."""

    name: str
    line: str

    @property
    def key(self) -> str:
        """The PEP 503 normalised project name."""
        return re.sub(r"[-_.]+", "-", self.name).lower()


def parse_requirements(path: Path) -> list[Requirement]:
    """Pinned requirements of a file; anything not `name==version` is refused."""
    found: list[Requirement] = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        match = _REQUIREMENT.match(line)
        if not match:
            raise StagingError(f"{path}:{number}: not a pinned requirement (name==version): {raw!r}")
        found.append(Requirement(match.group("name"), line))
    return found


def merge_requirements(sources: list[Path]) -> list[str]:
    """One line per project from several files, failing on conflicting pins."""
    merged: dict[str, Requirement] = {}
    for path in sources:
        for req in parse_requirements(path):
            previous = merged.get(req.key)
            if previous and previous.line != req.line:
                raise StagingError(f"conflicting pins for {req.name}: {previous.line!r} vs {req.line!r} ({path})")
            merged.setdefault(req.key, req)
    return [merged[key].line for key in sorted(merged)]


def render_requirements(agent: str, lines: list[str]) -> str:
    """The staged requirements.txt text."""
    header = (f"# Staged for {agent} by infra/deploy/stage.py: shared/requirements.txt merged with "
              f"{agent}/requirements.txt, hash-pinned from infra/gcp/requirements.lock.json.\n"
              "--require-hashes\n")
    return header + "".join(f"{line}\n" for line in lines)


def load_lock(path: Path = LOCK_FILE) -> dict[str, Any]:
    """The recorded lock (see infra.deploy.lock)."""
    if not path.is_file():
        raise StagingError(f"{path} is missing: run `{LOCK_COMMAND}`")
    lock: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return lock


def hashed_requirements(agent: str, pins: list[str], lock: dict[str, Any]) -> list[str]:
    """`name==version --hash=sha256:...` for every package of the agent's locked closure.

    The lock must have been made from exactly these pins; otherwise it is stale and staging stops.
    """
    locked = lock["agents"].get(agent)
    if locked is None:
        raise StagingError(f"{agent} is not in the requirements lock: run `{LOCK_COMMAND}`")
    if sorted(locked["pins"]) != sorted(pins):
        changed = sorted(set(pins) ^ set(locked["pins"]))
        raise StagingError(f"the requirements lock is stale for {agent} ({', '.join(changed)}): "
                           f"run `{LOCK_COMMAND}` and commit infra/gcp/requirements.lock.json")
    lines = []
    for name in locked["packages"]:
        entry = lock["packages"][name]
        if not entry["sha256"]:
            raise StagingError(f"the requirements lock has no hash for {name}")
        hashes = " ".join(f"--hash=sha256:{digest}" for digest in entry["sha256"])
        lines.append(f"{name}=={entry['version']} {hashes}")
    return lines


def agent_dir(agent: str, repo_root: Path = REPO_ROOT) -> Path:
    """The agent's source folder, checked to hold main.py and requirements.txt."""
    folder = repo_root / agent
    for needed in ("main.py", "requirements.txt"):
        if not (folder / needed).is_file():
            raise StagingError(f"{folder / needed} is missing")
    return folder


def agent_pins(agent: str, repo_root: Path = REPO_ROOT) -> list[str]:
    """The agent's pins: shared/requirements.txt merged with its own requirements.txt."""
    source = agent_dir(agent, repo_root)
    return merge_requirements([repo_root / SHARED_PACKAGE / "requirements.txt", source / "requirements.txt"])


def stage_agent(agent: str, dest_root: Path, repo_root: Path = REPO_ROOT, lock_file: Path = LOCK_FILE) -> Path:
    """Stage `agent` into dest_root/agent (replacing an older staging) and return that folder."""
    source = agent_dir(agent, repo_root)
    requirements = hashed_requirements(agent, agent_pins(agent, repo_root), load_lock(lock_file))
    target = dest_root / agent
    if target.exists():
        shutil.rmtree(target)
    ignore = shutil.ignore_patterns(*IGNORED_NAMES, "requirements.txt")
    shutil.copytree(source, target, ignore=ignore)
    shutil.copytree(repo_root / SHARED_PACKAGE, target / SHARED_PACKAGE,
                    ignore=shutil.ignore_patterns(*IGNORED_NAMES, "requirements.txt", "docs"))
    (target / "requirements.txt").write_text(render_requirements(agent, requirements), encoding="utf-8")
    (target / ".gcloudignore").write_text(GCLOUDIGNORE, encoding="utf-8")
    return target


def _parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m infra.deploy.stage", description=__doc__.splitlines()[0])
    parser.add_argument("--dest", required=True, type=Path, help="folder that receives one subfolder per agent")
    parser.add_argument("--agent", action="append", help="agent folder name (repeatable; default: every agent)")
    parser.add_argument("--repo-root", type=Path, default=REPO_ROOT)
    parser.add_argument("--lock-file", type=Path, default=LOCK_FILE)
    return parser.parse_args(argv)


def all_agents() -> list[str]:
    """Every agent folder named by shared.core.topics, HTTP agents first."""
    return list(dict.fromkeys([a.agent for a in topics.HTTP_AGENTS] + [r.agent for r in topics.EVENT_ROUTES]))


def main(argv: list[str] | None = None) -> int:
    """Stage the requested agents and print one staged folder per line."""
    args = _parse_args(sys.argv[1:] if argv is None else argv)
    args.dest.mkdir(parents=True, exist_ok=True)
    try:
        for agent in args.agent or all_agents():
            print(stage_agent(agent, args.dest, args.repo_root, args.lock_file))
    except StagingError as exc:
        print(f"stage: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
