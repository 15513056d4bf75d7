"""The change feed: seqs reserved in the writer's transaction, items compacted per record."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, delete, insert, select

from app.sync.protocol import DIGEST_BUCKETS, bucket_digest
from server.db import Database, latest_seq, next_seqs
from server.register_crypto import reveal
from server.tables import changes, households

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


# Built once (a terminal's empty delta page is the most frequent request of all).
_PAGE = (
    select(
        changes.c.seq,
        changes.c.kind,
        changes.c.key,
        changes.c.version,
        changes.c.deleted,
        changes.c.data,
    )
    .where(changes.c.seq > bindparam("after"), changes.c.seq <= bindparam("latest"))
    .order_by(changes.c.seq)
    .limit(bindparam("rows"))
)


def read_page(db: Database, after: int, limit: int) -> list[bytes]:
    """A ChangesPage as JSON chunks of ~64 KiB, read in one go: the connection goes back to
    the pool before the first byte is sent (issue 21 item 12: a page streamed from an open
    cursor held a pooled connection between chunks, and with every worker thread waiting for a
    connection, nothing moved until the pool timed out). Stored data is JSON text and copied
    as is, with the sealed 個人番号 put back (server/register_crypto.py)."""
    cipher = db.register_cipher
    with db.read() as conn:
        latest = latest_seq(conn)
        rows = conn.execute(_PAGE, {"after": after, "latest": latest, "rows": limit + 1}).all()
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
