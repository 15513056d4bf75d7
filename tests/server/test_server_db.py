"""Schema and seq guarantees on both databases: migrations match the tables, seqs never skip."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import insert, select, update

from server import admin
from server.config import load_config
from server.db import MIGRATIONS_DIR, Database
from server.errors import AdminError
from server.feed import stream_page
from server.importer import import_lines
from server.tables import feed_counter, metadata, operators
from tests.support.postgres import PostgresCluster
from tests.support.server import make_household


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'server.db'}"
    cluster: PostgresCluster = request.getfixturevalue("postgres_cluster")
    return cluster.create_database()


def test_migrations_produce_exactly_the_tables_of_tables_py(db_url: str) -> None:
    db = Database(db_url)
    try:
        db.migrate()
        db.migrate()  # idempotent
        with db.writer.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), metadata)
        assert diff == []
    finally:
        db.dispose()


def test_upgrade_from_0001_keeps_the_data_and_seals_the_numbers(db_url: str) -> None:
    """A register written by a server before migration 0005 (plaintext 個人番号): after the
    upgrade and the first start, the numbers are sealed, indexed, and served as before."""
    from server import register_crypto
    from server.feed import dumps
    from server.tables import changes, households, persons

    db = Database(db_url)
    try:
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
        with db.writer.connect() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0001")
            conn.commit()
        household = make_household(1)
        number = household["members"][0]["my_number"]
        with db.write() as conn:  # as the importer of revision 0001 wrote it
            text = dumps(household)
            conn.execute(
                insert(households).values(
                    household_id="H00000001", version=1, bucket=0, seq=1, data=text
                )
            )
            conn.execute(
                insert(changes).values(
                    seq=1,
                    kind="household",
                    key="H00000001",
                    version=1,
                    deleted=False,
                    data=text,
                    at=admin.now(),
                )
            )
            for m in household["members"]:
                conn.execute(
                    insert(persons).values(
                        person_id=m["person_id"],
                        household_id="H00000001",
                        version=1,
                        status="resident",
                    )
                )
            conn.execute(update(feed_counter).values(seq=1))
        db.migrate()
        key = b"k" * 32
        with db.write() as conn:
            db.register_cipher = register_crypto.attach(conn, key)
        with db.read() as conn:
            assert conn.execute(select(operators.c.person_id)).all() == []
            stored = [r[0] for r in conn.execute(select(households.c.data))]
            stored += [r[0] for r in conn.execute(select(changes.c.data))]
            macs = [r[0] for r in conn.execute(select(persons.c.my_number_mac))]
        assert stored and all(number not in text and "mn1." in text for text in stored)
        assert register_crypto.RegisterCipher(key).index(number) in macs
        page = json.loads(b"".join(stream_page(db, 0, 10)))
        assert [i["key"] for i in page["items"]] == ["H00000001"]
        assert page["items"][0]["data"]["members"][0]["my_number"] == number
        # A second start does not seal again; another master key does not start at all.
        with db.write() as conn:
            register_crypto.attach(conn, key)
        with pytest.raises(AdminError, match="マスター鍵"), db.write() as conn:
            register_crypto.attach(conn, b"x" * 32)
    finally:
        db.dispose()


def test_parallel_writers_get_distinct_increasing_seqs_and_readers_skip_none(
    db_url: str, tmp_path: Path
) -> None:
    cfg = load_config(
        data_dir=tmp_path / "d",
        env={},
        database_url=db_url,
        password_memory_kib=1024,
        password_time_cost=1,
    )
    db = admin.init_server(cfg)
    seen: dict[str, int] = {}
    done = threading.Event()
    errors: list[BaseException] = []

    def writer(start: int) -> None:
        try:
            for h in range(start, start + 15):
                import_lines(db, [(1, json.dumps(make_household(h), ensure_ascii=False))])
        except BaseException as exc:  # reported below
            errors.append(exc)

    def reader() -> None:
        after = 0
        try:
            while True:
                finished = done.is_set()
                page = json.loads(b"".join(stream_page(db, after, 7)))
                for item in page["items"]:
                    assert item["seq"] > after
                    seen[item["key"]] = item["seq"]
                    after = item["seq"]
                after = page["next_after"]
                if finished and not page["has_more"]:
                    return
        except BaseException as exc:
            errors.append(exc)

    try:
        writers = [threading.Thread(target=writer, args=(k * 100,)) for k in range(3)]
        r = threading.Thread(target=reader)
        r.start()
        for w in writers:
            w.start()
        for w in writers:
            w.join()
        done.set()
        r.join(60)
        assert not errors, errors
        households = {k for k in seen if k.startswith("H")}
        assert len(households) == 45  # a reader polling during the writes missed nothing
        assert len(set(seen.values())) == len(seen)
    finally:
        db.dispose()


def test_event_lookups_keep_the_index_as_the_tables_grow(postgres_cluster: PostgresCluster) -> None:
    """psycopg prepares a statement on its fifth execution and PostgreSQL would keep the plan
    made for the tables' size then: a look-up by event id first run on an empty `events`
    stayed a sequential scan while the table grew (every push read it whole). Each execution
    is planned for the table as it is now."""
    from server.events import _LOOKUP

    db = Database(postgres_cluster.create_database())
    try:
        db.migrate()
        ids = ["00000000-0000-4000-8000-00000000000" + str(i) for i in range(5)]
        with db.write() as conn:  # one connection: psycopg's prepared statements are per connection
            for _ in range(20):
                conn.execute(_LOOKUP, {"ids": ids, "nos": ["0001-1"], "persons": ["P1"]}).all()
            conn.exec_driver_sql(
                "INSERT INTO events (event_id, type, terminal_no, operator_id, occurred_at,"
                " received_at, status, payload) SELECT gen_random_uuid()::text,"
                " 'certificate_issued', '0001', 'clerk01', now(), now(), 'accepted',"
                " repeat('x', 300) FROM generate_series(1, 20000)"
            )
            name = conn.exec_driver_sql(
                "SELECT name FROM pg_prepared_statements WHERE statement LIKE '%%FROM events%%'"
            ).scalar_one()
            arguments = ", ".join(f"'{i}'" for i in [*ids, "0001-1", "P1"])
            plan = "\n".join(
                conn.exec_driver_sql(f"EXPLAIN EXECUTE {name}({arguments})").scalars().all()
            )
        assert "Seq Scan" not in plan, plan
        assert "events_event_id_key" in plan, plan
    finally:
        db.dispose()
