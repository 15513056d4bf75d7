"""One copy of the program per data directory (issue 16).

A second copy on the same cache would hold its files open, and Windows refuses to replace or
delete a file another process holds (a snapshot's adoption, a wipe). The first copy holds an
exclusive lock on `madoguchi.lock` in the data directory for as long as it runs; the operating
system drops the lock when the process ends, however it ends, so a crash leaves nothing stale.
Windows: msvcrt.locking on the file's first byte; elsewhere: flock.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from .errors import StoreError

LOCK_FILE = "madoguchi.lock"


class AlreadyRunning(StoreError):
    def __init__(self, data_dir: Path) -> None:
        super().__init__(
            "窓口は既にこのパソコンで起動しています。"
            f"同じデータフォルダ({data_dir})を使う2つ目の窓口は起動できません。"
            "先に起動した窓口の画面をお使いください。"
        )


def _try_lock(fd: int) -> bool:
    if sys.platform == "win32":
        import msvcrt

        os.lseek(fd, 0, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


class InstanceLock:
    """`with InstanceLock(data_dir):` — AlreadyRunning while another process holds it."""

    def __init__(self, data_dir: str | os.PathLike[str]) -> None:
        self.data_dir = Path(data_dir)
        self._fd: int | None = None

    def acquire(self) -> InstanceLock:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.data_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        if not _try_lock(fd):
            os.close(fd)
            raise AlreadyRunning(self.data_dir)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the lock
            self._fd = None

    def __enter__(self) -> InstanceLock:
        return self if self._fd is not None else self.acquire()

    def __exit__(self, *_exc: object) -> None:
        self.release()
