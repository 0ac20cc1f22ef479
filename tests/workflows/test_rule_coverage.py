"""Every rule the engine cites exists and is tested; every refusal code is produced by some test."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RULE = re.compile(r"\bR-[A-Z]+-\d+\b")
ENGINE_SCOPE = """R-TIME-1 R-TIME-2 R-LOOP-1 R-PRES-1 R-PHAR-1 R-PAT-2 R-PAT-3 R-PAT-4 R-CON-1 R-CON-2 R-PT-1
R-PT-2 R-PT-3 R-PT-4 R-CYC-1 R-CYC-2 R-CYC-3 R-CYC-4 R-RMA-2 R-RMA-3 R-RMA-4 R-RMA-5 R-RMA-6 R-ATT-1
R-ATT-2 R-END-1 R-END-2""".split()


def _book() -> str:
    return (ROOT / "docs" / "rems-rules.md").read_text()


def _rules_in_book() -> set[str]:
    return set(RULE.findall(_book()))


def _cited_in_engine() -> set[str]:
    return {r for f in (ROOT / "workflows").glob("*.py") for r in RULE.findall(f.read_text())}


def _test_names() -> str:
    """Test function names (R_CYC_2 -> R-CYC-2) and docstrings of tests/workflows."""
    text = []
    for f in Path(__file__).parent.glob("test_*.py"):
        if f.name == Path(__file__).name:
            continue
        src = f.read_text()
        text += [n.replace("_", "-") for n in re.findall(r"def (test_\w+)", src)]
        text += re.findall(r'"""(.*?)"""', src, flags=re.S)
    return "\n".join(text)


def _refusal_codes() -> list[str]:
    section = _book().split("## Refusal codes", 1)[1]
    return re.findall(r"`([A-Z_]+)`", section)


def test_engine_cites_only_rules_of_the_book():
    assert _cited_in_engine() - _rules_in_book() == set()


def test_engine_scope_rules_are_all_cited():
    assert set(ENGINE_SCOPE) - _cited_in_engine() == set()


@pytest.mark.parametrize("rule", sorted(_cited_in_engine() | set(ENGINE_SCOPE)))
def test_every_cited_rule_is_named_by_a_test(rule):
    assert re.search(rf"{rule}(?!\d)", _test_names()), f"no test names {rule}"


def test_refusal_codes_are_parsed():
    assert len(_refusal_codes()) == 21


@pytest.mark.parametrize("code", _refusal_codes())
def test_every_refusal_code_is_expected_by_some_test(code):
    sources = "\n".join(
        f.read_text() for f in Path(__file__).parent.glob("test_*.py") if f.name != Path(__file__).name
    )
    assert f'"{code}"' in sources, f"no test expects {code}"
