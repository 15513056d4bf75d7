"""The initial sync from the server's snapshot (docs/sync.md "Snapshot"), with the real server
over HTTPS/mTLS on loopback, the cutting proxy and the real SQLCipher cache.

After every fault: the cache equals the server (digests), the terminal's own records are kept
once, the download resumed instead of starting again, and the server's copy is gone.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from app.store.db import open_cache
from app.sync.errors import ServerUnreachable
from server import admin
from server import snapshot as server_snapshot
from server.errors import ApiError
from tests.support.poll import poll_until
from tests.sync.rig import Rig, Template
from tests.sync.test_sync_faults import assert_equal_to_server, kill_child

CHUNK = 16 * 1024


class Downloaded:
    """The byte counts of the snapshot's download, as the client reports them (the engine's
    progress is in the feed's units); `hook(count)` may stop the pull on the way."""

    def __init__(self, rig: Rig, hook: Callable[[int], None] | None = None) -> None:
        self.counts: list[int] = []
        real = rig.client.download_snapshot

        def download(info: Any, path: Any, progress: Any = None, cancelled: Any = None) -> Any:
            def report(have: int, size: int) -> None:
                self.counts.append(have)
                if hook is not None:
                    hook(have)
                if progress is not None:
                    progress(have, size)

            return real(info, path, report, cancelled)

        rig.client.download_snapshot = download  # type: ignore[method-assign]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    return Template.make(tmp_path_factory.mktemp("snapshot-template"))


@pytest.fixture
def rig(tmp_path: Path, template: Template) -> Iterator[Rig]:
    r = Rig.start(tmp_path, template)
    r.client.download_chunk = CHUNK
    try:
        yield r
    finally:
        r.close()


def _exports(rig: Rig) -> list[Path]:
    return sorted(server_snapshot.snapshot_dir(rig.server.config).glob("t-*.db"))


def _parts(rig: Rig) -> list[Path]:
    return sorted(rig.tmp.glob("cache.db.snapshot-*"))


def test_initial_sync_takes_the_snapshot_then_the_feed(rig: Rig) -> None:
    seq = rig.server.build_snapshot()
    # Changes after the snapshot was built: they come through the feed.
    changed = rig.change_households(12, seed=5, new=3)
    # What the terminal made before its first sync stays (e.g. its login's audit batch).
    events = rig.issue_events(2)

    seen: list[tuple[int, int]] = []
    report = rig.engine.sync_once(anti_entropy=True, progress=lambda d, t: seen.append((d, t)))

    pull = report.pull
    assert pull is not None and pull.complete and pull.snapshot_seq == seq
    assert pull.start_cursor == 0 and pull.items == len(changed)  # only the tail
    assert report.repair is not None and report.repair.differing == []
    assert_equal_to_server(rig)
    assert report.push is not None and report.push.accepted == len(events)
    assert _parts(rig) == []  # downloaded and taken
    # The server deletes its copy once it has answered the terminal's DELETE.
    poll_until(lambda: _exports(rig) == [], timeout=10, interval=0.05, what="the copy deleted")
    # One bar for the whole sync, in the feed's units: the download counts up to the
    # snapshot's seq, then the feed's pages go on from there.
    download = [d for d, t in seen if t == seq]
    assert download and download == sorted(download) and download[-1] == seq
    assert max(t for _d, t in seen) >= seq
    # The next initial-sync-sized step is a normal delta.
    rig.change_households(4, seed=6)
    assert rig.engine.pull().items == 4
    assert_equal_to_server(rig)


def test_without_a_snapshot_the_feed_from_zero(rig: Rig) -> None:
    result = rig.engine.pull()
    assert result.complete and result.snapshot_seq is None and result.pages >= 4
    assert_equal_to_server(rig)


def test_cut_connection_resumes_the_download(rig: Rig) -> None:
    rig.server.build_snapshot()
    downloaded = Downloaded(rig)
    rig.proxy.cut_after(5 * CHUNK + 1000)  # inside the file
    result = rig.engine.pull()
    assert rig.proxy.cuts == 1
    assert result.complete and result.retries >= 1 and result.snapshot_seq is not None
    # The byte counts only go up: the retry asked for the rest, not the whole file again.
    assert downloaded.counts == sorted(downloaded.counts) and len(downloaded.counts) > 5
    assert_equal_to_server(rig)


def test_cancelled_download_resumes_in_the_next_pull(rig: Rig) -> None:
    rig.server.build_snapshot()
    stop = threading.Event()
    Downloaded(rig, lambda have: stop.set() if have >= 4 * CHUNK else None)
    first = rig.engine.pull(cancel=stop)
    assert first.cancelled and rig.cache.cursor() == 0
    (part,) = _parts(rig)
    kept = part.stat().st_size
    assert kept >= 4 * CHUNK

    downloaded = Downloaded(rig)
    second = rig.engine.pull()
    assert second.complete and second.snapshot_seq is not None
    assert downloaded.counts[0] > kept  # went on from the bytes already there
    assert_equal_to_server(rig)


def test_damaged_download_is_fetched_again(rig: Rig) -> None:
    rig.server.build_snapshot()
    stop = threading.Event()
    Downloaded(rig, lambda have: stop.set() if have >= 3 * CHUNK else None)
    rig.engine.pull(cancel=stop)
    (part,) = _parts(rig)
    with part.open("r+b") as fh:  # one byte of what arrived is wrong
        fh.seek(2 * CHUNK + 7)
        byte = fh.read(1)
        fh.seek(2 * CHUNK + 7)
        fh.write(bytes([byte[0] ^ 0xFF]))
    result = rig.engine.pull()
    assert result.complete and result.snapshot_seq is not None and result.retries >= 1
    assert_equal_to_server(rig)


def test_server_gone_during_the_download_keeps_the_cache_empty_and_usable(rig: Rig) -> None:
    rig.server.build_snapshot()
    # The marker: the proxy lets 4 chunks through and holds the rest, so the download cannot
    # finish (kernel buffers included) whatever the load; the server stops while it is held.
    held = rig.proxy.hold_after(4 * CHUNK)

    def stop_at_the_marker() -> None:
        held.wait()
        rig.proxy.down = True  # the client's retries find no server either
        rig.stop_server()

    stopper = threading.Thread(target=stop_at_the_marker, name="stop-server", daemon=True)
    stopper.start()
    downloaded = Downloaded(rig)
    first = rig.engine.pull()
    assert held.is_set(), "the download ended before the marker"
    stopper.join()
    assert isinstance(first.error, ServerUnreachable) and rig.cache.cursor() == 0
    assert downloaded.counts and downloaded.counts[-1] >= 2 * CHUNK  # it was under way
    rig.proxy.release()
    rig.proxy.down = False
    rig.restart_server()
    second = rig.engine.pull()
    assert second.complete and second.snapshot_seq is not None
    assert_equal_to_server(rig)


def test_client_killed_while_downloading(rig: Rig) -> None:
    rig.server.build_snapshot()
    kill_child(rig, "snapshot-download", "downloading", 5)
    assert rig.cache.cursor() == 0
    (part,) = _parts(rig)
    kept = part.stat().st_size
    downloaded = Downloaded(rig)
    result = rig.engine.pull()
    assert result.complete and result.snapshot_seq is not None
    assert downloaded.counts[0] > kept > 0
    assert_equal_to_server(rig)


def test_client_killed_before_the_file_replaces_the_cache(rig: Rig) -> None:
    rig.server.build_snapshot()
    events = rig.issue_events(3)
    kill_child(rig, "snapshot-replace", "replacing", 1)
    # The cache is as it was: nothing of the register, the terminal's events once.
    assert rig.cache.cursor() == 0 and rig.cache.counts()["households"] == 0
    assert rig.cache.outbox_count() == 3
    # The half-adopted download no longer matches its digest: it is fetched again.
    result = rig.engine.pull()
    assert result.complete and result.snapshot_seq is not None
    assert sorted(e.event_id for e in rig.cache.outbox_pending()) == sorted(
        e.event_id for e in events
    )
    assert_equal_to_server(rig)


def test_copies_are_encrypted_and_only_for_their_terminal(rig: Rig) -> None:
    rig.server.build_snapshot()
    config, db = rig.server.config, rig.server.db
    key = admin.load_master_key(config)
    terminal = rig.env.terminal.terminal_no
    info = server_snapshot.prepare(db, config, key, terminal)
    # Asked again (an interrupted download): the same copy, not a new one.
    assert server_snapshot.prepare(db, config, key, terminal).snapshot_id == info.snapshot_id
    (copy,) = _exports(rig)
    (base,) = server_snapshot.snapshot_dir(config).glob("base-*.db")
    some = next(iter(rig.data.values()))
    for path in (copy, base):
        raw = path.read_bytes()
        assert some["address"].encode() not in raw and b"SQLite format 3" not in raw
    with open_cache(copy, rig.env.terminal.dek) as c:
        assert c.cursor() == info.seq and c.counts()["households"] == len(rig.data)
    # Another terminal number never gets this copy.
    with pytest.raises(ApiError) as refused:
        server_snapshot.open_range(config, "9999", info.snapshot_id, None)
    assert refused.value.status == 404
    with pytest.raises(ApiError) as bad:
        server_snapshot.open_range(config, terminal, info.snapshot_id, f"bytes={info.size}-")
    assert bad.value.status == 416
    chunks, size, first, last, status = server_snapshot.open_range(
        config, terminal, info.snapshot_id, "bytes=100-"
    )
    assert (size, first, last, status) == (info.size, 100, info.size - 1, 206)
    assert b"".join(chunks) == copy.read_bytes()[100:]


def test_a_new_base_prunes_old_bases_and_leftovers(rig: Rig) -> None:
    import os

    directory = server_snapshot.snapshot_dir(rig.server.config)
    directory.mkdir(parents=True, exist_ok=True)
    stale = directory / "base-0123.db.part"  # a build killed two days ago
    fresh = directory / "t-4567.db.part"  # a copy being written right now
    for path in (stale, fresh):
        path.write_bytes(b"\0" * 100)
    two_days_ago = time.time() - 2 * 86400
    os.utime(stale, (two_days_ago, two_days_ago))
    seqs = [rig.server.build_snapshot() for _ in range(3)]
    assert len(set(seqs)) == 1
    assert len(list(directory.glob("base-*.db"))) == server_snapshot.KEEP_BASES
    assert not stale.exists() and fresh.exists()
