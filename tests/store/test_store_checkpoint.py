"""WAL checkpoints off the cache's lock (Cache.checkpoint): the pages a sync wrote are copied
back into the file on a second connection, while the counter keeps the cache's lock free."""

from __future__ import annotations

import threading
from pathlib import Path

from app.store.db import WAL_AUTOCHECKPOINT_PAGES, Cache, create_cache, open_cache
from app.store.search import SearchQuery

from .conftest import household_items
from .households import make_households


def test_commits_leave_the_pages_in_the_log_until_the_checkpoint(cache: Cache) -> None:
    households = list(make_households(3000, seed=3))
    items = household_items(households)
    for start in range(0, len(items), 20):  # small pages of a sync, one commit each
        page = items[start : start + 20]
        cache.apply_changes(page, page[-1].seq)
    log_frames, copied = cache.checkpoint() or (0, 0)
    # No commit copied pages back: with SQLite's default (at 1,000 pages, in the commit) the
    # log would restart and never hold much more than 1,000 pages ...
    assert 2000 < log_frames < WAL_AUTOCHECKPOINT_PAGES
    # ... and the checkpoint copied every frame: nobody was reading.
    assert copied == log_frames
    assert cache.checkpoint() == (log_frames, log_frames)  # nothing new since
    name = households[5]["members"][0]["name"]
    assert cache.search(SearchQuery(name=name)).hits


def test_the_checkpoint_does_not_wait_for_the_cache_lock(cache: Cache) -> None:
    households = list(make_households(120, seed=4))
    cache.apply_changes(household_items(households), len(households))
    holding, release = threading.Event(), threading.Event()

    def hold_the_lock() -> None:  # a long search or issuance on another thread
        with cache.transaction():
            holding.set()
            release.wait(10)

    other = threading.Thread(target=hold_the_lock)
    other.start()
    try:
        assert holding.wait(5)
        done: list[object] = []
        worker = threading.Thread(target=lambda: done.append(cache.checkpoint()))
        worker.start()
        worker.join(5)
        assert done and done[0] is not None, "checkpoint waited for the cache's lock"
    finally:
        release.set()
        other.join()


def test_no_checkpoint_during_a_bulk_load(tmp_path: Path, dek: bytes) -> None:
    path = tmp_path / "c.db"
    cache = create_cache(path, dek)
    households = list(make_households(40, seed=9))
    cache.begin_bulk_load()
    cache.apply_changes(household_items(households), len(households))
    assert cache.checkpoint() is None
    # The second connection did not switch the file back to WAL under the bulk load.
    assert cache.connection.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    cache.finish_bulk_load()
    assert cache.checkpoint() is not None
    cache.close()
    reopened = open_cache(path, dek)
    assert reopened.counts()["households"] == len(households)
    reopened.close()
