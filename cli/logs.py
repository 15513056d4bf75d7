"""Logging of the terminal program: a rotating file in the data dir, ids only.

What the program logs (app.*, ui.*, cli.*) carries ids, counts and classes of errors, never
names or numbers (DESIGN.md §8); the HTTP library's per-request lines are kept out (their
URLs are ids too, but they would fill the file).
"""

from __future__ import annotations

import logging
import os
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import Any

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# The handler configure() added (replaced by the next call).
_OURS: list[logging.Handler] = []


class _PrivateFile(RotatingFileHandler):
    def _open(self) -> Any:
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.close(fd)
        return super()._open()


def configure(data_dir: Path, name: str = "madoguchi.log") -> Path:
    """data_dir/logs/<name>, 1 MiB × 5, level INFO; returns the file's path."""
    folder = Path(data_dir) / "logs"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / name
    root = logging.getLogger()
    while _OURS:
        old = _OURS.pop()
        root.removeHandler(old)
        old.close()
    handler = _PrivateFile(path, maxBytes=1024 * 1024, backupCount=5, encoding="utf-8")
    handler.setFormatter(logging.Formatter(FORMAT))
    _OURS.append(handler)
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    for noisy in ("httpx", "httpcore", "sqlalchemy", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    logging.captureWarnings(True)
    return path
