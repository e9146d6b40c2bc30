"""The deploy spec refuses values Cloud Run functions would refuse, before anything is deployed.

Limits (infra/deploy/spec.py cites the documentation): event functions time out after 540 s at most, HTTP
functions after 3600 s; each memory tier needs at least its documented vCPU; 4 and 8 vCPU need 2 and 4 GiB;
concurrency above 1 needs a whole vCPU.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from infra.deploy import spec


def gcp_dir_with(tmp_path: Path, agent: str, **settings: Any) -> Path:
    folder = tmp_path / "gcp"
    shutil.copytree(spec.GCP_DIR, folder)
    functions = json.loads((folder / "functions.json").read_text())
    functions["agents"][agent].update(settings)
    (folder / "functions.json").write_text(json.dumps(functions))
    return folder


def test_the_committed_settings_are_within_the_limits() -> None:
    # five agents; agent-monitor also runs the webhook function, agent-assembler the storyboard function
    assert len(spec.function_specs("prod")) == 7


@pytest.mark.parametrize(("agent", "settings", "message"), [
    ("agent-qa", {"timeout_s": 541}, "540"),
    ("agent-script", {"timeout_s": 3601}, "3600"),
    ("agent-assembler", {"memory": "8Gi", "cpu": "1"}, "needs at least 2"),
    ("agent-assembler", {"memory": "16Gi", "cpu": "2"}, "needs at least 4"),
    ("agent-qa", {"memory": "1Gi", "cpu": "4"}, "2048 MiB"),
    ("agent-qa", {"memory": "2Gi", "cpu": "8"}, "4096 MiB"),
    ("agent-script", {"memory": "512Mi", "cpu": "0.333", "concurrency": 8}, "concurrency 8 needs at least 1 vCPU"),
    ("agent-qa", {"memory": "3Gi"}, "not one of"),
    ("agent-qa", {"cpu": "3"}, "not one of"),
    ("agent-qa", {"min_instances": 6}, "min_instances"),
    ("agent-qa", {"ingress": "everyone"}, "ingress"),
])
def test_values_past_the_documented_limits_are_refused(tmp_path: Path, agent: str, settings: dict[str, Any],
                                                       message: str) -> None:
    with pytest.raises(spec.SpecError, match=message):
        spec.function_specs("dev", gcp_dir_with(tmp_path, agent, **settings))


def test_documented_pairs_at_the_edges_are_accepted(tmp_path: Path) -> None:
    folder = gcp_dir_with(tmp_path, "agent-assembler", memory="8Gi", cpu="2", timeout_s=540)
    assert {f.agent: f.memory for f in spec.function_specs("dev", folder)}["agent-assembler"] == "8Gi"
    folder = gcp_dir_with(tmp_path / "b", "agent-script", memory="128Mi", cpu="0.083", concurrency=1, timeout_s=3600)
    assert spec.function_specs("dev", folder)


def test_the_script_stops_before_deploying_when_a_limit_is_broken(tmp_path: Path) -> None:
    from infra.deploy.dryrun import copy_deploy_tree, dry_run

    copy_deploy_tree(tmp_path)
    functions = json.loads((tmp_path / "infra/gcp/functions.json").read_text())
    functions["agents"]["agent-video-veo31"]["timeout_s"] = 600
    (tmp_path / "infra/gcp/functions.json").write_text(json.dumps(functions))
    result = dry_run(["--project", "veo-limit-test", "--region", "europe-west1"], root=tmp_path)
    assert result.returncode != 0 and "540" in result.stderr


def test_a_publish_cycle_is_reported() -> None:
    specs = spec.function_specs("dev")
    roles = {"agent-qa": [{"role": spec.PUBLISHER_ROLE, "on": "topic:assembly-requests"}],
             "agent-assembler": [{"role": spec.PUBLISHER_ROLE, "on": "topic:qa-requests"}]}
    with pytest.raises(spec.SpecError, match="cycle"):
        spec.deploy_order(specs, roles)
