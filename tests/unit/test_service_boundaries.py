"""No service imports another: what two services share lives in ``trellis/`` or ``schemas/``,
and neither of those imports a service (only ``console/``, the CLI, knows them all)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = sorted(p.name for p in (ROOT / "services").iterdir() if (p / "__init__.py").exists())


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_imports_no_other_service(service: str) -> None:
    others = [s for s in SERVICES if s != service]
    crossing = {
        f"{path.relative_to(ROOT)}: {module}"
        for path in (ROOT / "services" / service).rglob("*.py")
        for module in _imports(path)
        if any(module == f"services.{o}" or module.startswith(f"services.{o}.") for o in others)
    }
    assert crossing == set()


def test_the_check_sees_every_service() -> None:
    assert SERVICES == ["ingest", "notifier", "orchestrator"]


@pytest.mark.parametrize("package", ["trellis", "schemas"])
def test_the_shared_plumbing_imports_no_service(package: str) -> None:
    upward = {
        f"{path.relative_to(ROOT)}: {module}"
        for path in (ROOT / package).rglob("*.py")
        for module in _imports(path)
        if module == "services" or module.startswith(("services.", "console"))
    }
    assert upward == set()


def test_the_console_is_where_the_services_meet() -> None:
    imported = {m for path in (ROOT / "console").rglob("*.py") for m in _imports(path)}
    assert {f"services.{s}" for s in SERVICES} <= {".".join(m.split(".")[:2]) for m in imported}
