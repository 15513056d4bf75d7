"""Logging of `madoguchi-server`: a rotating file in the data dir (0600), ids only.

What reaches it: our own messages (ids, counts, classes of errors — never names, numbers or
reasons), uvicorn's error log, and uvicorn's access log with the path only (the query string is
cut: it could carry data). SQLAlchemy's engines hide bound parameters (server/db.py), so an
error that names a statement never shows its values.
"""

from __future__ import annotations

import logging
import os
import sys
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import Any

FORMAT = "%(asctime)s %(levelname)s %(process)d %(name)s: %(message)s"
MAX_BYTES = 10 * 1024 * 1024
BACKUPS = 5


class PrivateRotatingFileHandler(RotatingFileHandler):
    """Files created 0600 whatever the umask, on the first write and on every rotation."""

    def _open(self) -> Any:
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.close(fd)
        return super()._open()


class _Stderr(logging.Handler):
    """Writes to whatever sys.stderr is at the time (a test harness swaps it)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
        except Exception:  # logging must not raise; it reports the failure itself
            self.handleError(record)


# The handlers configure() added, taken off again by reset().
_OURS: list[logging.Handler] = []


class PathOnly(logging.Filter):
    """uvicorn's access record: (client, method, path?query, http version, status)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str):
            record.args = (args[0], args[1], args[2].split("?", 1)[0], args[3], args[4])
        return True


def reset() -> None:
    """Take our handlers off the root logger (the end of an admin command run in-process)."""
    root = logging.getLogger()
    while _OURS:
        handler = _OURS.pop()
        root.removeHandler(handler)
        handler.close()


def configure(data_dir: Path, log_file: str, level: str = "info") -> Path | None:
    """Route the process's logging to data_dir/log_file (and warnings to stderr)."""
    root = logging.getLogger()
    root.setLevel(level.upper())
    reset()
    path = None
    handlers: list[logging.Handler] = []
    if log_file:
        path = data_dir / log_file
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        handlers.append(
            PrivateRotatingFileHandler(
                path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8"
            )
        )
    console = _Stderr()
    console.setLevel(logging.WARNING)
    handlers.append(console)
    for handler in handlers:
        handler.setFormatter(logging.Formatter(FORMAT))
        _OURS.append(handler)
        root.addHandler(handler)
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, PathOnly) for f in access.filters):
        access.addFilter(PathOnly())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    for noisy in ("sqlalchemy", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    logging.captureWarnings(True)
    return path
