"""SQL is built only with bound parameters: no f-string, ``%`` or ``.format`` reaches a raw-SQL
sink anywhere in the source tree, except the reviewed builders listed in ``REVIEWED``.

The scan parses every module (``ast``), finds each raw-SQL sink (``text()``,
``exec_driver_sql()``, ``literal_column()``, DBAPI ``execute*``/``fetch*`` on a string,
alembic ``op.execute`` on a string, and the bulk ``unnest`` helpers' ``table``/``tail``
arguments) and follows a name argument to its assignments in the same function or module. The
checker is itself tested on snippets, and must find the tree's real sinks, so it cannot pass by
finding nothing.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("services", "trellis", "migrations", "schemas")

TEXT_SINKS = {"text", "literal_column", "exec_driver_sql"}
DBAPI_SINKS = {"execute", "executemany", "executescript", "fetch", "fetchrow", "fetchval"}
# helpers whose string arguments become SQL text: (function name, argument positions, keywords)
BUILDER_ARGS = {
    "insert_unnest": ((0, 2), ("table", "tail")),
    "insert_rows": ((1, 4), ("table", "tail")),
    "insert_dicts": ((3,), ("tail",)),
}
REVIEWED = {
    # Identifiers and PostgreSQL types from this package's column constants (``insert_dicts``
    # checks every name against the Table), never from input; every value is bound as an array.
    # Its callers' ``table``/``tail`` are checked by this scan like any other sink.
    ("services/orchestrator/adapters/bulk.py", "insert_unnest"),
}


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    function: str
    sink: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line} in {self.function}(): dynamic string into {self.sink}"


def _callee(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


class _Scope:
    """Assignments by name within one function (or the module), for following a name."""

    def __init__(self, node: ast.AST, parent: _Scope | None) -> None:
        self.parent = parent
        self.values: dict[str, list[ast.expr]] = {}
        for child in ast.walk(node):
            if isinstance(child, ast.Assign):
                for target in child.targets:
                    if isinstance(target, ast.Name):
                        self.values.setdefault(target.id, []).append(child.value)
            elif (
                isinstance(child, ast.AnnAssign | ast.AugAssign)
                and child.value is not None
                and isinstance(child.target, ast.Name)
            ):
                self.values.setdefault(child.target.id, []).append(child.value)

    def lookup(self, name: str) -> list[ast.expr]:
        if name in self.values:
            return self.values[name]
        return self.parent.lookup(name) if self.parent else []


def is_dynamic(expr: ast.expr, scope: _Scope, seen: frozenset[str] = frozenset()) -> bool:
    """True if the expression builds a string from parts at run time (f-string, ``%``,
    ``+`` with a non-constant part, ``.format``, ``.join``), directly or through a name."""
    if isinstance(expr, ast.JoinedStr):
        return any(isinstance(v, ast.FormattedValue) for v in expr.values)
    if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Mod):
        return _stringish(expr.left, scope)
    if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Add):
        if not (_stringish(expr.left, scope) or _stringish(expr.right, scope)):
            return False
        return not (_constant(expr.left, scope, seen) and _constant(expr.right, scope, seen))
    if (
        isinstance(expr, ast.Call)
        and isinstance(expr.func, ast.Attribute)
        and expr.func.attr in ("format", "format_map", "join", "replace")
    ):
        return _stringish(expr.func.value, scope) or expr.func.attr == "join"
    if isinstance(expr, ast.Name) and expr.id not in seen:
        return any(is_dynamic(v, scope, seen | {expr.id}) for v in scope.lookup(expr.id))
    if isinstance(expr, ast.IfExp):
        return is_dynamic(expr.body, scope, seen) or is_dynamic(expr.orelse, scope, seen)
    return False


def _stringish(expr: ast.expr, scope: _Scope) -> bool:
    if isinstance(expr, ast.Constant):
        return isinstance(expr.value, str)
    if isinstance(expr, ast.JoinedStr | ast.BinOp):
        return True
    if isinstance(expr, ast.Name):
        return any(_stringish(v, scope) for v in scope.lookup(expr.id))
    return False


def _constant(expr: ast.expr, scope: _Scope, seen: frozenset[str]) -> bool:
    if isinstance(expr, ast.Constant):
        return True
    if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Add):
        return _constant(expr.left, scope, seen) and _constant(expr.right, scope, seen)
    if isinstance(expr, ast.Name) and expr.id not in seen:
        values = scope.lookup(expr.id)
        return bool(values) and all(_constant(v, scope, seen | {expr.id}) for v in values)
    return False


def scan_source(source: str, path: str) -> tuple[list[Finding], int]:
    """(findings, number of SQL sinks inspected) for one module's source."""
    tree = ast.parse(source)
    findings: list[Finding] = []
    sinks = 0

    def visit(node: ast.AST, scope: _Scope, function: str) -> None:
        nonlocal sinks
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                visit(child, _Scope(child, scope), child.name)
                continue
            if isinstance(child, ast.Call):
                for arg, sink in _sql_arguments(child, scope):
                    sinks += 1
                    if is_dynamic(arg, scope) and (path, function) not in REVIEWED:
                        findings.append(Finding(path, child.lineno, function, sink))
            visit(child, scope, function)

    visit(tree, _Scope(tree, None), "<module>")
    return findings, sinks


def _sql_arguments(call: ast.Call, scope: _Scope) -> list[tuple[ast.expr, str]]:
    name = _callee(call)
    if name is None:
        return []
    if name in TEXT_SINKS and call.args:
        return [(call.args[0], f"{name}()")]
    if name in DBAPI_SINKS and call.args and _stringish(call.args[0], scope):
        return [(call.args[0], f"{name}()")]
    if name in DBAPI_SINKS and call.args and is_dynamic(call.args[0], scope):
        return [(call.args[0], f"{name}()")]
    if name in BUILDER_ARGS:
        positions, keywords = BUILDER_ARGS[name]
        args = [call.args[i] for i in positions if i < len(call.args)]
        args += [k.value for k in call.keywords if k.arg in keywords]
        return [(a, f"{name}() SQL text argument") for a in args]
    return []


def _tree() -> list[Path]:
    return sorted(p for d in SCANNED for p in (ROOT / d).rglob("*.py"))


@pytest.mark.parametrize(
    ("snippet", "dynamic"),
    [
        ("conn.execute(text(f'SELECT * FROM t WHERE id = {x}'))", True),
        ("conn.exec_driver_sql('DELETE FROM t WHERE id = %s' % x)", True),
        ("conn.execute(text('SELECT * FROM t WHERE a = {}'.format(x)))", True),
        ("q = 'SELECT * FROM t WHERE a = ' + x\nconn.execute(text(q))", True),
        ("def f(x):\n    q = f'DROP TABLE {x}'\n    return text(q)", True),
        ("cur.execute(f'PRAGMA {name}')", True),
        ("cur.execute(' '.join(parts))", True),
        ("bulk.insert_rows(conn, table, COLS, rows, f'ON CONFLICT ({col}) DO NOTHING')", True),
        ("conn.execute(text('SELECT * FROM t WHERE id = :id'), {'id': x})", False),
        ("Q = 'SELECT 1'\nR = Q + ' UNION SELECT 2'\nconn.execute(text(R))", False),
        ("cur.execute('PRAGMA foreign_keys=ON')", False),
        ("op.execute(ledger.update().where(ledger.c.error.like('x: %')))", False),
        ("conn.execute(select(t).where(t.c.id == x))", False),
        ("bulk.insert_rows(conn, 'inbox', COLS, rows, 'ON CONFLICT DO NOTHING')", False),
    ],
)
def test_the_checker_flags_strings_built_at_run_time_and_only_those(
    snippet: str, dynamic: bool
) -> None:
    findings, sinks = scan_source(snippet, "snippet.py")
    assert sinks >= 1 or not dynamic  # SQLAlchemy expressions are not raw-SQL sinks at all
    assert bool(findings) is dynamic, findings


def test_no_sql_in_the_source_tree_is_built_from_strings_at_run_time() -> None:
    findings: list[Finding] = []
    sinks = 0
    for path in _tree():
        found, count = scan_source(path.read_text(), str(path.relative_to(ROOT)))
        findings += found
        sinks += count
    assert sinks >= 10, f"only {sinks} SQL sinks found: is the scan still looking?"
    assert not findings, "SQL built from strings:\n" + "\n".join(map(str, findings))


def test_the_reviewed_builders_still_exist() -> None:
    """An exception outliving its code would silently cover a new function of that name."""
    for path, function in REVIEWED:
        tree = ast.parse((ROOT / path).read_text())
        names = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
        assert function in names, (path, function)
