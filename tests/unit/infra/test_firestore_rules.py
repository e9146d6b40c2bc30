"""infra/gcp/firestore.rules: only the backend (IAM, not subject to rules) uses Firestore, so the rules deny every
client request to every document, and allow nothing anywhere."""
from __future__ import annotations

import re
from pathlib import Path

RULES = Path(__file__).resolve().parents[3] / "infra/gcp/firestore.rules"


def _code() -> str:
    return re.sub(r"//[^\n]*", "", RULES.read_text())


def test_every_document_is_denied_and_nothing_is_allowed():
    code = _code()
    assert re.search(r"rules_version\s*=\s*'2'", code)
    allows = re.findall(r"allow\s+([^:]+):\s*if\s+([^;]+);", code)
    assert allows == [("read, write", "false")], allows
    nested = re.search(r"service\s+cloud\.firestore\s*\{\s*match\s+/databases/\{database\}/documents\s*\{\s*"
                       r"match\s+/\{document=\*\*\}\s*\{\s*allow read, write: if false;\s*\}\s*\}\s*\}\s*$", code)
    assert nested, "the deny rule must cover every document of every database"
