"""Resolve and record every deployed function's requirements with their sha256 hashes.

Cloud Build installs each staged function's requirements.txt with pip on the python312 image of Cloud Run
functions (Ubuntu 22.04, x86_64, CPython 3.12). With a hash on every line pip runs in hash-checking mode:
every distribution, dependencies included, must be pinned with `==` and match one of its hashes, or the
build fails. https://pip.pypa.io/en/stable/topics/secure-installs/#hash-checking-mode

This tool (the only step that needs the package index) resolves each agent's merged pins
(shared/requirements.txt + the agent's own, as infra.deploy.stage merges them) for that target with
`pip install --dry-run --report`, binary wheels only, and writes infra/gcp/requirements.lock.json:

    {"target": {...}, "packages": {name: {"version": v, "sha256": [...]}},
     "agents": {agent: {"pins": [the merged pins], "packages": [names of its full closure]}}}

infra.deploy.stage then works offline: it writes each package of the agent's closure as
`name==version --hash=sha256:...` and refuses to stage when the agent's pins differ from the recorded ones
(the lock is stale: run this tool again). The Whisper model data packages of the assembler are ordinary
pins, so they are locked like the rest.

CLI: python -m infra.deploy.lock [--out FILE]   (needs the package index)
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypedDict

from infra.deploy import stage

REPO_ROOT = Path(__file__).resolve().parents[2]
LOCK_FILE = REPO_ROOT / "infra" / "gcp" / "requirements.lock.json"


class Target(TypedDict):
    """The interpreter and platforms pip resolves wheels for."""

    python_version: str
    implementation: str
    abi: str
    platforms: list[str]


# The python312 runtime: CPython 3.12 on Ubuntu 22.04 (glibc 2.35), x86_64.
# https://cloud.google.com/functions/docs/runtime-support#python
TARGET: Target = {"python_version": "3.12", "implementation": "cp", "abi": "cp312",
                  "platforms": ["manylinux_2_35_x86_64", "manylinux_2_28_x86_64", "manylinux_2_17_x86_64",
                                "manylinux2014_x86_64", "manylinux_2_5_x86_64", "manylinux1_x86_64",
                                "linux_x86_64"]}

Resolver = Callable[[list[str]], Mapping[str, Any]]


class LockError(Exception):
    """The lock cannot be built, or does not match the requirements."""


def normalise(name: str) -> str:
    """The PEP 503 normalised project name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def pip_report(pins: list[str], pip: list[str] | None = None) -> Mapping[str, Any]:
    """`pip install --dry-run --report` of the pins for TARGET (wheels only; nothing is installed)."""
    with tempfile.TemporaryDirectory() as tmp:
        requirements = Path(tmp) / "requirements.txt"
        requirements.write_text("".join(f"{pin}\n" for pin in pins), encoding="utf-8")
        report = Path(tmp) / "report.json"
        command = [*(pip or [sys.executable, "-m", "pip"]), "install", "--dry-run", "--ignore-installed",
                   "--quiet", "--only-binary=:all:", "--python-version", TARGET["python_version"],
                   "--implementation", TARGET["implementation"], "--abi", TARGET["abi"],
                   *[f"--platform={p}" for p in TARGET["platforms"]],
                   # --target only because pip accepts --platform with it; --dry-run installs nothing.
                   "--target", str(Path(tmp) / "target"), "--report", str(report), "-r", str(requirements)]
        proc = subprocess.run(command, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise LockError(f"pip could not resolve the pins:\n{proc.stderr[-2000:]}")
        return json.loads(report.read_text(encoding="utf-8"))


def closure_from_report(report: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Every distribution pip would install: normalised name -> version and sha256 hashes."""
    found: dict[str, dict[str, Any]] = {}
    for item in report["install"]:
        metadata = item["metadata"]
        archive = item.get("download_info", {}).get("archive_info", {})
        sha = archive.get("hashes", {}).get("sha256")
        if not sha and str(archive.get("hash", "")).startswith("sha256="):
            sha = archive["hash"].split("=", 1)[1]
        if not sha:
            raise LockError(f"pip reported no sha256 for {metadata['name']} {metadata['version']}")
        found[normalise(metadata["name"])] = {"version": metadata["version"], "sha256": [sha]}
    return found


def build_lock(agents: list[str], resolve: Resolver = pip_report, repo_root: Path = REPO_ROOT) -> dict[str, Any]:
    """Resolve each agent and merge: one version per package across agents (they share shared/)."""
    packages: dict[str, dict[str, Any]] = {}
    locked: dict[str, Any] = {}
    for agent in agents:
        pins = stage.agent_pins(agent, repo_root)
        closure = closure_from_report(resolve(pins))
        for req in (stage.Requirement(pin.split("==")[0].split("[")[0].strip(), pin) for pin in pins):
            if req.key not in closure:
                raise LockError(f"{agent}: pip did not resolve the pinned {req.name}")
        for name, entry in closure.items():
            previous = packages.get(name)
            if previous and previous["version"] != entry["version"]:
                raise LockError(f"{name} resolves to {previous['version']} and {entry['version']} in different "
                                f"agents: pin it in shared/requirements.txt")
            if previous:
                previous["sha256"] = sorted(set(previous["sha256"]) | set(entry["sha256"]))
            else:
                packages[name] = entry
        locked[agent] = {"pins": pins, "packages": sorted(closure)}
    return {"_comment": "Generated by `python -m infra.deploy.lock`; read by infra.deploy.stage. Do not edit.",
            "target": TARGET, "packages": dict(sorted(packages.items())), "agents": locked}


def _parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m infra.deploy.lock", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=LOCK_FILE)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Resolve every agent and write the lock file."""
    args = _parse_args(sys.argv[1:] if argv is None else argv)
    try:
        lock = build_lock(stage.all_agents())
    except (LockError, stage.StagingError) as exc:
        print(f"lock: error: {exc}", file=sys.stderr)
        return 1
    args.out.write_text(json.dumps(lock, indent=1) + "\n", encoding="utf-8")
    print(f"{args.out}: {len(lock['packages'])} packages for {len(lock['agents'])} agents")
    return 0


if __name__ == "__main__":
    sys.exit(main())
