"""The initial sync from the server's snapshot (docs/sync.md "Snapshot").

The server copies the register under this terminal's key; the terminal downloads it (resumable,
checked by SHA-256) and takes it as its cache in one step (`cache.adopt_snapshot`), then pulls
the feed from the snapshot's seq. When the server has none, or this one cannot be used, the
engine falls back to the feed from 0.
"""

from __future__ import annotations

import contextlib
import glob
import logging
import os
from collections.abc import Callable

from app.domain.errors import DomainError
from app.sync.errors import MalformedAnswer, ServerFailed, ServerRejected, ServerUnreachable
from app.sync.ports import SyncCache, SyncClientLike
from app.sync.results import PullResult
from app.sync.retry import Cancel, Retrier, SyncCancelled, is_cancelled

log = logging.getLogger("madoguchi.sync")

# progress(done, total) after each page; total 0 announces a step of unknown length (the server
# preparing a snapshot, the indexes built at the end of an initial sync from the feed).
Progress = Callable[[int, int], None]


def bootstrap(
    cache: SyncCache,
    client: SyncClientLike,
    retrier: Retrier,
    result: PullResult,
    progress: Progress | None,
    cancel: Cancel | None,
) -> bool:
    """True when the cache now holds the register at `result.cursor`; False when the server has
    none, or when this one cannot be used (the feed from 0 follows).

    A cut connection is retried like a page; the download resumes where it stopped, in this
    pull or the next. Cancelled, the bytes received stay for the next pull.
    """
    if progress is not None:
        progress(0, 0)  # the server copies the register under our key: length unknown
    info = retrier.call("snapshot", client.prepare_snapshot, cancel, result)
    if info is None:
        return False
    if info.schema_version > cache.schema_version():
        log.info("sync snapshot: schema %d is newer than ours", info.schema_version)
        return False
    # Named after the copy: bytes of an earlier copy (pruned by the server meanwhile) are
    # never resumed into this one.
    stem = f"{cache.path}.snapshot-"
    part = stem + info.snapshot_id
    for old in glob.glob(glob.escape(stem) + "*"):
        if old != part:
            with contextlib.suppress(OSError):
                os.remove(old)

    # Progress in the feed's units (the register up to the snapshot's seq, then the feed's
    # pages from there): one bar for the whole sync, and no byte counts past 32 bits.
    def downloaded(have: int, size: int) -> None:
        if progress is not None:
            progress(info.seq * have // size, info.seq)

    try:
        complete = retrier.call(
            "snapshot download",
            lambda: client.download_snapshot(info, part, downloaded, lambda: is_cancelled(cancel)),
            cancel,
            result,
        )
        if not complete:
            raise SyncCancelled
        if progress is not None:
            progress(0, 0)  # taking the file as the cache: length unknown
        cache.adopt_snapshot(part, info.seq)
    except MalformedAnswer as exc:
        # The copy kept arriving damaged: the feed from 0 does not depend on it.
        log.warning("sync snapshot: %s, falling back to the feed", exc.detail or "damaged")
        return False
    except DomainError as exc:  # the store refused the file (key, position, contents)
        log.warning("sync snapshot: refused by the cache (%s)", type(exc).__name__)
        with contextlib.suppress(OSError):
            os.remove(part)
        return False
    result.snapshot_seq = result.cursor = info.seq
    result.policy_changed = True  # the policy came with the register
    log.info("sync snapshot: %s taken at seq %d", info.snapshot_id, info.seq)
    with contextlib.suppress(ServerUnreachable, ServerFailed, ServerRejected, MalformedAnswer):
        client.discard_snapshot(info.snapshot_id)
    return True
