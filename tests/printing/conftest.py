"""Fixtures for the printing tests: the real IPAmj明朝 from the system, documents to render."""

from __future__ import annotations

import shutil

import pytest

from printing.fonts import FontNotFound, Fonts, find_font_path, get_fonts
from tests.support import require


@pytest.fixture(scope="session")
def fonts() -> Fonts:
    try:
        find_font_path()
    except FontNotFound as exc:
        require(False, str(exc))
    return get_fonts()


def need_tool(name: str, package: str) -> str:
    path = shutil.which(name)
    require(path is not None, f"{name} is missing (Debian package {package})")
    assert path is not None
    return path
