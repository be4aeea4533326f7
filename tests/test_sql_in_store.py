"""All SQL lives in ``archiver/store/``: the other packages get rows from it (issue 12).

A scan of the source, not of behaviour: no module outside the store calls ``.query``,
``.execute``, ``.executemany`` or ``.table`` on anything, nor holds a string that starts a
statement, so a query cannot creep back into a stage, the CLI or the report.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ARCHIVER = Path(__file__).resolve().parents[1] / "archiver"
STORE = ARCHIVER / "store"
DATABASE_CALLS = frozenset({"query", "execute", "executemany", "table"})
STATEMENT = re.compile(r"\s*(select|insert|update|delete|create)\s", re.IGNORECASE)


def _sql_in(path: Path) -> list[str]:
    """Each database call and SQL string of one module, as ``line: what``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    # Not statements: docstrings ("Create the folder..."), and an f-string's later parts,
    # which are constants too but do not start it.
    skipped = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
    }
    skipped |= {
        id(part)
        for node in ast.walk(tree)
        if isinstance(node, ast.JoinedStr)
        for part in node.values[1:]
    }
    found = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in DATABASE_CALLS
        ):
            found.append(f"{node.lineno}: .{node.func.attr}(")
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in skipped
            and STATEMENT.match(node.value)
        ):
            found.append(f"{node.lineno}: {node.value.strip()[:40]!r}")
    return sorted(found, key=lambda item: int(item.split(":")[0]))


def _modules_outside_store() -> list[Path]:
    return [path for path in sorted(ARCHIVER.rglob("*.py")) if STORE not in path.parents]


def test_no_sql_outside_the_store() -> None:
    found = {
        path.relative_to(ARCHIVER).as_posix(): sql
        for path in _modules_outside_store()
        if (sql := _sql_in(path))
    }
    assert found == {}


def test_the_scan_finds_a_query(tmp_path: Path) -> None:
    module = tmp_path / "module.py"
    module.write_text(
        'rows = db.query("select id from articles")\n'
        'db.table("evidence").insert_all([])\n'
        "sql = f'''\n  DELETE FROM evidence where id = {1}'''\n",
        encoding="utf-8",
    )
    assert _sql_in(module) == [
        "1: .query(",
        "1: 'select id from articles'",
        "2: .table(",
        "3: 'DELETE FROM evidence where id ='",
    ]


def test_docstrings_and_the_middle_of_an_f_string_pass(tmp_path: Path) -> None:
    module = tmp_path / "module.py"
    module.write_text(
        'def make():\n    """Create the folder."""\n\nnote = f"{count} select "\n',
        encoding="utf-8",
    )
    assert _sql_in(module) == []
