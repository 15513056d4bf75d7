"""The import rules of DESIGN.md §2, checked by walking every module's imports with ast."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OUR_PACKAGES = {"app", "cli", "ui", "printing", "resources", "server"}


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def _modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def _violations(package: str, forbidden: set[str], allowed_ours: set[str] | None = None):
    found = []
    for path in _modules(package):
        for name in _imports(path):
            top = name.split(".")[0]
            dotted = name
            if (
                top in forbidden
                or any(dotted.startswith(f + ".") for f in forbidden)
                or (
                    allowed_ours is not None
                    and top in OUR_PACKAGES
                    and not any(dotted == a or dotted.startswith(a + ".") for a in allowed_ours)
                )
            ):
                found.append(f"{path.relative_to(ROOT)} imports {name}")
    return found


def test_domain_imports_nothing_of_ours_and_does_no_io() -> None:
    io_modules = {"sqlite3", "sqlcipher3", "httpx", "smartcard", "keyring", "socket", "requests"}
    assert _violations("app/domain", io_modules, allowed_ours={"app.domain"}) == []


def test_client_core_never_imports_qt_ui_printing_or_cli() -> None:
    assert _violations("app", {"PySide6", "shiboken6", "ui", "printing", "cli"}) == []


def test_printing_imports_only_the_domain() -> None:
    assert (
        _violations("printing", {"PySide6"}, allowed_ours={"app.domain", "printing", "resources"})
        == []
    )


def test_server_imports_domain_and_protocol_only() -> None:
    allowed = {"server", "app.domain", "app.sync.protocol"}
    found = _violations("server", {"PySide6", "ui", "printing", "cli"}, allowed_ours=allowed)
    # One exception (docs/architecture.md): the snapshot for a terminal's initial sync is the
    # terminal's cache file, made by the client's own store code.
    snapshot = ROOT / "server" / "snapshot.py"
    exempt = {f"{snapshot.relative_to(ROOT)} imports {name}" for name in _imports(snapshot)}
    exempt = {v for v in exempt if v.endswith(("app.store.db", "app.store.keys"))}
    assert exempt, "server/snapshot.py no longer needs the store: drop the exception"
    assert [v for v in found if v not in exempt] == []


@pytest.mark.parametrize("package", ["app", "printing", "server"])
def test_rule_checker_sees_modules(package: str) -> None:
    # Guards the test itself: an empty walk would make the rules above pass vacuously.
    assert _modules(package), f"no modules found under {package}/"
