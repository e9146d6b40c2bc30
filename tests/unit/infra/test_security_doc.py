"""docs/security.md: the threat model is a table (asset, attacker, control, test) with a row per point of issue 15,
and every test it names exists, so the table cannot drift from the tests."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
DOC = (ROOT / "docs/security.md").read_text(encoding="utf-8")


def _named_tests() -> list[tuple[str, str | None]]:
    found: list[tuple[str, str | None]] = []
    last: str | None = None
    for ref in re.findall(r"`((?:tests/[\w/]+\.py)?(?:::\w+)?)`", DOC):
        path, _, name = ref.partition("::")
        last = path or last
        if last:
            found.append((last, name or None))
    return found


def test_the_threat_model_is_a_table_with_a_row_per_point():
    assert "| # | Asset | Attacker | Control | Test |" in DOC
    rows = re.findall(r"^\| ([MCR]\d) \|", DOC, flags=re.MULTILINE)
    assert rows == ["M1", "M2", "M3", "M4", "C1", "C2", "C3", "C4", "R1", "R2", "R3", "R4", "R5", "R6"]


def test_every_test_the_table_names_exists():
    named = _named_tests()
    assert len(named) > 20
    for path, name in named:
        source = ROOT / path
        assert source.exists(), path
        if name:
            assert re.search(rf"^def {name}\(", source.read_text(encoding="utf-8"), flags=re.MULTILINE), \
                f"{path}::{name}"
