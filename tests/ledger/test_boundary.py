"""The ledger has one boundary: no module outside ``migration/ledger/`` (and ``migration/schema/``,
where the revisions and the model define the tables) holds SQL that names a ledger table.

SQL is found in the string literals of the source (f-strings included, their literal parts
joined), docstrings left out: a string that names ``ledger.<table>`` counts when it also
reads like SQL (a keyword such as SELECT, INSERT, UPDATE, DELETE, COPY, FROM, JOIN, INTO, or
``to_regclass``), or when it is nothing but a qualified ledger table name (a table handed to
a COPY).  Prose that mentions a table, in a docstring or a message, is not SQL.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "migration"
#: where ledger SQL belongs
ALLOWED = ("ledger", "schema")

#: a ledger table by name, or by a value spliced in (``f"UPDATE ledger.{book} …"``)
_LEDGER_NAME = re.compile(r"\bledger\.([a-z_]+\b|\x00)")
_SQL_WORD = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE|COPY|FROM|JOIN|INTO|TRUNCATE|to_regclass)\b")
_BARE_NAME = re.compile(r"^\s*ledger\.[a-z_]+\s*$")
_PLACEHOLDER = "\x00"


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
    # attribute docstrings (a string statement after an assignment) are prose too
    for node in ast.walk(tree):
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            ids.add(id(node.value))
    return ids


def _strings(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, text) of every string literal that is not a docstring; an f-string's literal parts
    joined with a placeholder where a value goes."""
    skip = _docstrings(tree)
    inside: set[int] = set()
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            parts = []
            for v in node.values:
                inside.add(id(v))
                parts.append(v.value if isinstance(v, ast.Constant) and isinstance(v.value, str) else _PLACEHOLDER)
            out.append((node.lineno, "".join(parts)))
    for node in ast.walk(tree):
        if (isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip
                and id(node) not in inside):
            out.append((node.lineno, node.value))
    return out


def raw_ledger_sql(root: Path, allowed: tuple[str, ...] = ALLOWED) -> list[str]:
    """``path:line: excerpt`` of every string under ``root`` (a package) holding ledger SQL,
    outside the ``allowed`` subpackages."""
    found = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if rel.parts and rel.parts[0] in allowed:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for line, s in _strings(tree):
            if _LEDGER_NAME.search(s) and (_SQL_WORD.search(s) or _BARE_NAME.match(s)):
                found.append(f"{root.name}/{rel}:{line}: {' '.join(s.split())[:100]}")
    return sorted(found)


def test_no_module_outside_the_ledger_holds_ledger_sql() -> None:
    found = raw_ledger_sql(PACKAGE)
    assert found == [], "ledger SQL outside migration/ledger/ (move it behind the ledger API):\n" + "\n".join(found)


def test_the_check_finds_ledger_sql_planted_in_another_module(tmp_path: Path) -> None:
    pkg = tmp_path / "migration"
    (pkg / "steps").mkdir(parents=True)
    (pkg / "ledger").mkdir()
    (pkg / "schema").mkdir()
    (pkg / "steps" / "sneaky.py").write_text(
        '"""Docstrings may mention ledger.event and SELECT freely."""\n'
        "from sqlalchemy import text\n\n"
        "def f(conn, t):\n"
        '    conn.execute(text("UPDATE ledger.quarantine SET x = 1"))\n'
        '    conn.execute(text(f"SELECT count(*) FROM {t} JOIN "\n'
        '                      f"ledger.event e ON e.run_id = {t}.load_run_id"))\n'
        '    table = "ledger.disposition"\n'
        '    conn.execute(text(f"DELETE FROM ledger.{table} WHERE run_id = 1"))\n'
        '    message = "see ledger.check_result for the details"\n'
        "    return table, message\n", encoding="utf-8")
    (pkg / "ledger" / "books.py").write_text('Q = "SELECT * FROM ledger.event"\n', encoding="utf-8")
    (pkg / "schema" / "models.py").write_text('Q = "DROP TABLE ledger.event"\n', encoding="utf-8")
    found = raw_ledger_sql(pkg)
    assert [f.split(": ", 1)[0] for f in found] == ["migration/steps/sneaky.py:5", "migration/steps/sneaky.py:6",
                                                     "migration/steps/sneaky.py:8", "migration/steps/sneaky.py:9"]
    assert "UPDATE ledger.quarantine" in found[0]
    # the same module inside the ledger package is allowed
    (pkg / "steps" / "sneaky.py").rename(pkg / "ledger" / "sneaky.py")
    assert raw_ledger_sql(pkg) == []
