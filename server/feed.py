"""The change feed: seqs reserved in the writer's transaction, items compacted per record."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select

from app.sync.protocol import DIGEST_BUCKETS, bucket_digest
from server.db import Database, latest_seq, next_seqs
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


def stream_page(db: Database, after: int, limit: int) -> Iterator[bytes]:
    """A ChangesPage as JSON bytes, row by row: data is stored as JSON text and copied as is."""
    with db.read() as conn:
        latest = latest_seq(conn)
        query = (
            select(
                changes.c.seq,
                changes.c.kind,
                changes.c.key,
                changes.c.version,
                changes.c.deleted,
                changes.c.data,
            )
            .where(changes.c.seq > after, changes.c.seq <= latest)
            .order_by(changes.c.seq)
            .limit(limit + 1)
        )
        result = conn.execution_options(yield_per=500).execute(query)
        # Rows are gathered into ~64 KiB chunks: each chunk costs a thread hop (sync iterator),
        # an ASGI message, a gzip call and a TLS record, so one per row would dominate.
        buffer: list[str] = ['{"items":[']
        size = 0
        count = 0
        last = after
        has_more = False
        for seq, kind, key, version, deleted, data in result:
            if count == limit:
                has_more = True
                break
            # json.dumps with default arguments takes the C encoder (keys are ids, kinds a
            # handful of words); the stored data is JSON text already.
            text = (
                f'{"," if count else ""}{{"seq":{seq},"kind":"{kind}","key":{json.dumps(key)},'
                f'"version":{version},"deleted":{"true" if deleted else "false"},"data":'
                f"{data if data is not None else 'null'}}}"
            )
            buffer.append(text)
            size += len(text)
            count += 1  # noqa: SIM113 (the loop breaks at limit)
            last = seq
            if size >= CHUNK_CHARS:
                yield "".join(buffer).encode()
                buffer, size = [], 0
        result.close()
    next_after = last if has_more else max(last, latest)
    buffer.append(f'],"next_after":{next_after},"has_more":{"true" if has_more else "false"},')
    buffer.append(f'"latest_seq":{latest}}}')
    yield "".join(buffer).encode()


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
        )
        return [json.loads(r[0]) for r in rows]
