"""The change feed: seqs reserved in the writer's transaction, items compacted per record."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, cast, delete, insert, null, select, union_all

from app.sync.protocol import DIGEST_BUCKETS, bucket_digest
from server.db import Database, latest_seq, next_seqs
from server.register_crypto import RegisterCipher, reveal
from server.tables import changes, feed_counter, households

CHUNK_CHARS = 64 * 1024


def dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def append_change(
    conn: Connection,
    kind: str,
    key: str,
    version: int,
    data: dict[str, Any] | None,
    *,
    seq: int | None = None,
    deleted: bool = False,
) -> int:
    """One feed item with the record's full new state; older items of the record go away.

    Compaction keeps the initial sync (the feed from 0) as long as the register, not its
    history; a client past the old item sees the new one, a client before it sees only the new.
    """
    if seq is None:
        seq = next_seqs(conn, 1)
    conn.execute(delete(changes).where(changes.c.kind == kind, changes.c.key == key))
    conn.execute(
        insert(changes).values(
            seq=seq,
            kind=kind,
            key=key,
            version=version,
            deleted=deleted,
            data=None if data is None else dumps(data),
            at=datetime.now(UTC),
        )
    )
    return seq


# Built once (a terminal's empty delta page is the most frequent request of all). One
# statement: the feed's head (latest seq, the row whose kind is NULL) and the page up to it,
# from one snapshot on either database, so that a page needs no transaction of its own (on
# PostgreSQL a BEGIN and a COMMIT are a round trip each).
_HEAD = select(feed_counter.c.seq).where(feed_counter.c.id == 1)
_ROWS = (
    select(
        changes.c.seq,
        changes.c.kind,
        changes.c.key,
        changes.c.version,
        changes.c.deleted,
        changes.c.data,
    )
    # No upper bound here: in one snapshot every item has a seq at most the counter's (both
    # are written in one transaction), and a bound the planner cannot see (a subquery) made
    # PostgreSQL sort the whole feed for a page from 0 instead of walking the index.
    .where(changes.c.seq > bindparam("after"))
    .order_by(changes.c.seq)
    .limit(bindparam("rows"))
    .subquery()
)
_PAGE = union_all(
    select(
        feed_counter.c.seq,
        cast(null(), changes.c.kind.type),
        cast(null(), changes.c.key.type),
        cast(null(), changes.c.version.type),
        cast(null(), changes.c.deleted.type),
        cast(null(), changes.c.data.type),
    ).where(feed_counter.c.id == 1),
    select(_ROWS),
)


def read_page(db: Database, after: int, limit: int) -> list[bytes]:
    """A ChangesPage as JSON chunks of ~64 KiB, read in one go: the connection goes back to
    the pool before the first byte is sent (issue 21 item 12: a page streamed from an open
    cursor held a pooled connection between chunks, and with every worker thread waiting for a
    connection, nothing moved until the pool timed out). Stored data is JSON text and copied
    as is, with the sealed 個人番号 put back (server/register_crypto.py)."""
    with db.read_each() as conn:
        return read_page_in(conn, db.register_cipher, after, limit)


def read_page_in(
    conn: Connection, cipher: RegisterCipher | None, after: int, limit: int
) -> list[bytes]:
    """read_page on the caller's connection (GET /v1/changes looks its caller up on the same
    one): one statement, so any read connection will do (Database.read_each). The rows are all
    fetched here: the caller gives the connection back before the page is sent."""
    rows = []
    latest: int | None = None
    for row in conn.execute(_PAGE, {"after": after, "rows": limit + 1}):
        if row[1] is None:  # the head
            latest = int(row[0])
        else:
            rows.append(row)
    if latest is None:
        raise RuntimeError("the feed counter's row is missing")
    rows.sort(key=lambda r: int(r[0]))  # a union promises no order (in practice: already so)
    rows = [r for r in rows if r[0] <= latest]  # none past the head in one snapshot; if ever
    has_more = len(rows) > limit
    rows = rows[:limit]
    # Each chunk costs an ASGI message, a gzip call and a TLS record: one per row would dominate.
    chunks: list[bytes] = []
    buffer: list[str] = ['{"items":[']
    size = 0
    last = after
    for count, (seq, kind, key, version, deleted, data) in enumerate(rows):
        if data is not None and cipher is not None and kind == "household":
            data = cipher.reveal_text(data)
        # json.dumps with default arguments takes the C encoder (keys are ids, kinds a
        # handful of words); the stored data is JSON text already.
        text = (
            f'{"," if count else ""}{{"seq":{seq},"kind":"{kind}","key":{json.dumps(key)},'
            f'"version":{version},"deleted":{"true" if deleted else "false"},"data":'
            f"{data if data is not None else 'null'}}}"
        )
        buffer.append(text)
        size += len(text)
        last = seq
        if size >= CHUNK_CHARS:
            chunks.append("".join(buffer).encode())
            buffer, size = [], 0
    next_after = last if has_more else max(last, latest)
    buffer.append(f'],"next_after":{next_after},"has_more":{"true" if has_more else "false"},')
    buffer.append(f'"latest_seq":{latest}}}')
    chunks.append("".join(buffer).encode())
    return chunks


def stream_page(db: Database, after: int, limit: int) -> Iterator[bytes]:
    """The page's chunks (see read_page), for callers that iterate."""
    yield from read_page(db, after, limit)


def compute_digest(db: Database) -> list[str]:
    """Bucket digests; cached per database until the feed moves (every change bumps seq)."""
    with db.read() as conn:
        latest = latest_seq(conn)
    cached = db.digest_cache
    if cached is not None and cached[0] == latest:
        return cached[1]
    buckets = _compute_digest(db)  # read after `latest`: never older than the key it gets
    db.digest_cache = (latest, buckets)
    return buckets


def _compute_digest(db: Database) -> list[str]:
    pairs: list[list[tuple[str, int]]] = [[] for _ in range(DIGEST_BUCKETS)]
    with db.read() as conn:
        rows = conn.execution_options(yield_per=5000).execute(
            select(households.c.household_id, households.c.version, households.c.bucket)
        )
        for household_id, version, bucket in rows:
            pairs[bucket].append((household_id, version))
    return [bucket_digest(p) for p in pairs]


def bucket_households(db: Database, bucket: int) -> list[dict[str, Any]]:
    with db.read() as conn:
        rows = conn.execute(
            select(households.c.data)
            .where(households.c.bucket == bucket)
            .order_by(households.c.household_id)
        ).all()
    return [json.loads(reveal(db.register_cipher, r[0])) for r in rows]
