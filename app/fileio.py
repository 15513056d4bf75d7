"""The one way to write a file so that it is whole after a crash or a power cut.

    atomic_write(path, text)                  # str (UTF-8) or bytes
    with atomic_writer(path) as fh: ...       # streamed (a large JSONL file)

The durability contract, the same for every caller:
1. a temporary file in the same folder (so the rename stays on one file system);
2. write, flush, and fsync through the handle opened for WRITING (Windows' FlushFileBuffers
   needs write access);
3. `os.replace` onto the target, retried with a short bounded backoff on PermissionError
   (Windows refuses the rename while antivirus, a backup or a second program holds the target
   open: WinError 5 or 32);
4. fsync of the folder on POSIX, so the rename itself survives a power cut (Windows has no
   directory fsync; NTFS makes the rename durable itself).
A failure at any step removes the temporary file and leaves the target as it was.

Standard library only: the server imports it too (tests/test_import_rules.py).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

# Waits between tries of os.replace on PermissionError: about 1.5 s in all, then the error.
REPLACE_BACKOFF: tuple[float, ...] = (0.02, 0.05, 0.1, 0.2, 0.4, 0.8)

StrPath = str | os.PathLike[str]


def fsync_file(path: StrPath) -> None:
    """Flush a file's data to disk, through a handle opened for writing (Windows needs one)."""
    fd = os.open(path, os.O_RDWR | getattr(os, "O_BINARY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: StrPath) -> None:
    """Make the renames in a folder durable (POSIX); nothing to do on Windows."""
    if os.name == "nt":
        return
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_file(
    source: StrPath,
    target: StrPath,
    *,
    os_replace: Callable[[StrPath, StrPath], None] | None = None,
    sleep: Callable[[float], None] | None = None,
) -> None:
    """`os.replace(source, target)`, tried again while the target is held open (Windows).

    `os_replace` and `sleep` (default: os.replace, time.sleep) are seams for the test that
    simulates the sharing violation.
    """
    do_replace = os_replace or os.replace
    wait = sleep or time.sleep
    for delay in REPLACE_BACKOFF:
        try:
            do_replace(source, target)
            return
        except PermissionError:
            wait(delay)
    do_replace(source, target)


@contextlib.contextmanager
def _temporary_beside(target: Path) -> Iterator[int]:
    """A descriptor on a temporary file beside `target`, which replaces it when the block ends
    without error (the block writes, fsyncs and closes it)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        yield fd
        replace_file(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(target.parent)


@contextlib.contextmanager
def atomic_writer(
    path: StrPath, *, encoding: str = "utf-8", newline: str | None = None
) -> Iterator[IO[str]]:
    """A text handle on a temporary file that replaces `path` when the block ends without
    error; for content written piece by piece (a large JSONL file)."""
    with (
        _temporary_beside(Path(path)) as fd,
        os.fdopen(fd, "w", encoding=encoding, newline=newline) as fh,
    ):
        yield fh
        fh.flush()
        os.fsync(fh.fileno())


def atomic_write(path: StrPath, data: str | bytes, *, encoding: str = "utf-8") -> None:
    """Write `data` (text is encoded, newlines as given) to `path` whole or not at all."""
    raw = data.encode(encoding) if isinstance(data, str) else data
    with _temporary_beside(Path(path)) as fd, os.fdopen(fd, "wb") as fh:
        fh.write(raw)
        fh.flush()
        os.fsync(fh.fileno())


def atomic_write_text(path: StrPath, text: str) -> None:
    """`atomic_write` for UTF-8 text."""
    atomic_write(path, text)
