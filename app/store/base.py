"""The connection, the lock and the transaction of a Cache (shared by the mixins)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class CacheBase:
    """One connection, serialised by one re-entrant lock.

    Thread-safety: a Cache may be shared by the GUI's background operations: every public
    method takes `self._lock` around its use of the single connection (opened with
    check_same_thread=False). `transaction()` holds the lock for the whole block. Do not call a
    Cache from the GUI thread for anything slow (search, apply_changes): use a background
    operation, as everywhere else.
    """

    def __init__(self, conn: Any, path: str) -> None:
        self._conn = conn
        self._lock = threading.RLock()
        self._depth = 0
        self.path = path

    @property
    def connection(self) -> Any:
        """The raw connection, for app/store/audit.py: use it inside `transaction()` only."""
        return self._conn

    @contextmanager
    def transaction(self, *, refetchable: bool = False) -> Iterator[Any]:
        """One write transaction (BEGIN IMMEDIATE … COMMIT); re-entrant.

        A nested `transaction()` joins the outer one, so a service can put an issuance, its
        outbox event and its audit entry in one commit:

            with cache.transaction():
                issuance = cache.record_issuance(...)
                chain.append(...)            # app/store/audit.py, same connection

        Any exception that leaves the outermost block rolls everything back.

        `refetchable=True` (pages of the server's feed and their cursor, nothing else) commits
        without waiting for the disk (`synchronous = NORMAL`): in WAL mode a power cut may
        lose the last such commits, never corrupt the file, and the next pull fetches them
        again. The next ordinary commit (FULL) syncs the log, and with it every commit
        before it. Only in WAL mode: with a rollback journal (bulk load) NORMAL could corrupt.
        """
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield self._conn
                finally:
                    self._depth -= 1
                return
            relaxed = refetchable and self._wal()
            if relaxed:
                self._conn.execute("PRAGMA synchronous = NORMAL")
            self._conn.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            else:
                self._conn.execute("COMMIT")
            finally:
                self._depth = 0
                if relaxed:
                    self._conn.execute("PRAGMA synchronous = FULL")
                self._after_transaction()

    @property
    def lock(self) -> threading.RLock:
        """The one lock of this store's connection. Whatever else writes through it (the audit
        chain, app/store/audit.py) takes this lock, not one of its own: two locks taken in
        opposite orders (a sync queueing audit batches inside a transaction, a logout appending
        its entry) deadlocked the terminal."""
        return self._lock

    def _after_transaction(self) -> None:
        """After the outermost COMMIT or ROLLBACK (the outbox's status file, app/store/outbox.py).
        Must not raise: the transaction's outcome is decided by then."""

    def optimize(self) -> None:
        """Refresh the planner's statistics (after an initial sync; cheap otherwise)."""
        with self._lock:
            # Statistics from a sample of each index (analysis_limit): exact counts are not
            # needed by the planner, and a full ANALYZE reads the whole file.
            self._conn.execute("PRAGMA analysis_limit = 1000")
            self._conn.execute("PRAGMA optimize=0x10002")

    def _wal(self) -> bool:
        return bool(self._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal")

    def _query(self, sql: str, params: Any = ()) -> list[Any]:
        with self._lock:
            return list(self._conn.execute(sql, params).fetchall())

    def _query_one(self, sql: str, params: Any = ()) -> Any:
        with self._lock:
            return self._conn.execute(sql, params).fetchone()

    def _meta_get(self, key: str) -> str | None:
        row = self._query_one("SELECT v FROM meta WHERE k = ?", (key,))
        return None if row is None else row[0]

    def _meta_set(self, key: str, value: str, *, refetchable: bool = False) -> None:
        with self.transaction(refetchable=refetchable) as conn:
            conn.execute(
                "INSERT INTO meta(k, v) VALUES (?, ?) ON CONFLICT(k) DO UPDATE SET v = excluded.v",
                (key, value),
            )

    # Local state of this terminal that the feed does not carry (e.g. the card desk's last
    # recorded card state per person). Keys are namespaced by their owner ("card_state:P…").
    def local_state(self, key: str) -> str | None:
        return self._meta_get(f"local:{key}")

    def set_local_state(self, key: str, value: str) -> None:
        self._meta_set(f"local:{key}", value)
