"""The version the client sends in the handshake is the package's version (pyproject.toml)."""

from __future__ import annotations

import tomllib
from pathlib import Path

from app import __version__
from app.sync.client import VERSION_HEADERS
from app.sync.protocol import CLIENT_VERSION_HEADER, parse_version

ROOT = Path(__file__).resolve().parents[1]


def test_client_version_is_the_package_version() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert __version__ == project["version"], "bump app/__init__.py with pyproject.toml"
    assert VERSION_HEADERS[CLIENT_VERSION_HEADER] == __version__


def test_versions_compare_as_numbers() -> None:
    assert parse_version("0.10.0") > parse_version("0.9.9")  # type: ignore[operator]
    assert parse_version("1.2") == (1, 2, 0) and parse_version("1.2.3rc1") == (1, 2, 3)
    assert parse_version("") is None and parse_version("latest") is None
