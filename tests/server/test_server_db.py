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
from sqlalchemy import insert, select

from server import admin
from server.config import load_config
from server.db import MIGRATIONS_DIR, Database
from server.feed import stream_page
from server.importer import import_lines
from server.tables import metadata, operators
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


def test_upgrade_from_0001_keeps_the_data(db_url: str) -> None:
    db = Database(db_url)
    try:
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
        with db.writer.connect() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0001")
            conn.commit()
        import_lines(db, [(1, json.dumps(make_household(1), ensure_ascii=False))])
        db.migrate()
        with db.read() as conn:
            assert conn.execute(select(operators.c.person_id)).all() == []
        with db.write() as conn:
            conn.execute(
                insert(operators).values(
                    operator_id="o",
                    display_name="x",
                    password_hash="h",
                    roles="clerk",
                    branch="b",
                    failed_attempts=0,
                    locked=False,
                    active=True,
                    version=1,
                    created_at=admin.now(),
                    person_id="P00000010",
                )
            )
        page = json.loads(b"".join(stream_page(db, 0, 10)))
        assert [i["key"] for i in page["items"]] == ["H00000001"]
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
