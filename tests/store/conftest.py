"""Fixtures of the store tests: a fresh encrypted cache per test, feed items from households."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.store.db import Cache, create_cache
from app.store.keys import generate_dek
from app.sync.protocol import ChangeItem


def household_items(households: list[dict[str, Any]], first_seq: int = 1) -> list[ChangeItem]:
    return [
        ChangeItem(
            seq=first_seq + i,
            kind="household",
            key=h["household_id"],
            version=max(m["version"] for m in h["members"]),
            data=h,
        )
        for i, h in enumerate(households)
    ]


@pytest.fixture
def dek() -> bytes:
    return generate_dek()


@pytest.fixture
def cache(tmp_path: Path, dek: bytes) -> Iterator[Cache]:
    c = create_cache(tmp_path / "cache.db", dek)
    yield c
    c.close()
