"""Opening, keys, encryption at rest, migrations."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
import sqlcipher3

from app.store import migrations
from app.store.db import Cache, create_cache, open_cache
from app.store.errors import StoreError, WrongKey
from app.store.keys import generate_dek
from app.store.search import SearchQuery

from .conftest import household_items
from .households import make_households


def test_create_open_and_pragmas(tmp_path: Path, dek: bytes) -> None:
    path = tmp_path / "cache.db"
    with create_cache(path, dek) as c:
        assert c.schema_version() == migrations.LATEST_VERSION
        assert c.connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        # 2 = FULL
        assert c.connection.execute("PRAGMA synchronous").fetchone()[0] == 2
        assert c.connection.execute("PRAGMA cipher_hmac_algorithm").fetchone()[0] == "HMAC_SHA256"
        assert c.connection.execute("PRAGMA temp_store").fetchone()[0] == 2  # memory
        assert c.cursor() == 0
    with open_cache(path, dek) as c:
        assert c.schema_version() == migrations.LATEST_VERSION
    with pytest.raises(StoreError):
        create_cache(path, dek)
    with pytest.raises(StoreError):
        open_cache(tmp_path / "missing.db", dek)


def test_wrong_key_fails_closed(tmp_path: Path, dek: bytes) -> None:
    path = tmp_path / "cache.db"
    with create_cache(path, dek) as c:
        c.apply_changes(household_items(list(make_households(20, seed=3))), 10)
    before = path.read_bytes()
    for _ in range(3):
        with pytest.raises(WrongKey) as exc:
            open_cache(path, generate_dek())
        assert "鍵" in exc.value.message
    # A failed open changes nothing, and the right key still works.
    assert path.read_bytes() == before
    with open_cache(path, dek) as c:
        assert c.cursor() == 10
    with pytest.raises(ValueError):
        open_cache(path, b"short")


def test_plain_sqlite_cannot_read(tmp_path: Path, dek: bytes) -> None:
    path = tmp_path / "cache.db"
    with create_cache(path, dek) as c:
        c.apply_changes(household_items(list(make_households(10))), 1)
    conn = sqlite3.connect(path)
    with pytest.raises(sqlite3.DatabaseError):
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    conn.close()
    assert not path.read_bytes().startswith(b"SQLite format 3")


def test_no_plaintext_in_db_or_wal(tmp_path: Path, dek: bytes) -> None:
    path = tmp_path / "cache.db"
    households = list(make_households(300, seed=11))
    c = create_cache(path, dek)
    c.apply_changes(household_items(households), len(households))
    # Look while the WAL still holds the pages (no checkpoint yet), then after closing.
    wal = Path(str(path) + "-wal")
    assert wal.exists() and wal.stat().st_size > 0
    snapshots = [path.read_bytes() + wal.read_bytes()]
    c.close()
    snapshots.append(path.read_bytes())
    needles: set[bytes] = {b"household_id", b"CREATE TABLE", "北見市".encode()}
    for h in households[:100]:
        needles.add(h["address"].encode())
        for m in h["members"]:
            needles.add(m["name"].encode())
            needles.add(m["name_kana"].encode())
            needles.add(m["juminhyo_code"].encode())
            if m["my_number"]:
                needles.add(m["my_number"].encode())
                needles.add(m["my_number"].encode("utf-16-le"))
    for blob in snapshots:
        found = [n for n in needles if n in blob]
        assert not found, f"plaintext in the cache file: {len(found)} items"


def test_migrations_step_by_step(tmp_path: Path, dek: bytes) -> None:
    """Each step runs on a database made by the previous one, data kept."""
    path = tmp_path / "m.db"
    conn = sqlcipher3.connect(str(path), isolation_level=None)
    conn.execute(f"PRAGMA key = \"x'{dek.hex()}'\"")
    assert migrations.migrate(conn, upto=1) == 1
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"households", "persons", "search_keys", "meta", "operators"} <= tables
    assert "outbox" not in tables
    conn.execute("INSERT INTO meta(k, v) VALUES ('probe', 'v1')")
    conn.execute("UPDATE meta SET v = '7' WHERE k = 'cursor'")

    assert migrations.migrate(conn, upto=2) == 2
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"outbox", "notices", "issuances", "issuance_counters"} <= tables
    assert "audit_entries" not in tables
    assert conn.execute("SELECT v FROM meta WHERE k='probe'").fetchone()[0] == "v1"
    conn.execute(
        "INSERT INTO outbox(event_id, type, body, added_at, updated_at)"
        " VALUES ('e', 'card_event', '{}', 'x', 'x')"
    )

    assert migrations.migrate(conn, upto=3) == 3
    cols = [r[1] for r in conn.execute("PRAGMA table_info(audit_entries)")]
    assert cols == [
        "seq", "entry_id", "at", "operator_id", "terminal_no", "action", "target_ids",
        "reason", "prev_hash", "hash", "signature", "pushed",
    ]  # fmt: skip
    conn.execute(
        "INSERT INTO search_keys VALUES (?, 'P1', 3, 0, '1970-01-01', 'male', 'H1', ?)",
        ("ヤマタ", "ヤマタ"),
    )
    conn.execute(
        "INSERT INTO households VALUES ('H1', 1, 0, '012084', '090-0001', '北見市北1条',"
        " 'コーポ101', 'P1', '北見市北1条', 'コーポ101', '{}')"
    )
    assert migrations.migrate(conn, upto=4) == 4
    assert migrations.migrate(conn, upto=5) == 5
    assert conn.execute(
        "SELECT address_key, katagaki_key FROM search_keys WHERE person_id = 'P1'"
    ).fetchone() == ("北見市北1条", "コーポ101")
    conn.execute(
        "INSERT INTO persons (person_id, household_id, ord, juminhyo_code, version, status,"
        " name, name_kana, birth_date, sex, relationship, history, name_key, kana_key)"
        " VALUES ('P1', 'H1', 0, '12345678901', 1, 'resident', '山田 太郎', 'ヤマダ タロウ',"
        " '1970-01-01', 'male', '世帯主', '[]', '山田太郎', 'ヤマタタロウ')"
    )
    assert migrations.migrate(conn, upto=6) == 6
    assert conn.execute("SELECT key_list FROM persons WHERE person_id = 'P1'").fetchone() == (
        '{"ヤマタ":3}',
    )
    indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert not {"search_keys_person", "search_keys_household"} & indexes
    assert "search_keys_address" in indexes
    # As an initial sync interrupted in bulk mode leaves it: the SQL of the dropped indexes.
    bulk_indexes = [
        r[0]
        for r in conn.execute(
            "SELECT sql FROM sqlite_master WHERE type='index' AND sql IS NOT NULL ORDER BY name"
        )
    ]
    conn.execute("INSERT INTO meta(k, v) VALUES ('bulk_indexes', ?)", (json.dumps(bulk_indexes),))
    # Until v7, one flag for whichever terminal's item came last in the (shared) feed.
    conn.execute("INSERT INTO meta(k, v) VALUES ('terminal_revoked', '1')")
    # An issuance of the old format (no requester, no delivery recorded).
    conn.execute(
        "INSERT INTO issuances(issuance_no, day, issued_at, operator_id, kind, household_id,"
        " person_ids, copies, fee_yen, requester_kind, id_document, content_digest)"
        " VALUES ('0001-20260101-0001', '2026-01-01', '2026-01-01T09:00:00+09:00', 'op',"
        " 'household', 'H1', '[\"P1\"]', 1, 300, 'self', NULL, 'ab')"
    )
    conn.close()

    # open_cache migrates the rest of the way (v7: the address keys leave the name keys for
    # the persons rows; v8: a terminal's revocation is kept per terminal number; v9: the
    # issuance's requester, purpose, article and delivery).
    with open_cache(path, dek) as c:
        assert c.schema_version() == migrations.LATEST_VERSION
        old = c.issuance("0001-20260101-0001")
        assert old.delivery == "counter" and not old.mailed and old.requester is None
        assert not c.terminal_revoked("0001")
        assert c.connection.execute(
            "SELECT count(*) FROM meta WHERE k LIKE 'terminal_revoked%'"
        ).fetchone() == (0,)
        db = c.connection
        key_columns = [r[1] for r in db.execute("PRAGMA table_info(search_keys)")]
        assert "address_key" not in key_columns and "katagaki_key" not in key_columns
        assert db.execute(
            "SELECT address_key, katagaki_key FROM persons WHERE person_id = 'P1'"
        ).fetchone() == ("北見市北1条", "コーポ101")
        indexes = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='index'")}
        assert {"persons_address", "persons_katagaki", "persons_support"} <= indexes
        assert (
            not {
                "search_keys_address",
                "search_keys_katagaki",
                "households_address_key",
                "households_katagaki_key",
            }
            & indexes
        )
        kept = json.loads(db.execute("SELECT v FROM meta WHERE k = 'bulk_indexes'").fetchone()[0])
        assert len(kept) == len(bulk_indexes) - 4
        assert not any(
            "search_keys_address" in sql or "search_keys_katagaki" in sql for sql in kept
        )
        by_address = c.search(SearchQuery(name="やまだ", address="北見市北1"))
        by_katagaki = c.search(SearchQuery(name="ヤマダ", address="コーポ"))
        assert [h.person_id for h in by_address.hits] == ["P1"]
        assert [h.person_id for h in by_katagaki.hits] == ["P1"]
        assert c.search(SearchQuery(name="やまだ", address="北見市南")).hits == []
        assert c.cursor() == 7
        assert c.outbox_total() == 1


def test_failed_migration_step_rolls_back(tmp_path: Path, dek: bytes, monkeypatch) -> None:
    path = tmp_path / "m.db"
    conn = sqlcipher3.connect(str(path), isolation_level=None)
    conn.execute(f"PRAGMA key = \"x'{dek.hex()}'\"")
    migrations.migrate(conn, upto=1)
    broken = [*migrations.MIGRATIONS[1][:2], "CREATE TABLE outbox (x)"]  # fails midway
    monkeypatch.setattr(
        migrations, "MIGRATIONS", (migrations.MIGRATIONS[0], broken, migrations.MIGRATIONS[2])
    )
    with pytest.raises(sqlcipher3.DatabaseError):
        migrations.migrate(conn, upto=2)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "outbox" not in tables
    conn.close()


def test_newer_schema_refused(tmp_path: Path, dek: bytes) -> None:
    path = tmp_path / "cache.db"
    with create_cache(path, dek) as c:
        c.connection.execute("PRAGMA user_version = 99")
    with pytest.raises(StoreError):
        open_cache(path, dek)


def test_transaction_nesting_and_rollback(cache: Cache) -> None:
    with pytest.raises(RuntimeError), cache.transaction():
        cache.next_issuance_no("0001", __import__("datetime").date(2026, 1, 5))
        raise RuntimeError
    from datetime import date

    assert cache.next_issuance_no("0001", date(2026, 1, 5)) == "0001-20260105-0001"


def test_v11_keeps_the_outbox_and_adds_approvals(tmp_path: Path, dek: bytes) -> None:
    """Issue 21: the outbox is rebuilt (a new state, attempts) with its rows and sequence."""
    path = tmp_path / "m.db"
    conn = sqlcipher3.connect(str(path), isolation_level=None)
    conn.execute(f"PRAGMA key = \"x'{dek.hex()}'\"")
    migrations.migrate(conn, upto=10)
    for n, state in ((1, "pending"), (2, "rejected"), (3, "pending")):
        conn.execute(
            "INSERT INTO outbox(event_id, type, body, state, reason, added_at, updated_at)"
            " VALUES (?, 'card_event', '{}', ?, ?, 'a', 'u')",
            (f"e{n}", state, "理由" if state == "rejected" else None),
        )
    conn.execute("DELETE FROM outbox WHERE event_id = 'e3'")  # the sequence is past its rows
    conn.close()
    with open_cache(path, dek) as c:
        db = c.connection
        assert db.execute(
            "SELECT seq, event_id, state, reason, attempts FROM outbox"
        ).fetchall() == [
            (1, "e1", "pending", None, 0),
            (2, "e2", "rejected", "理由", 0),
        ]
        db.execute(
            "INSERT INTO outbox(event_id, type, body, added_at, updated_at)"
            " VALUES ('e4', 'card_event', '{}', 'a', 'u')"
        )
        assert db.execute("SELECT seq FROM outbox WHERE event_id = 'e4'").fetchone() == (4,)
        db.execute(
            "UPDATE outbox SET state = 'quarantined' WHERE event_id = 'e1'"
        )  # the new state is allowed
        cols = [r[1] for r in db.execute("PRAGMA table_info(approvals)")]
        assert cols[:2] == ["approval_id", "approver_id"] and "consumed_at" in cols
