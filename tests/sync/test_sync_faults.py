"""Fault tests: the real embedded server over HTTPS/mTLS on loopback, the real SQLCipher cache.

After every fault: no event lost, none duplicated on the server, and the cache equal to the
server (their digests by the protocol's rule are equal).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from app.store.db import open_cache
from app.store.search import SearchQuery
from app.sync.errors import ServerUnreachable
from app.sync.retry import RetryPolicy
from tests.support.crash import kill_at_marker
from tests.sync.rig import Rig, Template

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    return Template.make(tmp_path_factory.mktemp("sync-template"))


@pytest.fixture
def rig(tmp_path: Path, template: Template) -> Iterator[Rig]:
    r = Rig.start(tmp_path, template)
    try:
        yield r
    finally:
        r.close()


def assert_equal_to_server(rig: Rig) -> None:
    assert rig.engine.local_digest() == rig.server_digest()
    counts = rig.cache.counts()
    assert counts["households"] == len(rig.data)
    # Searchable: the bulk load of the initial sync is finished and every person is found.
    assert not rig.cache.bulk_loading()
    for h in list(rig.data.values())[:: max(1, len(rig.data) // 10)]:
        m = h["members"][-1]
        query = SearchQuery(name=m["name"], birth_date=date.fromisoformat(m["birth_date"]))
        assert m["person_id"] in {hit.person_id for hit in rig.cache.search(query).hits}


def assert_events_exactly_once(rig: Rig, sent: list[str]) -> None:
    rows, distinct = rig.server_events()
    assert rows == distinct, "an event is stored twice on the server"
    assert set(sent) <= rig.server_event_ids(), "an event never reached the server"
    assert rig.cache.outbox_count() == 0


def test_initial_and_delta_sync_reach_the_server_state(rig: Rig) -> None:
    seen: list[tuple[int, int]] = []
    report = rig.engine.sync_once(anti_entropy=True, progress=lambda d, t: seen.append((d, t)))
    assert report.online and report.pull is not None and report.pull.complete
    assert report.pull.pages >= 4  # 200 households, pages of 50
    # The first step (asking for a snapshot, which this server has not built) and the last
    # (the indexes) have no known length: total 0.
    assert seen[0] == (0, 0) and seen[-1][1] == 0 and all(t > 0 for _d, t in seen[1:-1])
    assert report.repair is not None and report.repair.differing == []
    assert_equal_to_server(rig)
    rig.change_households(15, seed=1, new=5)
    delta = rig.engine.pull()
    assert delta.complete and delta.items == 20
    assert_equal_to_server(rig)
    # After a round the sync's pages are in the file itself, not only in its write-ahead log
    # (the engine checkpoints off the cache's lock): the file alone equals the server.
    rig.change_households(5, seed=2)
    assert rig.engine.sync_once().pull.complete  # type: ignore[union-attr]
    alone = rig.tmp / "file-alone.db"
    shutil.copyfile(rig.tmp / "cache.db", alone)
    copy = open_cache(alone, rig.env.terminal.dek)
    try:
        assert copy.bucket_digest() == rig.server_digest()
    finally:
        copy.close()


def test_server_stopped_in_the_middle_of_the_page_sequence(rig: Rig) -> None:
    stopped = threading.Event()

    def stop_after_two_pages(done: int, total: int) -> None:
        if rig.engine.cache.cursor() and not stopped.is_set() and done >= 100:
            stopped.set()
            rig.stop_server()

    first = rig.engine.pull(progress=stop_after_two_pages)
    assert stopped.is_set() and not first.complete
    assert isinstance(first.error, ServerUnreachable)
    assert 0 < rig.cache.cursor() < (first.latest_seq or 0)
    assert rig.cache.last_complete_pull() is None
    cursor = rig.cache.cursor()

    rig.restart_server()
    second = rig.engine.pull()
    assert second.start_cursor == cursor and second.complete
    assert second.items < 200  # resumed, not restarted from 0
    assert_equal_to_server(rig)


def test_server_back_while_retrying_completes_in_one_pull(rig: Rig) -> None:
    rig.engine.retry = RetryPolicy(attempts=12, base_seconds=0.1, cap_seconds=0.4)
    bounced = threading.Event()

    def bounce(done: int, total: int) -> None:
        if done >= 50 and not bounced.is_set():
            bounced.set()
            rig.stop_server()
            threading.Timer(0.15, rig.restart_server).start()

    result = rig.engine.pull(progress=bounce)
    assert result.complete and result.retries >= 1
    assert_equal_to_server(rig)


def test_connection_cut_mid_response_while_pulling(rig: Rig) -> None:
    rig.engine.pull()
    rig.change_households(60, seed=2)
    rig.proxy.cut_after(3000)  # inside the next page's body
    result = rig.engine.pull()
    assert rig.proxy.cuts == 1
    assert result.complete and result.retries >= 1
    assert_equal_to_server(rig)


def test_connection_cut_mid_response_while_pushing_and_batch_delivered_twice(rig: Rig) -> None:
    rig.engine.pull()
    events = rig.issue_events(30)
    # The server applies the batch, the answer is cut: the engine sends the same batch again.
    rig.proxy.cut_after(200)
    result = rig.engine.push()
    assert rig.proxy.cuts == 1 and result.retries >= 1
    assert result.accepted + result.duplicate == 30 and result.remaining == 0
    assert_events_exactly_once(rig, [e.event_id for e in events])
    # And a batch delivered twice on purpose: every event comes back duplicate.
    again = rig.client.push_events(events[:10])
    assert {r.status for r in again.results} == {"duplicate"}
    assert_events_exactly_once(rig, [e.event_id for e in events])


def test_line_down_then_up_drains_the_outbox(rig: Rig) -> None:
    rig.engine.sync_once()
    events = rig.issue_events(12)
    rig.proxy.down = True
    rig.proxy.drop_all()
    report = rig.engine.sync_once()
    assert not report.online and report.outbox_count == 12
    assert rig.engine.status().online is False
    rig.proxy.down = False
    report = rig.engine.sync_once()
    assert report.online and report.outbox_count == 0 and report.push.accepted == 12
    assert_events_exactly_once(rig, [e.event_id for e in events])
    assert_equal_to_server(rig)


def _child(rig: Rig, mode: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.sync.child_sync", mode],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(rig.child_config() + "\n")
    proc.stdin.flush()
    return proc


def kill_child(rig: Rig, mode: str, marker: str, nth: int) -> list[str]:
    """Run `child_sync <mode>` on the rig's cache file, SIGKILL it at the `nth` line starting
    with `marker`, and reopen the cache as the next start of the terminal would; the child's
    lines."""
    rig.cache.close()
    proc = _child(rig, mode)
    seen = kill_at_marker(proc, marker, nth, go_on=True)
    assert proc.returncode == -signal.SIGKILL, seen
    rig.reopen_cache()
    return seen


def test_client_killed_while_applying_pages(rig: Rig) -> None:
    seen = kill_child(rig, "pull", "applying", 4)
    applied = [int(s.split()[1]) for s in seen if s.startswith("applied")]
    assert len(applied) == 3
    # Killed with the 4th page written but not committed: none of it is in the cache.
    cursor = rig.cache.cursor()
    assert cursor == applied[-1]
    result = rig.engine.pull()
    assert result.start_cursor == cursor and result.complete
    assert_equal_to_server(rig)


def test_client_killed_while_pushing(rig: Rig) -> None:
    rig.engine.pull()
    events = rig.issue_events(60)
    # Killed after the server answered the 3rd batch, before the answer was recorded.
    kill_child(rig, "push", "answered", 3)
    pending = rig.cache.outbox_count()
    assert pending == 60 - 20  # batches of 10: 2 recorded, the 3rd answered but not
    result = rig.engine.push()
    assert result.duplicate >= 10 and result.remaining == 0
    assert_events_exactly_once(rig, [e.event_id for e in events])


def test_server_restored_from_an_older_backup(rig: Rig) -> None:
    events = rig.issue_events(10)
    rig.engine.sync_once()
    backup = rig.backup()
    saved = dict(rig.data)
    # After the backup: changes at the server, the terminal syncs them.
    rig.change_households(20, seed=3, new=4)
    rig.engine.sync_once()
    assert_equal_to_server(rig)
    before_restore = rig.cache.cursor()

    rig.restore(backup)  # the server forgets those changes
    rig.data = saved  # the session was made before the backup: still valid
    assert rig.engine.local_digest() != rig.server_digest()
    report = rig.engine.sync_once()
    assert report.pull is not None and report.pull.server_rewound
    assert rig.cache.cursor() < before_restore
    assert report.repair is not None and report.repair.repaired
    assert rig.engine.local_digest() == rig.server_digest()
    assert_equal_to_server(rig)
    # Later server changes are pulled normally from the rewound cursor.
    new = rig.change_households(5, seed=4, new=2)
    assert rig.engine.pull().items >= len(new)
    assert rig.engine.local_digest() == rig.server_digest()
    assert_events_exactly_once(rig, [e.event_id for e in events])
