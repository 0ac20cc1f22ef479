"""Every rule of the rule book (docs/rems-rules.md) is enforced somewhere that cites its ID, and
named by at least one test; every ID cited in the code exists in the book."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RULE = re.compile(r"R-[A-Z]+-[0-9]+")
CODE_DIRS = ("rems", "workflows", "worker", "templates", "migrations")


def _book() -> set[str]:
    return set(RULE.findall((ROOT / "docs" / "rems-rules.md").read_text()))


LISTS = {"test_rule_coverage.py", "test_rule_book.py"}  # files that list IDs rather than test them


def _text(dirs, suffixes=(".py", ".html", ".txt")) -> str:
    return "\n".join(p.read_text(errors="ignore") for d in dirs for p in (ROOT / d).rglob("*")
                     if p.suffix in suffixes and p.is_file() and p.name not in LISTS)


def test_rule_book_copy_matches_shared_when_present():
    shared = ROOT.parent / "shared" / "rems-rules.md"
    if shared.exists():
        assert shared.read_text() == (ROOT / "docs" / "rems-rules.md").read_text()


def test_every_rule_is_cited_in_the_code():
    cited = set(RULE.findall(_text(CODE_DIRS)))
    assert _book() - cited == set()
    assert cited - _book() == set(), "code cites rule IDs that are not in the rule book"


def test_every_rule_is_named_by_a_test():
    tests = _text(["tests"], (".py",))
    variants = tests + tests.replace("_", "-").upper()
    missing = {rid for rid in _book() if rid not in variants}
    assert missing == set()
