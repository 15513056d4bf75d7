"""Data files shipped with the product (kanji variant table, demo seal, demo card profile).

Located through this package so that source checkouts, wheels and the PyInstaller build find
them the same way.
"""

from __future__ import annotations

from pathlib import Path

_ROOT = Path(__file__).resolve().parent


def path(*parts: str) -> Path:
    """The file `parts` inside resources/ (it may not exist: callers say what is missing)."""
    return _ROOT.joinpath(*parts)


def cards_dir() -> Path:
    return _ROOT / "cards"
