"""One Cache shared by background threads (the GUI's pattern): calls serialise, nothing breaks."""

from __future__ import annotations

import threading

from app.store.db import Cache
from app.store.search import SearchQuery

from .conftest import household_items
from .households import make_households


def test_search_while_applying_from_another_thread(cache: Cache) -> None:
    items = household_items(list(make_households(1500, seed=8)))
    errors: list[BaseException] = []
    done = threading.Event()

    # A cache that holds some of the register (searching an empty one is refused).
    cache.apply_changes(items[:100], items[99].seq)

    def writer() -> None:
        try:
            for i in range(100, len(items), 100):
                page = items[i : i + 100]
                cache.apply_changes(page, page[-1].seq)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            done.set()

    def reader() -> None:
        try:
            while not done.is_set():
                cache.search(SearchQuery(name="さとう"))
                cache.cursor()
                cache.outbox_count()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer), threading.Thread(target=reader),
               threading.Thread(target=reader)]  # fmt: skip
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert cache.cursor() == len(items)
    assert cache.counts()["households"] == len(items)
