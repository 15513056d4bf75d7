"""The import rules of DESIGN.md §2, checked by walking every module's imports with ast."""

from __future__ import annotations

import ast
import sys
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


def test_ui_reaches_the_store_only_through_services() -> None:
    # Permission checks and audit entries live in app.services: a widget that opened the cache
    # (or its audit chain) itself would skip both.
    assert _violations("ui", {"app.store", "sqlcipher3"}) == []


def test_printing_imports_only_the_domain() -> None:
    assert (
        _violations("printing", {"PySide6"}, allowed_ours={"app.domain", "printing", "resources"})
        == []
    )


def test_server_imports_domain_and_protocol_only() -> None:
    # app.fileio: the one atomic write, standard library only (checked below).
    allowed = {
        "server",
        "app.domain",
        "app.sync.protocol",
        "app.sync.notification_protocol",
        "app.fileio",
    }
    found = _violations("server", {"PySide6", "ui", "printing", "cli"}, allowed_ours=allowed)
    # One exception (docs/architecture.md): the snapshot for a terminal's initial sync is the
    # terminal's cache file, made by the client's own store code.
    snapshot = ROOT / "server" / "snapshot.py"
    exempt = {f"{snapshot.relative_to(ROOT)} imports {name}" for name in _imports(snapshot)}
    exempt = {v for v in exempt if v.endswith(("app.store.db", "app.store.keys"))}
    assert exempt, "server/snapshot.py no longer needs the store: drop the exception"
    assert [v for v in found if v not in exempt] == []


def test_fileio_imports_only_the_standard_library() -> None:
    # The server may import app.fileio (its atomic writes): it must stay free of the client.
    names = {name.split(".")[0] for name in _imports(ROOT / "app" / "fileio.py")}
    assert names <= set(sys.stdlib_module_names) | {"__future__"}, names


@pytest.mark.parametrize("package", ["app", "printing", "server"])
def test_rule_checker_sees_modules(package: str) -> None:
    # Guards the test itself: an empty walk would make the rules above pass vacuously.
    assert _modules(package), f"no modules found under {package}/"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _top_level_imports(path: Path) -> list[str]:
    """Imports that run when the module loads (not under `if TYPE_CHECKING`, not in functions)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = _module_name(path).rsplit(".", 1)[0] if path.name != "__init__.py" else None
    names: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level and package is not None:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            # `from pkg import mod` imports the submodule; `from pkg import name`, the package.
            for alias in node.names:
                sub = f"{module}.{alias.name}"
                names.append(
                    sub
                    if (ROOT / Path(*sub.split("."))).with_suffix(".py").exists()
                    or (ROOT / Path(*sub.split(".")) / "__init__.py").exists()
                    else module
                )
    return names


@pytest.mark.parametrize("package", ["app", "server", "printing"])
def test_no_import_cycles(package: str) -> None:
    modules = {_module_name(p): p for p in _modules(package)}
    graph = {
        name: {i for i in _top_level_imports(path) if i in modules and i != name}
        for name, path in modules.items()
    }
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1 visiting, 2 done

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append([*trail[trail.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert cycles == []


# printing/ is not held to it yet: notification_forms.py reuses forms.py's painter.
@pytest.mark.parametrize("package", ["app", "server", "ui", "cli"])
def test_no_module_imports_private_names_of_another(package: str) -> None:
    found = []
    for path in _modules(package):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module != "__future__":
                ours = node.level > 0 or (node.module or "").split(".")[0] in OUR_PACKAGES
                private = [
                    a.name
                    for a in node.names
                    if a.name.startswith("_") and not a.name.startswith("__")
                ]
                if ours and private:
                    found.append(f"{path.relative_to(ROOT)} imports {node.module}.{private}")
    assert found == []
