"""The deployment docs say what the deploy does: the front door authenticates in the application (docs/auth.md),
so no guide tells people to call it with their own `gcloud auth print-identity-token`; README's "Deploying"
names `--verify` and the removed Cloud CDN."""
from __future__ import annotations

import re

from infra.deploy.dryrun import REPO_ROOT

OPERATIONS = (REPO_ROOT / "docs/operations.md").read_text(encoding="utf-8")
README = (REPO_ROOT / "README.md").read_text(encoding="utf-8")


def section(text: str, heading: str) -> str:
    """The text under a markdown heading, up to the next heading of the same or a higher level."""
    match = re.search(rf"^(#+) {re.escape(heading)}\n", text, re.MULTILINE)
    assert match, heading
    level = len(match.group(1))
    rest = text[match.end():]
    end = re.search(rf"^#{{1,{level}}} ", rest, re.MULTILINE)
    return rest[:end.start()] if end else rest


def test_operations_never_sends_a_gcloud_identity_token_to_the_front_door() -> None:
    assert "print-identity-token" not in OPERATIONS, "a user's Google identity token is refused: see docs/auth.md"
    front_door = section(OPERATIONS, "Who may call the front door")
    assert "auth.md" in front_door and "allUsers" in front_door
    assert "--script-invoker user:" not in OPERATIONS and "--allow-unauthenticated-script" not in OPERATIONS
    for flag in ("--auth-service-accounts", "--cors-origins", "--no-invoker-iam-check", "AUTH_AUDIENCE"):
        assert flag in front_door, flag


def test_readme_deploying_names_verify_and_the_removed_cdn() -> None:
    deploying = section(README, "Deploying")
    assert "--verify" in deploying
    assert "CDN" in deploying and "--enable-cdn" in deploying and "operations.md" in deploying


def test_backups_are_on_and_the_restore_is_documented() -> None:
    backups = section(OPERATIONS, "Backups and restore")
    for words in ("--enable-pitr", "gcloud firestore databases clone", "--source-database=", "--snapshot-time=",
                  "--destination-database=", "--firestore-database"):
        assert words in backups, words
    script = (REPO_ROOT / "deploy-veo31.sh").read_text(encoding="utf-8")
    assert "firestore databases update" in script and script.count("--enable-pitr") >= 2
