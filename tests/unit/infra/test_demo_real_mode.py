"""`make demo REAL=1`: the local cloud with the real Gemini API, tested without starting anything.

What would fail: REAL mode without a key that starts something or says more than one line; agents that would
still reach the simulator (a GENAI_BASE_URL in their environment, or settings that fall back to it), lack the key,
or differ from the simulator cloud in more than the genai target; a key written to env.sh; a cloud started for one
target that keeps its agents running for the other; and any change to plain `make demo` (its request, its cloud
environment, its Makefile recipe).
"""
from __future__ import annotations

import os
import subprocess
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

from infra.local import demo
from infra.local.cloud import LocalCloud
from infra.local.environment import REAL_GEMINI_TARGET, SIMULATOR_TARGET, cloud_env, real_gemini_env
from infra.local.processes import Supervisor
from shared.core.config import LocalPorts, settings_from_env

ROOT = Path(__file__).resolve().parents[3]
KEY = "AIzaSyREALKEY-for-the-test-0123456789abc"
PORTS = LocalPorts(18081, 18085, 14443, 18090, 18091)
# Settings that may differ between the simulator cloud and the real one: the genai target, and what fits a
# real API (Veo polled every 10 s, production's request quota).
REAL_ONLY = {"environment", "gemini_api_key", "genai_base_url", "veo_poll_seconds", "veo_requests_per_minute",
             "veo_max_concurrent"}


def cloud(tmp_path: Path, key: str | None = KEY) -> LocalCloud:
    return LocalCloud(ROOT, PORTS, "demo-veo-pipeline", state_dir=tmp_path / "state", real_gemini_api_key=key)


# ---- the agents' environment -------------------------------------------------------------------------------
def test_real_agents_get_the_key_and_no_endpoint_override_and_the_settings_leave_the_simulator(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GENAI_BASE_URL", "http://127.0.0.1:8090")  # a developer who sourced env.sh
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", "http://proxy.invalid")
    env = cloud(tmp_path).env()
    assert "GENAI_BASE_URL" not in env and "GOOGLE_GEMINI_BASE_URL" not in env
    assert env["GEMINI_API_KEY"] == KEY and env["GENAI_MODE"] == "gemini_api"
    settings = settings_from_env(env)
    assert settings.genai_base_url is None  # google-genai's own endpoint: Google's
    assert settings.genai_mode == "gemini_api" and settings.gemini_api_key == KEY


def test_real_settings_differ_from_the_simulator_clouds_only_in_the_genai_target(tmp_path: Path) -> None:
    simulated = asdict(settings_from_env(cloud(tmp_path, None).env()))
    real = asdict(settings_from_env(cloud(tmp_path).env()))
    assert {k for k in real if real[k] != simulated[k]} <= REAL_ONLY
    assert real["auth_mode"] == "api_key" and real["signed_url_endpoint"] == f"http://127.0.0.1:{PORTS.gcs}"
    assert real["bucket"] == simulated["bucket"] and real["status_base_url"] == simulated["status_base_url"]


def test_env_sh_never_holds_the_key(tmp_path: Path) -> None:
    script = cloud(tmp_path).env_script()
    assert KEY not in script and "GEMINI_API_KEY" not in script
    assert "export GENAI_MODE=gemini_api" in script


def test_the_simulator_cloud_is_unchanged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", KEY)  # a developer's real key in the shell never reaches the simulator cloud
    simulated = cloud(tmp_path, None)
    expected = cloud_env(PORTS, "demo-veo-pipeline", simulated.signing_key_file, {})
    assert simulated.env() == expected and "GEMINI_API_KEY" not in expected
    assert expected["GENAI_BASE_URL"] == f"http://127.0.0.1:{PORTS.simulator}"
    assert simulated.genai_target == SIMULATOR_TARGET and KEY not in simulated.env_script()
    assert real_gemini_env(expected, KEY, PORTS)["GEMINI_API_KEY"] == KEY


# ---- starting: env.sh, the recorded target, the agents of the other target -------------------------------
@pytest.fixture
def no_processes(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Start/stop/provision stubbed: records what start() asked for and the os.environ agents would inherit."""
    seen: dict[str, Any] = {"terminated": []}

    def start_missing(self: Supervisor, components: list[Any]) -> list[Any]:
        seen["spawn_environ"] = dict(os.environ)
        seen["child_env"] = dict(self.child_env())
        return []

    monkeypatch.setattr(Supervisor, "start_missing", start_missing)
    monkeypatch.setattr(Supervisor, "terminate", lambda self, names, sig: seen["terminated"].append(list(names)))
    monkeypatch.setattr(LocalCloud, "provision", lambda self: None)
    return seen


def test_start_in_real_mode_records_the_target_restarts_simulator_agents_and_keeps_the_key_out_of_files(
        tmp_path: Path, no_processes: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GENAI_BASE_URL", "http://127.0.0.1:8090")
    real = cloud(tmp_path)
    real.state_dir.mkdir(parents=True)
    real.genai_target_file.write_text(SIMULATOR_TARGET + "\n")  # agents running for the simulator
    real.start()
    assert "GENAI_BASE_URL" not in no_processes["spawn_environ"]  # spawn starts from os.environ: cleared
    assert os.environ["GENAI_BASE_URL"] == "http://127.0.0.1:8090"  # and restored afterwards
    assert no_processes["child_env"]["GEMINI_API_KEY"] == KEY
    assert "agent-script" in no_processes["terminated"][0] and "agent-video-veo31" in no_processes["terminated"][0]
    assert "firestore" not in no_processes["terminated"][0]
    assert real.genai_target_file.read_text().strip() == REAL_GEMINI_TARGET
    for path in real.state_dir.rglob("*"):
        if path.is_file():
            assert KEY not in path.read_text(errors="replace"), path

    no_processes["terminated"].clear()
    cloud(tmp_path).start()  # same target again: nothing is restarted
    assert no_processes["terminated"] == []
    cloud(tmp_path, None).start()  # back to the simulator (plain `make demo`): the real agents are stopped
    assert no_processes["terminated"] and cloud(tmp_path, None).genai_target_file.read_text().strip() == \
        SIMULATOR_TARGET


# ---- demo.py ----------------------------------------------------------------------------------------------
@pytest.fixture
def nothing_starts(monkeypatch: pytest.MonkeyPatch) -> list[LocalCloud]:
    started: list[LocalCloud] = []
    monkeypatch.setattr(LocalCloud, "start", lambda self: started.append(self))
    monkeypatch.setattr(demo, "run", lambda args, cloud=None: 0)
    return started


def test_real_without_a_key_says_so_in_one_line_and_exits_non_zero(nothing_starts: list[LocalCloud],
                                                                    monkeypatch: pytest.MonkeyPatch,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    monkeypatch.setenv("DEMO_REAL", "1")
    monkeypatch.setenv("CONFIRM", "1")
    assert demo.main([]) != 0
    out, err = capsys.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1 and "GEMINI_API_KEY" in err
    assert nothing_starts == []


def test_real_prints_the_estimate_and_waits_for_confirm(nothing_starts: list[LocalCloud],
                                                        monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    monkeypatch.delenv("CONFIRM", raising=False)
    assert demo.main(["--real"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("estimate: $") and "quick_social" in out.splitlines()[0] and "CONFIRM=1" in out
    assert KEY not in out and nothing_starts == []

    monkeypatch.setenv("CONFIRM", "1")
    assert demo.main(["--real", "--preset", "brand_campaign"]) == 0
    assert len(nothing_starts) == 1 and nothing_starts[0].real_gemini_api_key == KEY
    assert "brand_campaign" in capsys.readouterr().out.splitlines()[0]


def test_plain_demo_arguments_and_request_are_unchanged(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DEMO_REAL", "DEMO_PRESET", "DEMO_MUSIC"):
        monkeypatch.setenv(name, "")  # what the Makefile exports when REAL, PRESET, MUSIC are not given
    args = demo.parse_args([])
    assert (args.real, args.preset, args.timeout, args.out) == (False, None, 900.0, Path("out"))
    assert set(demo.request_body(args)) == {"theme", "style", "language"}


# ---- the Makefile -------------------------------------------------------------------------------------------
def make_dry_run(*args: str) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("REAL", "MODE", "CONFIRM")}
    out = subprocess.run(["make", "-n", "--no-print-directory", *args], cwd=ROOT, env=env, capture_output=True,
                         text=True, check=True).stdout
    return out.splitlines()


def test_make_demo_still_starts_the_simulator_cloud_and_real_leaves_that_to_demo_py() -> None:
    plain = make_dry_run("demo")
    assert plain[-2:] == [".venv/bin/python -m infra.local.cloud up", ".venv/bin/python -m infra.local.demo"]
    real = make_dry_run("demo", "REAL=1")
    assert real[-1] == ".venv/bin/python -m infra.local.demo" and not any("cloud up" in line for line in real)
    smoke = make_dry_run("smoke-live", "MODE=vertex")
    assert smoke[-1] == ".venv/bin/python -m tools.smoke_live --mode vertex"
    makefile = (ROOT / "Makefile").read_text().splitlines()
    assert makefile[-1] == '\t@echo "lint: ruff, mypy, import-linter and shellcheck passed"'
    demo_target = next(i for i, line in enumerate(makefile) if line.startswith("demo:"))
    assert makefile[demo_target + 1] == "\t@$(PY) -m infra.local.demo"
