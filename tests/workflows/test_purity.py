"""workflows is pure: no web, database, queue or service imports (workflows <- rems <- worker)."""

import ast
from pathlib import Path

FORBIDDEN = {"flask", "sqlalchemy", "celery", "rems", "worker", "requests", "redis", "psycopg"}
WORKFLOWS = Path(__file__).resolve().parents[2] / "workflows"


def _imports(path: Path):
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module


def test_workflows_imports_nothing_impure():
    files = sorted(WORKFLOWS.glob("*.py"))
    assert files
    bad = [(f.name, name) for f in files for name in _imports(f) if name.split(".")[0] in FORBIDDEN]
    assert bad == []


def test_workflows_reads_no_clock():
    for path in WORKFLOWS.glob("*.py"):
        text = path.read_text()
        for call in ("datetime.now(", "date.today(", "time.time(", "utcnow("):
            assert call not in text, (path.name, call)
