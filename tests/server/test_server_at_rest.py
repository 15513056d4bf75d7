"""Issue 21 item 3: the server's data at rest — private modes, and no readable 個人番号 in a
plain dump of the database (SQLite file, pg_dump) while terminals still receive it."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from server.embedded import EmbeddedServer
from tests.support.postgres import PostgresCluster
from tests.support.server import (
    FAST_PASSWORDS,
    ServerEnv,
    make_households,
    start_server_env,
    write_jsonl,
)

ROOT = Path(__file__).resolve().parents[2]


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _cli(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "MADOGUCHI_SERVER_PASSWORD_MEMORY_KIB": "1024",
        "MADOGUCHI_SERVER_PASSWORD_TIME_COST": "1",
    }
    return subprocess.run(
        [sys.executable, "-m", "server.cli", "--data-dir", str(data), *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        preexec_fn=lambda: os.umask(0o022),  # an administrator's usual umask
    )


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX modes")
def test_init_import_and_snapshot_leave_only_private_files(tmp_path: Path) -> None:
    data = tmp_path / "server-data"
    done = _cli(data, "init")
    assert done.returncode == 0, done.stderr
    jsonl = write_jsonl(tmp_path / "in.jsonl", make_households(5))
    for command in (["import", str(jsonl)], ["snapshot"]):
        done = _cli(data, *command)
        assert done.returncode == 0, done.stderr
    assert _mode(data) == 0o700
    files = [p for p in data.rglob("*") if p.is_file()]
    dirs = [p for p in data.rglob("*") if p.is_dir()]
    names = {p.relative_to(data).as_posix() for p in files}
    assert {"server.db", "master.key", "server.toml", "ca/ca.key", "logs/server.log"} <= names
    assert any(n.startswith("snapshots/base-") for n in names)
    assert {p.relative_to(data).as_posix(): oct(_mode(p)) for p in files if _mode(p) != 0o600} == {}
    assert {p.relative_to(data).as_posix(): oct(_mode(p)) for p in dirs if _mode(p) != 0o700} == {}
    assert not any(n.startswith("import-") for n in names)  # the staging file is gone


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX modes")
def test_an_existing_data_dir_is_made_private_and_the_wal_follows_the_database(
    tmp_path: Path,
) -> None:
    data = tmp_path / "old"
    data.mkdir(mode=0o755)
    os.chmod(data, 0o755)
    server = EmbeddedServer(data, **FAST_PASSWORDS)
    try:
        server.start()
        server.make_token()  # a write: the WAL exists while the server holds the database
        assert _mode(data) == 0o700
        for name in ("server.db", "server.db-wal", "server.db-shm"):
            assert (data / name).exists() and _mode(data / name) == 0o600, name
    finally:
        server.close()


def _numbers(households: list[dict]) -> list[str]:
    return [m["my_number"] for h in households for m in h["members"] if m["my_number"]]


def test_sqlite_file_holds_no_readable_my_number(sync_server: ServerEnv) -> None:
    env = sync_server
    numbers = _numbers(make_households(20))
    raw = b"".join(
        p.read_bytes() for p in env.server.config.data_dir.glob("server.db*") if p.is_file()
    )
    assert raw and not [n for n in numbers if n.encode() in raw]
    # Terminals receive the numbers as before, from the feed and from anti-entropy.
    fed = [
        json.loads(item.data_json())
        for item in env.client.changes(0, 5000).items
        if item.kind == "household"
    ]
    repaired = [h for k in range(256) for h in env.client.records(k).households]
    assert set(numbers) <= set(_numbers(fed)) and set(numbers) <= set(_numbers(repaired))


def test_pg_dump_holds_no_readable_my_number(
    postgres_cluster: PostgresCluster, tmp_path: Path
) -> None:
    url = postgres_cluster.create_database()
    households = make_households(20)
    env = start_server_env(tmp_path, database_url=url, households=households)
    try:
        dbname = url.rsplit("/", 1)[1]
        done = postgres_cluster._run(
            "pg_dump",
            "-h",
            "127.0.0.1",
            "-p",
            str(postgres_cluster.port),
            "-U",
            postgres_cluster.user,
            dbname,
        )
        assert done.returncode == 0, done.stderr
        dump = done.stdout
        assert "CREATE TABLE" in dump and "H00000003" in dump  # a real dump of the register
        assert not [n for n in _numbers(households) if n in dump]
        served = env.client.records(0).households + [
            h for k in range(1, 256) for h in env.client.records(k).households
        ]
        assert {m["my_number"] for h in served for m in h["members"]} >= set(_numbers(households))
    finally:
        env.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_filed_move_in_leaves_no_readable_my_number(
    request: pytest.FixtureRequest, tmp_path: Path, backend: str
) -> None:
    """A 転入 filed with the movers' 個人番号 (from the 転出証明書) kept them in plain text in the
    stored event (events.payload) and the stored 届出 (notifications.draft): a copy of
    server.db or a pg_dump showed them. The reviewer and the register still get them."""
    from server import notifications
    from tests.domain.notifications import data as D
    from tests.server.test_server_notifications import REVIEWER, _start, fresh, push

    cluster: PostgresCluster | None = None
    url = None
    if backend == "postgres":
        cluster = request.getfixturevalue("postgres_cluster")
        assert cluster is not None
        url = cluster.create_database()
    env = _start(tmp_path, url)
    try:
        draft = fresh(D.special_move_in())
        numbers = [m.my_number for m in draft.movers if m.my_number]
        assert numbers and push(env, draft).status == "accepted"
        shown = notifications.show(env.server.db, draft.notification_id)
        assert [m.my_number for m in shown.draft.movers if m.my_number] == numbers
        notifications.confirm(env.server.db, draft.notification_id, decided_by=REVIEWER)
        fed = [
            json.loads(item.data_json())
            for item in env.client.changes(0, 5000).items
            if item.kind == "household"
        ]
        assert set(numbers) <= set(_numbers(fed))
        if cluster is None:
            env.server.stop()
            dump = b"".join(
                p.read_bytes() for p in env.server.config.data_dir.glob("server.db*") if p.is_file()
            ).decode("utf-8", "replace")
        else:
            done = cluster._run(
                "pg_dump",
                "-h",
                "127.0.0.1",
                "-p",
                str(cluster.port),
                "-U",
                cluster.user,
                url.rsplit("/", 1)[1],
            )
            assert done.returncode == 0, done.stderr
            dump = done.stdout
        assert draft.notification_id in dump  # the 届出 is in the dump
        assert not [n for n in numbers if n in dump]
    finally:
        env.close()
