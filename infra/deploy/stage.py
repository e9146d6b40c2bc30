"""Stage one agent as a self-contained Cloud Functions source folder.

`gcloud functions deploy --source` uploads one folder and installs the requirements.txt beside
main.py (setup.py is never run), so each agent is staged as: its own files + a copy of shared/ +
one merged, fully pinned requirements.txt + a .gcloudignore. Tests, caches and local-only files
are left out.

CLI: python -m infra.deploy.stage --dest DIR [--agent NAME ...]   (prints one staged path per line)
"""
from __future__ import annotations

import argparse
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_PACKAGE = "shared"
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
              f"{agent}/requirements.txt.\n")
    return header + "".join(f"{line}\n" for line in lines)


def agent_dir(agent: str, repo_root: Path = REPO_ROOT) -> Path:
    """The agent's source folder, checked to hold main.py and requirements.txt."""
    folder = repo_root / agent
    for needed in ("main.py", "requirements.txt"):
        if not (folder / needed).is_file():
            raise StagingError(f"{folder / needed} is missing")
    return folder


def stage_agent(agent: str, dest_root: Path, repo_root: Path = REPO_ROOT) -> Path:
    """Stage `agent` into dest_root/agent (replacing an older staging) and return that folder."""
    source = agent_dir(agent, repo_root)
    requirements = merge_requirements([repo_root / SHARED_PACKAGE / "requirements.txt", source / "requirements.txt"])
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
    return parser.parse_args(argv)


def all_agents() -> list[str]:
    """Every agent folder named by shared.core.topics, HTTP agents first."""
    from shared.core import topics

    return [a.agent for a in topics.HTTP_AGENTS] + [r.agent for r in topics.EVENT_ROUTES]


def main(argv: list[str] | None = None) -> int:
    """Stage the requested agents and print one staged folder per line."""
    args = _parse_args(sys.argv[1:] if argv is None else argv)
    args.dest.mkdir(parents=True, exist_ok=True)
    try:
        for agent in args.agent or all_agents():
            print(stage_agent(agent, args.dest, args.repo_root))
    except StagingError as exc:
        print(f"stage: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
