"""Acting on what a sync reported: revoked operators and a revoked terminal (DESIGN.md §4).

    outcome = apply_revocations(report, slots=slots, data_dir=d, cache=cache, device_secret=s)

- Revoked operators (inactive or deleted in the feed): their key slots on this terminal are
  deleted, so they can no longer log in offline here.
- Revoked terminal, outbox empty (pending and rejected): wipe — key slots, device secret,
  cache files (app.store.db.wipe).
- Revoked terminal, outbox NOT empty: those events can no longer be pushed (the server refuses a
  revoked terminal on every request), and deleting them would lose 交付 records. The database is
  kept, a REVOKED marker file is written beside it, and the application must refuse to open it
  (`is_locked(data_dir)`) and tell the clerk to call the administrator, who can re-enroll the
  terminal or recover the events with the escrowed key. This is the documented choice.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.fileio import atomic_write_text
from app.store.db import wipe  # the store does the deleting (and re-checks the outbox)
from app.store.errors import OutboxNotEmpty
from app.sync.results import SyncReport

log = logging.getLogger("madoguchi.sync")

MARKER = "REVOKED"
LOCKED_MESSAGE = (
    "この端末はサーバーで登録を取り消されましたが、未送信のデータが残っています。"
    "データを守るため、この端末では業務を開始できません。管理者に連絡してください。"
)


@dataclass(slots=True)
class RevocationOutcome:
    slots_deleted: list[str] = field(default_factory=list)
    wiped: bool = False
    locked: bool = False

    @property
    def message(self) -> str | None:
        if self.locked:
            return LOCKED_MESSAGE
        if self.wiped:
            return "この端末はサーバーで登録を取り消されたため、端末内のデータを消去しました。"
        return None


def is_locked(data_dir: str | os.PathLike[str]) -> bool:
    """True when a revoked terminal kept its database: do not open it."""
    return (Path(data_dir) / MARKER).exists()


def _write_marker(data_dir: Path) -> None:
    # Atomic and durable (app.fileio): a crash must not forget the lock.
    atomic_write_text(data_dir / MARKER, "terminal revoked by the server; outbox not empty\n")


def apply_revocations(
    report: SyncReport,
    *,
    slots: Any,
    data_dir: str | os.PathLike[str],
    cache: Any,
    device_secret: Any = None,
) -> RevocationOutcome:
    """Delete revoked operators' key slots; wipe or lock a revoked terminal."""
    outcome = RevocationOutcome()
    for operator_id in report.revoked_operators:
        if slots.has_slot(operator_id):
            slots.delete(operator_id)
            outcome.slots_deleted.append(operator_id)
            log.info("sync: key slot of revoked operator %s deleted", operator_id)
    base = Path(data_dir)
    if report.terminal_action == "wipe":
        try:
            wipe(base, cache, device_secret)
            outcome.wiped = True
            log.warning("sync: revoked terminal wiped")
            return outcome
        except OutboxNotEmpty:  # an event arrived since the report: keep everything
            pass
    if report.terminal_action in ("wipe", "lock"):
        _write_marker(base)
        outcome.locked = True
        log.warning("sync: revoked terminal locked (outbox not empty)")
    return outcome
