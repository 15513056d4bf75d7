"""The initial sync's snapshot: a copy of the register prepared by the server (docs/sync.md).

The server builds the register once in this cache format (server/snapshot.py) and copies it,
page by page, under each terminal's escrowed DEK. The terminal checks the file, carries over
what it made itself (outbox, audit chain, issuances, notices, local state), and takes the file
as its cache (`Cache.adopt_snapshot`). These helpers work on raw connections, both keyed.
"""

from __future__ import annotations

from typing import Any

from .errors import CacheCorrupt

# Tables whose rows the terminal writes itself; a snapshot holds none, the terminal's are kept.
LOCAL_TABLES = (
    "outbox",
    "notices",
    "issuance_counters",
    "issuances",
    "audit_entries",
    "notifications",
    "approvals",
)
# Meta rows the terminal writes itself (CacheBase.set_local_state).
LOCAL_META = "local:%"


def _meta(conn: Any, key: str) -> str | None:
    row = conn.execute("SELECT v FROM meta WHERE k = ?", (key,)).fetchone()
    return None if row is None else row[0]


def check_snapshot(conn: Any, seq: int) -> None:
    """CacheCorrupt unless `conn` holds a finished register at feed position `seq` and nothing
    a terminal writes (which would be another terminal's, or a file that is not a snapshot)."""
    if _meta(conn, "my_number_tag_key") is None:
        raise CacheCorrupt("受信した登録データの写しが壊れています(索引鍵がありません)。")
    if _meta(conn, "bulk_load") == "1":
        raise CacheCorrupt("受信した登録データの写しが作成途中のものです。")
    cursor = _meta(conn, "cursor")
    if cursor is None or int(cursor) != seq:
        raise CacheCorrupt("受信した登録データの写しの同期位置が、サーバーの示す位置と違います。")
    for table in LOCAL_TABLES:
        if conn.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone() is not None:
            raise CacheCorrupt("受信した登録データの写しに端末の記録が含まれています。")
    if conn.execute("SELECT 1 FROM meta WHERE k LIKE ? LIMIT 1", (LOCAL_META,)).fetchone():
        raise CacheCorrupt("受信した登録データの写しに端末の記録が含まれています。")


def copy_local_rows(source: Any, target: Any) -> int:
    """Copy what the terminal made itself from `source` (the cache) into `target` (the
    snapshot), in one transaction of `target`; both at the same schema version. Returns the
    number of rows copied."""
    copied = 0
    target.execute("BEGIN IMMEDIATE")
    try:
        for table in LOCAL_TABLES:
            columns = [r[1] for r in source.execute(f"PRAGMA table_info({table})")]
            names = ", ".join(columns)
            marks = ", ".join("?" for _ in columns)
            rows = source.execute(f"SELECT {names} FROM {table}").fetchall()
            target.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", rows)
            copied += len(rows)
        rows = source.execute("SELECT k, v FROM meta WHERE k LIKE ?", (LOCAL_META,)).fetchall()
        target.executemany("INSERT INTO meta(k, v) VALUES (?, ?)", rows)
        copied += len(rows)
    except BaseException:
        target.execute("ROLLBACK")
        raise
    target.execute("COMMIT")
    return copied
