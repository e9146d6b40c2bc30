"""Each staged function imports in a fresh virtualenv built from its own requirements.txt only.

The agents are staged exactly as deploy-veo31.sh does (infra.deploy.stage); one virtualenv is
built per distinct staged requirements.txt (agents with the same pins share it) with the runtime's
Python (3.12 when present, like --runtime=python312) and pip's normal, shared cache. Then, from the
staged folder and with no PYTHONPATH, functions-framework must load the agent's target and answer
GET /robots.txt (404, or 405 for CloudEvent functions: the framework answers, the function is not run).
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from infra.deploy.stage import stage_agent
from shared.core import topics

# function name -> (staged agent folder, entry point); agent-monitor-webhooks runs agent-monitor's folder
TARGETS = {a.agent: (a.agent, a.entry_point) for a in topics.HTTP_AGENTS} | {
    r.name: (r.agent, r.entry_point) for r in topics.EVENT_ROUTES}


def runtime_python() -> str:
    """A Python 3.12 interpreter (the functions' runtime) if one works here, else this one."""
    candidates = [str(p) for p in sorted(Path.home().glob(".pyenv/versions/3.12*/bin/python3.12"))]
    candidates += [c for c in (shutil.which("python3.12"),) if c]
    for candidate in candidates:
        if subprocess.run([candidate, "--version"], capture_output=True).returncode == 0:
            return candidate
    return sys.executable


RUNTIME_PYTHON = runtime_python()
LOAD_TARGET = """
import json, sys
import functions_framework
app = functions_framework.create_app(sys.argv[1], "main.py")
response = app.test_client().get("/robots.txt")
import shared
print(json.dumps({"status": response.status_code, "prefix": sys.prefix, "shared": shared.__file__,
                  "framework": functions_framework.__file__, "version": list(sys.version_info[:2])}))
"""


def clean_env() -> dict[str, str]:
    """The environment of the staged function: no PYTHONPATH, no project venv, local settings."""
    drop = ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME", "PIPELINE_", "GOOGLE_", "GEMINI_")
    return {k: v for k, v in os.environ.items() if not k.startswith(drop)}


def build_venv(folder: Path, requirements: Path) -> Path:
    """A fresh virtualenv with only `requirements` installed (resolved by pip, shared cache)."""
    subprocess.run([RUNTIME_PYTHON, "-m", "venv", str(folder)], check=True, capture_output=True)
    python = folder / "bin" / "python"
    install = subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                              "-r", str(requirements)], capture_output=True, text=True, env=clean_env(),
                             timeout=900)
    assert install.returncode == 0, install.stderr[-3000:]
    return python


@pytest.fixture(scope="module")
def staged(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    dest = tmp_path_factory.mktemp("staged")
    folders = {folder for folder, _ in TARGETS.values()}
    return {folder: stage_agent(folder, dest) for folder in folders}


@pytest.fixture(scope="module")
def pythons(staged: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The interpreter of each agent's virtualenv (built in parallel, one per distinct pin set)."""
    by_pins: dict[str, list[str]] = {}
    for agent, folder in staged.items():
        pins = [ln for ln in (folder / "requirements.txt").read_text().splitlines() if ln and ln[0] != "#"]
        digest = hashlib.sha256("\n".join(pins).encode()).hexdigest()[:12]
        by_pins.setdefault(digest, []).append(agent)
    root = tmp_path_factory.mktemp("venvs")
    with ThreadPoolExecutor(max_workers=len(by_pins)) as pool:
        built = dict(zip(by_pins, pool.map(
            lambda d: build_venv(root / d, staged[by_pins[d][0]] / "requirements.txt"), by_pins)))
    return {agent: built[digest] for digest, agents in by_pins.items() for agent in agents}


@pytest.mark.parametrize("function", list(TARGETS))
def test_staged_function_loads_in_its_own_virtualenv(function: str, staged: dict[str, Path],
                                                      pythons: dict[str, Path]) -> None:
    agent, entry = TARGETS[function]
    folder, python = staged[agent], pythons[agent]
    proc = subprocess.run([str(python), "-s", "-c", LOAD_TARGET, entry], cwd=folder, env=clean_env(),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    loaded = json.loads(proc.stdout.strip().splitlines()[-1])
    # 404 (HTTP) or 405 (CloudEvent functions accept POST only): the framework answered, the target loaded.
    assert loaded["status"] in (404, 405)
    assert Path(loaded["prefix"]) == python.parent.parent, "ran inside the agent's virtualenv"
    assert Path(loaded["shared"]).is_relative_to(folder), "shared/ came from the staged copy"
    assert Path(loaded["framework"]).is_relative_to(python.parent.parent)


@pytest.mark.parametrize("agent", sorted({folder for folder, _ in TARGETS.values()}))
def test_staged_requirements_are_consistent(agent: str, pythons: dict[str, Path]) -> None:
    check = subprocess.run([str(pythons[agent]), "-m", "pip", "check"], capture_output=True, text=True,
                           env=clean_env())
    assert check.returncode == 0, check.stdout
