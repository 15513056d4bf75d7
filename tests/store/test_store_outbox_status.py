"""outbox-status.json beside the cache (app/store/outbox_status.py): the uninstaller's count of
unsent events, which it cannot read from the encrypted cache. It follows every transaction,
over-counts after a crash (never under-counts) and is corrected at the next open."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from app.store.db import create_cache, open_cache, wipe
from app.store.outbox_status import read_status, status_path
from app.sync.protocol import EventResult
from tests.support.crash import kill_at_marker

from .test_store_outbox import event

ROOT = Path(__file__).resolve().parents[2]


def _counts(path: Path) -> tuple[int, int]:
    status = read_status(status_path(path))
    assert status is not None
    return status.unsent, status.rejected


def test_the_file_follows_the_outbox(tmp_path: Path, dek: bytes) -> None:
    path = tmp_path / "cache.db"
    cache = create_cache(path, dek)
    assert status_path(path) == tmp_path / "outbox-status.json"
    assert _counts(path) == (0, 0)
    first, second = event(), event()
    cache.outbox_add(first)
    assert _counts(path) == (1, 0)
    with pytest.raises(RuntimeError), cache.transaction():
        cache.outbox_add(second)
        assert _counts(path) == (2, 0)  # on record before the COMMIT
        raise RuntimeError("the issuance failed")
    assert _counts(path) == (1, 0)  # the rollback is counted too
    cache.outbox_add(second)
    cache.outbox_record_results(
        [
            EventResult(event_id=first.event_id, status="accepted"),
            EventResult(event_id=second.event_id, status="rejected", reason="bad"),
        ]
    )
    assert _counts(path) == (1, 1)  # a rejected event is still unsent
    cache.outbox_requeue(second.event_id)
    assert _counts(path) == (1, 0)
    doc = json.loads(status_path(path).read_text(encoding="utf-8"))
    assert sorted(doc) == ["format", "rejected", "unsent", "written_at"]  # nothing personal
    cache.outbox_record_results([EventResult(event_id=second.event_id, status="duplicate")])
    assert _counts(path) == (0, 0)
    wipe(tmp_path, cache)
    assert not status_path(path).exists()


CHILD = """
import sys
from app.store.db import open_cache
from tests.store.test_store_outbox import event
cache = open_cache(sys.argv[1], bytes.fromhex(sys.argv[2]))
with cache.transaction():
    cache.outbox_add(event())
    print("added", flush=True)
    sys.stdin.readline()  # killed here, before the COMMIT
"""


def test_a_crash_before_the_commit_over_counts_until_the_next_open(
    tmp_path: Path, dek: bytes
) -> None:
    path = tmp_path / "cache.db"
    create_cache(path, dek).close()
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path), dek.hex()],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        cwd=ROOT,
        text=True,
    )
    kill_at_marker(child, "added")
    assert _counts(path) == (1, 0)  # the uninstaller would warn: the safe side
    with open_cache(path, dek) as cache:
        assert cache.outbox_total() == 0
        assert _counts(path) == (0, 0)
