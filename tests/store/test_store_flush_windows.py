"""Flushing a file to disk the way Windows allows it (issue 16).

Windows' FlushFileBuffers, behind `os.fsync`, needs a handle opened for writing: through a
read-only handle it fails with ERROR_ACCESS_DENIED, which Python raises as PermissionError. The
first sync of every Windows terminal died on it (copy_cache on the server side, adopt_snapshot on
the terminal). Simulated here: `os.fsync` refuses a regular file whose descriptor is read-only,
as Windows does; the files, the copy and the adoption are real.
"""

from __future__ import annotations

import fcntl
import os
import stat
from pathlib import Path

import pytest

from app.store.db import Cache, copy_cache, create_cache
from app.store.keys import generate_dek

from .conftest import household_items
from .households import make_households

_real_fsync = os.fsync


def _fsync_as_windows(fd: int) -> None:
    read_only = fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE == os.O_RDONLY
    if read_only and stat.S_ISREG(os.fstat(fd).st_mode):
        raise PermissionError(13, "アクセスが拒否されました。")  # WinError 5
    _real_fsync(fd)


@pytest.fixture
def windows_flush(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "fsync", _fsync_as_windows)


def _base(path: Path, key: bytes) -> int:
    with create_cache(path, key) as base:
        base.begin_bulk_load()
        items = household_items(list(make_households(20, seed=3)))
        base.apply_changes(items, items[-1].seq)
        base.finish_bulk_load()
        return base.cursor()


def test_the_simulation_refuses_a_read_only_handle(tmp_path: Path, windows_flush: None) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"x")
    fd = os.open(path, os.O_RDONLY)
    try:
        with pytest.raises(PermissionError):
            os.fsync(fd)
    finally:
        os.close(fd)


def test_snapshot_copy_and_adoption_flush_through_a_write_handle(
    tmp_path: Path, cache: Cache, dek: bytes, windows_flush: None
) -> None:
    base_key = generate_dek()
    seq = _base(tmp_path / "base.db", base_key)
    snapshot = tmp_path / "cache.db.snapshot"

    copy_cache(tmp_path / "base.db", base_key, snapshot, dek)  # the server's side
    cache.adopt_snapshot(snapshot, seq)  # the terminal's first sync

    assert cache.cursor() == seq
    assert not snapshot.exists()
