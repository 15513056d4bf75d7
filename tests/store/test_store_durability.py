"""Which commits wait for the disk.

Everything the terminal made itself (outbox events, issuances, the audit chain, key material in
meta) commits with `synchronous = FULL`: durable when the call returns. Pages of the server's
feed, their cursor and the time of a complete pull commit with NORMAL in WAL mode
(`transaction(refetchable=True)`): a power cut may lose the last of them, which the next pull
fetches again, and never corrupts the file.
A power cut cannot be staged here, so these tests check the setting each commit runs under,
read from SQLite itself through the connection's trace of statements.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.store.db import Cache
from app.store.errors import StoreError

from .conftest import household_items
from .households import make_households
from .test_store_outbox import event


class SyncModes:
    """The synchronous setting in force at each COMMIT of the connection."""

    def __init__(self, cache: Cache) -> None:
        self._statements: list[str] = []
        self._mode = 2  # FULL, as the cache opens
        cache.connection.set_trace_callback(self._statements.append)

    def commits(self) -> list[int]:
        """The setting (1 NORMAL, 2 FULL) of each COMMIT since the last call."""
        out = []
        for sql in self._statements:
            text = sql.strip().upper()
            if text.startswith("PRAGMA SYNCHRONOUS ="):
                self._mode = {"NORMAL": 1, "FULL": 2}[text.split("=")[1].strip()]
            elif text == "COMMIT":
                out.append(self._mode)
        self._statements.clear()
        return out


def test_feed_pages_commit_without_waiting_and_the_rest_with_full(cache: Cache) -> None:
    modes = SyncModes(cache)
    households = list(make_households(40, seed=5))
    cache.apply_changes(household_items(households), len(households))
    assert modes.commits() == [1]
    assert cache.connection.execute("PRAGMA synchronous").fetchone()[0] == 2  # back to FULL

    cache.mark_pull_complete(datetime(2026, 11, 26, 9, 0, tzinfo=UTC))  # the pull's end
    assert modes.commits() == [1]
    cache.outbox_add(event())
    cache.set_local_state("card_state:P1", "交付済")
    assert modes.commits() == [2, 2]

    bucket = cache.connection.execute("SELECT bucket FROM households LIMIT 1").fetchone()[0]
    cache.replace_bucket(bucket, cache.households_in_bucket(bucket))  # anti-entropy repair
    assert modes.commits() == [1]


def test_a_refused_page_rolls_back_and_restores_full(cache: Cache) -> None:
    households = list(make_households(10, seed=6))
    cache.apply_changes(household_items(households), 10)
    with pytest.raises(StoreError):
        cache.apply_changes(household_items(households[:1], first_seq=3), 3)  # cursor back
    assert cache.connection.execute("PRAGMA synchronous").fetchone()[0] == 2
    assert cache.cursor() == 10


def test_a_bulk_load_keeps_full_with_its_rollback_journal(cache: Cache) -> None:
    """NORMAL with a rollback journal could corrupt the file at a power cut."""
    modes = SyncModes(cache)
    assert cache.begin_bulk_load()
    households = list(make_households(30, seed=7))
    cache.apply_changes(household_items(households), len(households))
    cache.finish_bulk_load()
    during = modes.commits()
    assert len(during) >= 3 and set(during) == {2}
    cache.apply_changes(household_items(households[:2], first_seq=31), 32)  # WAL again
    assert modes.commits() == [1]
