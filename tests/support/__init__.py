"""Helpers shared by the tests: real components the tests start themselves."""

from __future__ import annotations

import os

import pytest

STRICT = os.environ.get("MADOGUCHI_STRICT") == "1"


def require(available: bool, reason: str) -> None:
    """Skip when a component is missing; under MADOGUCHI_STRICT=1 (CI) fail instead."""
    if available:
        return
    if STRICT:
        pytest.fail(f"MADOGUCHI_STRICT=1 and a required component is missing: {reason}")
    pytest.skip(reason)
