"""The two write paths of the feed give the same cache.

An initial sync loads in bulk (begin_bulk_load … finish_bulk_load: pages appended, name keys
and indexes built at the end); later pages replace only what changed. Both must end in the
same tables as a cache built from the final state in one go, whatever happened in between:
households sent again, persons moving, households deleted, an interrupted load.
"""

from __future__ import annotations

import copy
import random
from pathlib import Path
from typing import Any

import pytest

from app.store.db import Cache, create_cache, open_cache
from app.store.errors import StoreError
from app.store.search import SearchQuery
from app.sync.protocol import ChangeItem

from .conftest import household_items
from .households import make_households

_TABLES = {
    "households": "SELECT * FROM households ORDER BY household_id",
    "persons": "SELECT * FROM persons ORDER BY person_id",
    "search_keys": "SELECT * FROM search_keys ORDER BY key, birth_date, person_id",
}


def tables(cache: Cache) -> dict[str, list[tuple[Any, ...]]]:
    # my_number_tag is keyed per cache: compare whether there is one, not its bytes.
    out = {}
    for name, sql in _TABLES.items():
        rows = [tuple(r) for r in cache.connection.execute(sql)]
        if name == "persons":
            rows = [(*r[:4], r[4] is not None, *r[5:]) for r in rows]
        out[name] = rows
    return out


def index_names(cache: Cache) -> set[str]:
    return {
        r[0]
        for r in cache.connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
        )
    }


def moved(h: dict[str, Any], address: str) -> dict[str, Any]:
    out = copy.deepcopy(h)
    out["address"] = address
    for m in out["members"]:
        m["version"] += 1
    return out


def renamed(h: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(h)
    m = out["members"][0]
    m["name"], m["name_kana"], m["version"] = "改名 花子", "カイメイ ハナコ", m["version"] + 1
    return out


def noted(h: dict[str, Any]) -> dict[str, Any]:
    """A 記事 only: nothing that search or the indexes see changes."""
    out = copy.deepcopy(h)
    for m in out["members"]:
        m["version"] += 1
        m["history"] = [*m.get("history", []), {"date": "2026-11-20", "kind": "転居", "note": ""}]
    return out


def history_of_changes(seed: int) -> tuple[list[ChangeItem], dict[str, dict[str, Any]]]:
    """A feed with every kind of change, and the final state it describes."""
    rng = random.Random(seed)
    households = list(make_households(300, seed=seed))
    final = {h["household_id"]: h for h in households}
    feed: list[dict[str, Any] | tuple[str, None]] = list(households)
    for h in rng.sample(households, 40):
        change = rng.choice([moved(h, "北見市北5条東1丁目9番地"), renamed(h), noted(h)])
        final[h["household_id"]] = change
        feed.append(change)
    # A person moves from one household to another (both households change, in two items).
    a, b = [h for h in households if len(h["members"]) > 1][-2:]
    a2, b2 = copy.deepcopy(final[a["household_id"]]), copy.deepcopy(final[b["household_id"]])
    mover = a2["members"].pop()
    mover["version"] += 1
    b2["members"].append(mover)
    final[a2["household_id"]], final[b2["household_id"]] = a2, b2
    feed += [b2, a2]
    # Two households are deleted.
    for h in households[3:5]:
        del final[h["household_id"]]
        feed.append((h["household_id"], None))
    # The server's feed keeps only the latest change of each household (compaction).
    latest: dict[str, int] = {}
    for i, entry in enumerate(feed):
        latest[entry[0] if isinstance(entry, tuple) else entry["household_id"]] = i
    items = []
    for i, entry in enumerate(feed):
        key = entry[0] if isinstance(entry, tuple) else entry["household_id"]
        if latest[key] != i and seed % 2:  # odd seeds: an uncompacted feed, every change
            continue
        if isinstance(entry, tuple):
            items.append(ChangeItem(seq=i + 1, kind="household", key=key, version=1, deleted=True))
        else:
            items += household_items([entry], first_seq=i + 1)
    return items, final


def reference(tmp_path: Path, dek: bytes, final: dict[str, dict[str, Any]]) -> Cache:
    ref = create_cache(tmp_path / "reference.db", dek)
    ref.apply_changes(household_items(sorted(final.values(), key=lambda h: h["household_id"])), 1)
    return ref


def apply_in_pages(cache: Cache, items: list[ChangeItem], size: int) -> None:
    for i in range(0, len(items), size):
        page = items[i : i + size]
        cache.apply_changes(cache.prepare_changes(page), page[-1].seq)


@pytest.mark.parametrize("seed", [1, 2])
def test_bulk_load_equals_a_cache_built_from_the_final_state(
    tmp_path: Path, dek: bytes, seed: int
) -> None:
    items, final = history_of_changes(seed)
    cache = create_cache(tmp_path / "bulk.db", dek)
    before = index_names(cache)
    assert cache.begin_bulk_load()
    assert index_names(cache) < before  # the secondary indexes wait for the end
    apply_in_pages(cache, items, 37)
    cache.finish_bulk_load()
    assert not cache.bulk_loading()
    assert index_names(cache) == before
    ref = reference(tmp_path, dek, final)
    assert tables(cache) == tables(ref)
    assert cache.bucket_digest() == ref.bucket_digest()


@pytest.mark.parametrize("seed", [3, 4])
def test_changes_after_the_initial_sync_equal_a_fresh_build(
    tmp_path: Path, dek: bytes, seed: int
) -> None:
    items, final = history_of_changes(seed)
    cache = create_cache(tmp_path / "delta.db", dek)
    apply_in_pages(cache, items, 11)
    assert tables(cache) == tables(reference(tmp_path, dek, final))


def test_search_waits_for_the_end_of_the_bulk_load(tmp_path: Path, dek: bytes) -> None:
    households = list(make_households(60, seed=5))
    cache = create_cache(tmp_path / "c.db", dek)
    cache.begin_bulk_load()
    cache.apply_changes(household_items(households), len(households))
    with pytest.raises(StoreError, match="初回同期の途中"):
        cache.search(SearchQuery(name="サトウ"))
    cache.finish_bulk_load()
    name = households[0]["members"][0]["name"]
    hits = cache.search(SearchQuery(name=name)).hits
    assert households[0]["members"][0]["person_id"] in {h.person_id for h in hits}


def test_an_interrupted_bulk_load_resumes_in_bulk_mode(tmp_path: Path, dek: bytes) -> None:
    households = list(make_households(80, seed=6))
    items = household_items(households)
    path = tmp_path / "c.db"
    cache = create_cache(path, dek)
    cache.begin_bulk_load()
    cache.apply_changes(items[:10], items[9].seq)
    cache.close()  # the process ends here (tests/sync kills one with SIGKILL)

    cache = open_cache(path, dek)
    assert cache.bulk_loading() and cache.cursor() == items[9].seq
    assert cache.connection.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    cache.apply_changes(items[10:], items[-1].seq)
    cache.finish_bulk_load()
    # Back to WAL, so that searches run while later pages are written.
    assert cache.connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert tables(cache) == tables(
        reference(tmp_path, dek, {h["household_id"]: h for h in households})
    )


def test_bulk_load_only_starts_on_an_empty_cache(cache: Cache) -> None:
    households = list(make_households(20, seed=8))
    cache.apply_changes(household_items(households), len(households))
    assert not cache.begin_bulk_load()
    assert not cache.bulk_loading()
