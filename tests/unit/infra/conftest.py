"""Shared fixtures of the deploy tests: one scratch copy of the deploy tree and dry-run plans built in it."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from infra.deploy.dryrun import DryRun, copy_deploy_tree, dry_run

Planner = Callable[..., DryRun]


@pytest.fixture(scope="session")
def deploy_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("deploy-tree-shared")
    copy_deploy_tree(root)
    return root


@pytest.fixture(scope="session")
def make_plan(deploy_tree: Path, tmp_path_factory: pytest.TempPathFactory) -> Planner:
    """plan(args, **env): a dry run of the copied script; its work dir (staged and rendered files) is kept."""
    def plan(args: list[str], **env: str) -> DryRun:
        work = tmp_path_factory.mktemp("work")
        result = dry_run([*args, "--work-dir", str(work)], root=deploy_tree,
                         env={"GEMINI_API_KEY": "AIza-test", **env})
        assert result.returncode == 0, result.stderr
        return result

    return plan
