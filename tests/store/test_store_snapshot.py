"""The initial sync's snapshot on the store side: a register built under one key, copied page
by page under the terminal's key (copy_cache, as the server does), and taken as the cache
(adopt_snapshot) with what the terminal made itself carried over."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.store.db import Cache, copy_cache, create_cache, open_cache
from app.store.errors import CacheCorrupt, NotFound, StoreError, WrongKey
from app.store.keys import generate_dek
from app.store.search import SearchQuery

from .conftest import household_items
from .households import make_households
from .test_store_outbox import event


def _register(path: Path, key: bytes, households: list[dict]) -> int:
    """A register built as the server builds its snapshot: bulk load, then the indexes."""
    with create_cache(path, key) as base:
        base.begin_bulk_load()
        items = household_items(households)
        base.apply_changes(items, items[-1].seq)
        base.finish_bulk_load()
        return base.cursor()


@pytest.fixture
def households() -> list[dict]:
    return list(make_households(300, seed=7))


@pytest.fixture
def snapshot(tmp_path: Path, dek: bytes, households: list[dict]) -> tuple[Path, int]:
    base_key = generate_dek()
    seq = _register(tmp_path / "base.db", base_key, households)
    copy_cache(tmp_path / "base.db", base_key, tmp_path / "cache.db.snapshot", dek)
    return tmp_path / "cache.db.snapshot", seq


def _digest_of(path: Path, key: bytes) -> list[str]:
    with open_cache(path, key) as c:
        return c.bucket_digest().buckets


def test_copy_is_readable_only_with_the_new_key(tmp_path: Path, dek: bytes, snapshot) -> None:
    path, seq = snapshot
    with pytest.raises(WrongKey):
        open_cache(path, generate_dek())
    with open_cache(path, dek) as c:
        assert c.cursor() == seq and not c.bulk_loading()
    with pytest.raises(StoreError):
        copy_cache(tmp_path / "base.db", generate_dek(), path, dek)  # never over a file


def test_adopt_keeps_what_the_terminal_made(
    cache: Cache, dek: bytes, snapshot, households: list[dict]
) -> None:
    path, seq = snapshot
    member = households[0]["members"][0]
    # What a terminal holds before its first sync: an event of the login, its local state.
    pending = event("audit_batch", entries=1)
    cache.outbox_add(pending)
    cache.set_local_state("card_state:P1", "issued")
    expected = _digest_of(path, dek)
    with pytest.raises(NotFound):
        cache.person(member["person_id"])
    # While the snapshot downloads the cache is empty: search says so instead of "nobody".
    with pytest.raises(StoreError, match="初回同期"):
        cache.search(SearchQuery(name=member["name_kana"]))

    cache.adopt_snapshot(path, seq)

    assert not path.exists()
    assert cache.cursor() == seq
    assert cache.bucket_digest().buckets == expected
    assert [e.event_id for e in cache.outbox_pending()] == [pending.event_id]
    assert cache.local_state("card_state:P1") == "issued"
    assert cache.person(member["person_id"])[1] == households[0]["household_id"]
    hits = cache.search(SearchQuery(name=member["name_kana"])).hits
    assert member["person_id"] in {h.person_id for h in hits}
    # The object keeps working on the new file, and the file opens again with the same key.
    cache.outbox_add(event("card_event", step=2))
    assert cache.outbox_count() == 2
    cache.close()
    with open_cache(cache.path, dek) as again:
        assert again.cursor() == seq and again.outbox_count() == 2


def test_adopt_refuses_and_changes_nothing(cache: Cache, dek: bytes, snapshot, tmp_path) -> None:
    path, seq = snapshot
    cache.outbox_add(event())
    with pytest.raises(CacheCorrupt):
        cache.adopt_snapshot(path, seq + 1)  # not the position the server announced
    # Another terminal's copy (another key): not ours.
    other = tmp_path / "other.snapshot"
    copy_cache(path, dek, other, generate_dek())
    with pytest.raises(WrongKey):
        cache.adopt_snapshot(other, seq)
    assert cache.cursor() == 0 and cache.outbox_count() == 1 and path.exists()

    # A cache that has applied part of the feed does not start again from a snapshot.
    items = household_items(list(make_households(5, seed=3)))
    cache.apply_changes(items, items[-1].seq)
    with pytest.raises(StoreError):
        cache.adopt_snapshot(path, seq)
    assert cache.cursor() == items[-1].seq


def test_a_snapshot_with_terminal_records_is_refused(cache: Cache, dek: bytes, snapshot) -> None:
    path, seq = snapshot
    with open_cache(path, dek) as c:
        c.outbox_add(event())  # e.g. another terminal's cache sent by mistake
    with pytest.raises(CacheCorrupt):
        cache.adopt_snapshot(path, seq)
    assert cache.cursor() == 0


def test_the_audit_chain_goes_on_across_the_adoption(cache: Cache, dek: bytes, snapshot) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    from app.store.audit import AuditAction, AuditChain, signer_for

    path, seq = snapshot
    key = ec.generate_private_key(ec.SECP256R1())
    chain = AuditChain(cache, "0001", signer_for(key))
    chain.append("op1", AuditAction.LOGIN, [])
    cache.adopt_snapshot(path, seq)
    # The chain made before the sync is in the new file and links on: one chain, intact.
    chain.append("op1", AuditAction.SEARCH, [])
    assert [e.action for e in reversed(chain.query(operator_id="op1"))] == [
        AuditAction.LOGIN.value,
        AuditAction.SEARCH.value,
    ]
    assert chain.verify(key.public_key()) == []
