"""The outbox's length in plain text beside the cache, for what cannot open the cache.

    outbox-status.json   {"format": 1, "unsent": 3, "rejected": 1, "written_at": "…+00:00"}

The outbox lives inside the encrypted cache, which opens only with an operator's password
(DESIGN.md §4); the uninstaller (`madoguchi uninstall-check`, run by the MSI) must still know
whether events would be left unsent. Two counts and a time, nothing personal. `unsent` counts
every event the server has not taken (pending, rejected and quarantined, as `outbox_total`;
`rejected` counts the held ones: rejected and quarantined). Written
atomically (app/fileio.py) by the cache after each transaction that changes the outbox, before
the COMMIT when the count grows (a crash then over-counts, never under-counts), and after each
sync round (app/sync/engine.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from app.fileio import atomic_write

from .errors import StoreError

STATUS_FILE = "outbox-status.json"
FORMAT = 1


@dataclass(frozen=True, slots=True)
class OutboxStatus:
    unsent: int
    rejected: int
    written_at: datetime


class StatusUnreadable(StoreError):
    def __init__(self, path: Path) -> None:
        super().__init__(f"未送信件数のファイルを読めません({path})。")


def status_path(cache_path: str | Path) -> Path:
    """Beside the cache: one cache per data folder."""
    return Path(cache_path).parent / STATUS_FILE


def write_status(path: Path, unsent: int, rejected: int, now: datetime) -> None:
    doc = {"format": FORMAT, "unsent": unsent, "rejected": rejected, "written_at": now.isoformat()}
    atomic_write(path, json.dumps(doc) + "\n")


def read_status(path: Path) -> OutboxStatus | None:
    """None when there is no file; StatusUnreadable when it is not one of ours."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise StatusUnreadable(path) from exc
    try:
        unsent, rejected = doc["unsent"], doc["rejected"]
        if doc["format"] != FORMAT or not all(
            isinstance(n, int) and n >= 0 for n in (unsent, rejected)
        ):
            raise ValueError("format")
        return OutboxStatus(unsent, rejected, datetime.fromisoformat(doc["written_at"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise StatusUnreadable(path) from exc
