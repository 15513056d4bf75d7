"""Engines, transactions and migrations for PostgreSQL and SQLite.

Engines hide bound parameters from error messages (no personal data in logs).
SQLite gets two engines: writes begin with BEGIN IMMEDIATE (a deferred transaction that reads
then writes can fail with SQLITE_BUSY instead of waiting), reads stay deferred so that a long
feed read never blocks writers (WAL). PostgreSQL uses one engine for both.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, make_url, select

from server.tables import feed_counter

try:
    import fcntl
except ImportError:  # Windows: the embedded server is one process
    fcntl = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from server.register_crypto import RegisterCipher

T = TypeVar("T")
# Where a connection of Database.read() / write() carries the register's cipher, for code that
# gets only the connection (server.register_crypto.cipher_of).
CIPHER_KEY = "madoguchi_register_cipher"
log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def _sqlite_engine(url: str, *, immediate: bool) -> Engine:
    # A pool as large as the worker threads that may read at once: connections past the pool
    # were opened and closed per request (each open runs the PRAGMAs below).
    engine = create_engine(
        url,
        connect_args={"timeout": 30, "check_same_thread": False},
        hide_parameters=True,
        pool_size=20,
        max_overflow=20,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # We issue BEGIN ourselves (pysqlite's implicit transactions are not what we want).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def _postgres_session(dbapi_conn: Any, _record: Any) -> None:
    """Settings of each new PostgreSQL connection.

    plan_cache_mode=force_custom_plan: psycopg prepares a statement on its fifth execution,
    and PostgreSQL then keeps one generic plan per connection, made for the tables' size at
    that moment. A look-up by event id or issuance number, first planned while `events` and
    `certificates` were nearly empty, stayed a sequential scan while they grew (no ANALYZE in
    between): every push read both tables whole (benchmarks/bench_load.py: 0.4-0.8 ms of the
    database's CPU per push after a thousand pushes, and growing). A custom plan per execution
    costs a few microseconds of planning for these statements and always sees the index.
    """
    cur = dbapi_conn.cursor()
    cur.execute("SET plan_cache_mode = force_custom_plan")
    cur.close()
    dbapi_conn.commit()


class _WriteLock:
    """SQLite's writers one at a time, queued where waiting is cheap: an RLock in the process,
    and across processes (`serve --workers N`, an admin command) an flock on a file beside
    the database, a blocking wait that ends as soon as the holder is done. In SQLite's busy
    handler a writer sleeps in steps of up to 100 ms and may lose every race for the lock:
    with two workers, pushes waited seconds (benchmarks/bench_load.py)."""

    def __init__(self, database: str | None) -> None:
        self._local = threading.RLock()
        self._fd: int | None = None
        if fcntl is not None and database and database != ":memory:":
            self._fd = os.open(f"{database}.writelock", os.O_RDWR | os.O_CREAT, 0o600)

    @contextmanager
    def held(self) -> Iterator[None]:
        with self._local:
            if self._fd is None:
                yield
                return
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class Database:
    def __init__(self, url: str) -> None:
        self.url = url
        # (latest_seq, bucket digests) of the last GET /v1/digest (server.feed).
        self.digest_cache: tuple[int, list[str]] | None = None
        # Opens the sealed 個人番号 of the register (set by admin.init_server; None in a bare
        # Database, which then serves what is stored).
        self.register_cipher: RegisterCipher | None = None
        self._group: GroupCommit | None = None
        self._group_lock = threading.Lock()
        self.is_sqlite = url.startswith("sqlite")
        self._write_lock: _WriteLock | None = None
        if self.is_sqlite:
            self.writer = _sqlite_engine(url, immediate=True)
            self.reader = _sqlite_engine(url, immediate=False)
            self._each_reader = self.reader
            self._write_lock = _WriteLock(make_url(url).database)
        else:
            # hide_parameters: an error that reaches a log names the statement, never the
            # values (operator ids, reasons, records).
            self.writer = create_engine(
                url, pool_pre_ping=True, pool_size=8, max_overflow=8, hide_parameters=True
            )
            event.listen(self.writer, "connect", _postgres_session)
            # One snapshot per read: a feed page's latest_seq and its rows agree even while
            # writers compact older items away (same pool as the writer).
            self.reader = self.writer.execution_options(isolation_level="REPEATABLE READ")
            # Reads of one statement each (its own snapshot): no BEGIN and COMMIT round trips.
            self._each_reader = self.writer.execution_options(isolation_level="AUTOCOMMIT")

    @contextmanager
    def write(self) -> Iterator[Connection]:
        if self._write_lock is None:
            with self.writer.begin() as conn:
                conn.info[CIPHER_KEY] = self.register_cipher
                yield conn
            return
        with self._write_lock.held(), self.writer.begin() as conn:
            conn.info[CIPHER_KEY] = self.register_cipher
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.reader.connect() as conn, conn.begin():
            conn.info[CIPHER_KEY] = self.register_cipher
            yield conn

    @contextmanager
    def read_each(self) -> Iterator[Connection]:
        """A connection for reads whose every statement stands alone (a statement sees one
        snapshot): on PostgreSQL outside a transaction, which saves the round trips of BEGIN
        and COMMIT (GET /v1/changes: the caller, then the page in one statement); on SQLite
        a read transaction as read() (no round trips there)."""
        if self.is_sqlite:
            with self.read() as conn:
                yield conn
            return
        with self._each_reader.connect() as conn:
            conn.info[CIPHER_KEY] = self.register_cipher
            yield conn

    def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision (idempotent)."""
        from alembic import command
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
        # On SQLite the writer engine begins IMMEDIATE: two processes starting at once migrate
        # one after the other.
        with self.writer.connect() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
            conn.commit()

    def group_commit(self) -> GroupCommit:
        """The process's group-commit writer for this database (started on first use)."""
        with self._group_lock:
            if self._group is None:
                self._group = GroupCommit(self)
            return self._group

    def dispose(self) -> None:
        if self._group is not None:
            self._group.stop()
            self._group = None
        if self._write_lock is not None:
            self._write_lock.close()
        self.writer.dispose()
        if self.is_sqlite:
            self.reader.dispose()


def next_seqs(conn: Connection, count: int = 1) -> int:
    """Reserve `count` seqs in the caller's transaction; returns the first one."""
    conn.execute(
        feed_counter.update().where(feed_counter.c.id == 1).values(seq=feed_counter.c.seq + count)
    )
    last = conn.execute(select(feed_counter.c.seq).where(feed_counter.c.id == 1)).scalar_one()
    return int(last) - count + 1


_LATEST = select(feed_counter.c.seq).where(feed_counter.c.id == 1)


def latest_seq(conn: Connection) -> int:
    return int(conn.execute(_LATEST).scalar_one())


class GroupCommit:
    """For SQLite: one writer thread per database and process. Callers hand it work (a function
    of a write connection) and wait for the result; it runs every piece that queued up
    meanwhile in ONE write transaction, each in a savepoint of its own, and hands out the
    results only after the commit. Many terminals' event batches then cost one commit (one
    fsync) instead of one each, and request threads never wait for SQLite's lock in its busy
    loop (a queue of writers there starved some past the 30 s timeout: issue 21 item 12)."""

    MAX_JOBS = 64

    def __init__(self, db: Database) -> None:
        self.db = db
        self._queue: queue.SimpleQueue[tuple[Callable[[Connection], Any], Future[Any]] | None]
        self._queue = queue.SimpleQueue()
        self._thread = threading.Thread(
            target=self._loop, name="madoguchi-group-commit", daemon=True
        )
        self._thread.start()

    def submit(self, job: Callable[[Connection], T]) -> Future[T]:
        future: Future[T] = Future()
        self._queue.put((job, future))
        return future

    def run(self, job: Callable[[Connection], T]) -> T:
        return self.submit(job).result()

    def stop(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=30)

    def _loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            jobs = [first]
            stop = False
            while len(jobs) < self.MAX_JOBS:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                jobs.append(more)
            self._commit(jobs)
            if stop:
                return

    def _commit(self, jobs: list[tuple[Callable[[Connection], Any], Future[Any]]]) -> None:
        outcomes: list[tuple[Future[Any], Any, BaseException | None]] = []
        try:
            with self.db.write() as conn:
                for job, future in jobs:
                    savepoint = conn.begin_nested()
                    try:
                        value = job(conn)
                    except Exception as exc:  # this piece only; handed to its caller
                        savepoint.rollback()
                        outcomes.append((future, None, exc))
                    else:
                        savepoint.commit()
                        outcomes.append((future, value, None))
        except BaseException as exc:  # nothing was committed: every caller hears it
            log.warning("group commit of %d pieces failed: %s", len(jobs), type(exc).__name__)
            for _job, future in jobs:
                future.set_exception(exc)
            return
        for future, value, error in outcomes:
            if error is None:
                future.set_result(value)
            else:
                future.set_exception(error)
