"""Opening the encrypted cache (SQLCipher 4, DESIGN.md §4) and the Cache object.

    cache = create_cache(path, dek)      # new file, schema at the latest version
    cache = open_cache(path, dek)        # existing file, migrated forward; WrongKey if not ours

The DEK (32 random bytes, app.store.keys.generate_dek) is used raw: `PRAGMA key = "x'…'"`, no
passphrase KDF on each open. Right after keying, `cipher_version` proves SQLCipher is there and
a read of sqlite_master proves the key; otherwise the connection is closed and WrongKey raised
(fail closed). Then WAL, synchronous=FULL (a commit is on disk when it returns; pages of the
feed only, which the server sends again, commit with NORMAL: CacheBase.transaction), temp_store
in memory (no plaintext temporary files), and the numbered migrations of schema.py.

Thread-safety: see CacheBase — one connection, every call under one lock; safe to call from
background threads, never block the GUI thread with it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlcipher3

from app.fileio import fsync_dir, fsync_file, replace_file

from .approvals import ApprovalsMixin
from .base import CacheBase
from .errors import CacheCorrupt, OutboxNotEmpty, StoreError, WrongKey
from .issuances import IssuancesMixin
from .migrations import LATEST_VERSION, migrate
from .notifications import NotificationsMixin
from .outbox_status import status_path
from .protection import ProtectionMixin
from .residents import ResidentsMixin
from .search import SearchMixin
from .snapshot import check_snapshot, copy_local_rows

# SQLite's page cache per connection, in KiB. Pages in it are already decrypted; a search at a
# million persons mostly touches index pages, and the more of them stay here, the closer the
# encrypted cache gets to plain SQLite (benchmarks/bench_search.py --cache-mib measures it).
PAGE_CACHE_KIB = 64 * 1024

# WAL checkpoints run outside the commits: `Cache.checkpoint()`, on a connection of its own,
# after each sync round. Left to SQLite (its default is 1,000 pages), the checkpoint runs inside
# the commit that crosses the threshold, so a sync page that changes a few thousand index pages
# also copies them back into the file while holding the cache's lock, and the counter's search
# waits for both. This threshold only bounds the log when no sync runs for a long time.
WAL_AUTOCHECKPOINT_PAGES = 64 * 1024  # 256 MiB of 4 KiB pages
# After a checkpoint has emptied it, the log file is cut back to this size.
WAL_SIZE_LIMIT = 64 * 1024 * 1024

CACHE_FILE = "cache.db"
SLOTS_FILE = "keyslots.json"


def cache_path(data_dir: str | os.PathLike[str]) -> Path:
    return Path(data_dir) / CACHE_FILE


def slots_path(data_dir: str | os.PathLike[str]) -> Path:
    return Path(data_dir) / SLOTS_FILE


class Cache(
    ResidentsMixin,
    SearchMixin,
    IssuancesMixin,
    ApprovalsMixin,
    ProtectionMixin,
    NotificationsMixin,
    CacheBase,
):
    """The local cache. Methods (see the mixins and docs/store.md):

    feed: apply_changes, cursor, mark_pull_complete, last_complete_pull, policy, operator,
    operators, terminal_revoked; lookups: household, household_data, person,
    household_of_person, find_by_juminhyo_code, find_by_my_number, counts; search;
    anti-entropy: bucket_digest, households_in_bucket, replace_bucket; outbox_*, notices,
    acknowledge_notice; next_issuance_no, record_issuance, issuance, issuances_on,
    void_issuance; grant_approval, granted_approval, consume_approval; record_notification,
    notifications_filed, notification_filed, unseen_notification_decisions,
    mark_notifications_seen; transaction, connection, close.
    """

    def __init__(
        self,
        conn: Any,
        path: str,
        reconnect: Callable[[], Any] | None = None,
        opener: Callable[[Path], tuple[Any, Callable[[], Any]]] | None = None,
    ) -> None:
        # reconnect: opens one more keyed connection (checkpoint); opener: a configured keyed
        # connection to another file (a snapshot) and its reconnect. Both hold the key, as the
        # main connection does inside SQLCipher, for as long as the cache is open.
        super().__init__(conn, path)
        self._reconnect = reconnect
        self._opener = opener
        self._load_state()
        self.write_outbox_status()  # a cache made by an older version gets its file here

    def _load_state(self) -> None:
        tag_key = self._meta_get("my_number_tag_key")
        if tag_key is None:
            raise CacheCorrupt("端末のデータベースが壊れています(索引鍵がありません)。")
        self._tag_key = bytes.fromhex(tag_key)
        # An initial sync in bulk mode (ResidentsMixin.begin_bulk_load) survives a restart.
        self._bulk = self._meta_get("bulk_load") == "1"
        if self._bulk:
            self._bulk_journal()

    def schema_version(self) -> int:
        return int(self._query_one("PRAGMA user_version")[0])

    def adopt_snapshot(self, snapshot: str | os.PathLike[str], seq: int) -> None:
        """Take a snapshot of the register (keyed with this cache's DEK, at feed position `seq`)
        as this cache: the initial sync's fast path (docs/sync.md "Snapshot").

        Only while nothing of the feed is applied (cursor 0). What this terminal made itself
        (outbox, audit chain, issuances, notices, local state) is copied into the snapshot in
        one transaction; then the snapshot replaces the cache file and this object reopens it.
        A crash before the replace leaves the cache as it was (the snapshot is downloaded again:
        its digest no longer matches); after it, the new file holds everything.
        WrongKey / CacheCorrupt when the file is not a usable snapshot: nothing changes then.
        """
        if self._opener is None:
            raise StoreError("この端末のデータベースは登録データの写しを受け取れません。")
        source = Path(snapshot)
        with self._lock:
            if self._depth or self.cursor() != 0:
                raise StoreError("登録データの写しは初回同期の前にしか使えません。")
            snap, _ = self._opener(source)
            try:
                if snap.execute("PRAGMA user_version").fetchone()[0] > LATEST_VERSION:
                    raise CacheCorrupt("受信した登録データの写しがこのプログラムより新しい版です。")
                migrate(snap)
                check_snapshot(snap, seq)
                copy_local_rows(self._conn, snap)
                # One file, no log beside it, on disk before it replaces the cache.
                snap.execute("PRAGMA journal_mode = DELETE")
            finally:
                snap.close()
            fsync_file(source)
            target = Path(self.path)
            # The last connection to the cache: closing it checkpoints and removes the log. A
            # log left beside the file would be replayed into the snapshot: then stop here.
            self._conn.close()
            try:
                if Path(str(target) + "-wal").exists():
                    raise StoreError("端末のデータベースの書き込みを完了できませんでした。")
                with contextlib.suppress(FileNotFoundError):
                    os.remove(str(target) + "-shm")
                replace_file(source, target)
                fsync_dir(target.parent)
            finally:
                # The snapshot if it replaced the cache, the cache as it was otherwise.
                self._conn, self._reconnect = self._opener(target)
                self._load_state()

    def close(self) -> None:
        with self._lock:
            with contextlib.suppress(Exception):
                self._conn.execute("PRAGMA optimize")
            self._conn.close()

    def checkpoint(self) -> tuple[int, int] | None:
        """Copy what the write-ahead log holds back into the file: (frames in the log, frames
        copied), or None when there is nothing to do (bulk load: no log).

        PASSIVE, on a second connection and without the cache's lock: searches and writes go on
        meanwhile (a reader's snapshot only leaves its frames for the next time). The engine calls
        it after each sync round, in its background operation.
        """
        if self._reconnect is None or self._bulk:
            return None
        conn = self._reconnect()
        try:
            _busy, log_frames, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        finally:
            conn.close()
        return max(log_frames, 0), max(copied, 0)

    def __enter__(self) -> Cache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _check_dek(dek: bytes) -> str:
    if not isinstance(dek, bytes | bytearray) or len(dek) != 32:
        raise ValueError("the DEK is 32 bytes")
    return bytes(dek).hex()


# Page format: SQLCipher 4 defaults except the page HMAC, HMAC-SHA256 instead of HMAC-SHA512:
# every page read from disk is authenticated, and SHA-256 (hardware-accelerated on current
# CPUs) halves the cost per page, which is what a search at a million persons pays for (see
# docs/store.md). Files made with the plain SQLCipher 4 defaults still open (_LEGACY).
_FORMAT = ("PRAGMA cipher_hmac_algorithm = HMAC_SHA256",)
_LEGACY: tuple[str, ...] = ()


def _keyed(path: Path, hex_key: str, settings: tuple[str, ...]) -> Any:
    conn = sqlcipher3.connect(str(path), isolation_level=None, check_same_thread=False)
    try:
        # A wrong key is an expected event (WrongKey): keep SQLCipher's own log quiet.
        conn.execute("PRAGMA cipher_log_level = NONE")
        conn.execute(f"PRAGMA key = \"x'{hex_key}'\"")
        for pragma in settings:
            conn.execute(pragma)
        version = conn.execute("PRAGMA cipher_version").fetchone()
        if not version or not version[0]:
            raise StoreError("SQLCipherが利用できません。インストールを確認してください。")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except BaseException:
        conn.close()
        raise
    return conn


def _connect(path: Path, dek: bytes | None, *, create: bool = False) -> tuple[Any, Any]:
    """Keyed, checked, configured connection (dek=None: plain SQLite, benchmarks only), and a
    function that opens one more keyed connection to the same file (for checkpoints)."""
    if dek is None:
        import sqlite3

        def plain() -> Any:
            return sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)

        conn: Any = plain()
        reconnect = plain
    else:
        hex_key = _check_dek(dek)
        _private_file(path, create=create)
        formats = (_FORMAT,) if create else (_FORMAT, _LEGACY)
        for i, settings in enumerate(formats):
            try:
                conn = _keyed(path, hex_key, settings)
                break
            except sqlcipher3.DatabaseError:
                if i == len(formats) - 1:
                    raise WrongKey() from None

        def reconnect() -> Any:
            return _keyed(path, hex_key, settings)

    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute(f"PRAGMA wal_autocheckpoint = {WAL_AUTOCHECKPOINT_PAGES}")
    conn.execute(f"PRAGMA journal_size_limit = {WAL_SIZE_LIMIT}")
    conn.execute("PRAGMA temp_store = MEMORY")
    conn.execute("PRAGMA busy_timeout = 5000")
    # Decrypted pages kept in memory: every miss costs a decryption (see PAGE_CACHE_KIB).
    conn.execute(f"PRAGMA cache_size = -{PAGE_CACHE_KIB}")
    return conn, reconnect


def _private_file(path: Path, *, create: bool) -> None:
    """POSIX: the cache file is 0600 before SQLite opens it (SQLite gives its -wal and -shm
    the main file's mode); an older file made 0644 is tightened. Windows: the folder's ACL."""
    if os.name == "nt":
        return
    if create:
        with contextlib.suppress(FileExistsError):
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        return
    for name in (str(path), str(path) + "-wal", str(path) + "-shm"):
        with contextlib.suppress(FileNotFoundError):
            if os.stat(name).st_mode & 0o077:
                os.chmod(name, 0o600)


def _open(path: Path, dek: bytes | None, *, create: bool) -> Cache:
    if create and path.exists():
        raise StoreError("端末のデータベースが既にあります。")
    if not create and not path.exists():
        raise StoreError("端末のデータベースがありません。オンラインで初回同期をしてください。")
    conn, reconnect = _connect(path, dek, create=create)
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > LATEST_VERSION:
            raise CacheCorrupt(
                "端末のデータベースがこのプログラムより新しい版です。プログラムを更新してください。"
            )
        migrate(conn)

        def opener(other: Path) -> tuple[Any, Callable[[], Any]]:
            return _connect(other, dek)

        return Cache(conn, str(path), reconnect, None if dek is None else opener)
    except BaseException:
        conn.close()
        raise


def create_cache(path: str | os.PathLike[str], dek: bytes) -> Cache:
    """A new encrypted cache at `path` (which must not exist), schema at the latest version."""
    return _open(Path(path), dek, create=True)


def open_cache(path: str | os.PathLike[str], dek: bytes) -> Cache:
    """Open an existing cache; WrongKey when `dek` is not its key. Migrates forward."""
    return _open(Path(path), dek, create=False)


def copy_cache(
    source: str | os.PathLike[str],
    source_dek: bytes,
    target: str | os.PathLike[str],
    target_dek: bytes,
) -> None:
    """Copy the cache file `source` page by page under another key, into `target` (which must
    not exist): the server's snapshot for one terminal (server/snapshot.py).

    SQLite's backup API through SQLCipher: each page is decrypted with one key and encrypted
    with the other, no row is re-inserted and no index rebuilt. `target` is synced to disk;
    a copy interrupted half-way is not a cache (the caller writes to a temporary name).
    """
    destination = Path(target)
    if destination.exists():
        raise StoreError("写しの作成先が既にあります。")
    # Read as it is: no change of journal mode or other settings in a file that other copies
    # may be reading at the same time.
    src = _keyed(Path(source), _check_dek(source_dek), _FORMAT)
    try:
        src.execute("PRAGMA query_only = 1")
        dst = _keyed(destination, _check_dek(target_dek), _FORMAT)
        try:
            # Nothing to protect until the copy is whole: no journal, one sync at the end.
            dst.execute("PRAGMA journal_mode = OFF")
            dst.execute("PRAGMA synchronous = OFF")
            src.backup(dst)
            dst.execute("PRAGMA journal_mode = DELETE")
        finally:
            dst.close()
    finally:
        src.close()
    fsync_file(destination)


def _open_plain_for_benchmark(path: str | os.PathLike[str]) -> Cache:
    """The same schema on plain SQLite: the baseline of benchmarks/bench_search.py only."""
    p = Path(path)
    return _open(p, None, create=not p.exists())


def wipe(data_dir: str | os.PathLike[str], cache: Cache, device_secret: Any = None) -> None:
    """Decommission: delete the cache files, the key slots and the keyring entry.

    `cache` is the open cache of `data_dir`: it proves the outbox is empty (pending and
    rejected events alike) — otherwise OutboxNotEmpty and nothing is deleted. The key material
    goes first (slots, device secret), so even an interrupted wipe leaves an unreadable file.
    `device_secret` is an app.store.keys.DeviceSecret (or None when the caller handles it).
    """
    remaining = cache.outbox_total()
    if remaining:
        raise OutboxNotEmpty(remaining)
    cache.close()
    base = Path(data_dir)
    slots = slots_path(base)
    if slots.exists():
        os.remove(slots)
    if device_secret is not None:
        device_secret.delete()
    db = cache_path(base)
    for suffix in ("", "-wal", "-shm", "-journal"):
        target = Path(str(db) + suffix)
        if target.exists():
            os.remove(target)
    for part in base.glob(f"{CACHE_FILE}.snapshot-*"):  # an initial sync's download
        os.remove(part)
    status_path(db).unlink(missing_ok=True)
