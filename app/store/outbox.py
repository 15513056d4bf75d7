"""The outbox: everything done on this terminal that the server has not acknowledged.

Never loses data: an event is durable when `outbox_add` returns (synchronous=FULL commit);
it leaves the outbox only when the server answered accepted / duplicate, or conflict (then it
is kept as a notice until acknowledged). A rejected event stays, listed by `outbox_rejected()`,
is not handed out by `outbox_pending()` again (never retried automatically) and does not block
the events behind it.

An event the server keeps failing on (5xx, an unreadable answer) while it takes others
(issue 21): `outbox_failed` counts the attempt and holds it back until `next_attempt_at`
(outbox_pending skips it meanwhile); after `quarantine_after` attempts it is 'quarantined':
kept and shown like a rejected one (`outbox_held`), sent again only when a supervisor puts it
back (`outbox_requeue`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from app.sync.protocol import Event, EventResult, payload_problems

from .base import CacheBase
from .errors import NotFound, StoreError
from .outbox_status import status_path, write_status

log = logging.getLogger(__name__)


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


@dataclass(frozen=True, slots=True)
class KeptEvent:
    """A rejected event (still in the outbox) or a conflict notice, with the server's reason."""

    event: Event
    reason: str | None
    at: datetime


@dataclass(frozen=True, slots=True)
class HeldEvent:
    """An event waiting for a person: 'rejected' by the server, or 'quarantined' after failing
    again and again; `reason` is the server's (or the last failure's), Japanese."""

    event: Event
    state: str
    reason: str | None
    at: datetime
    attempts: int


def _utc(at: datetime) -> str:
    """Times compared as text in SQL: one form, UTC with microseconds."""
    if at.tzinfo is None:
        raise ValueError("outbox times must be timezone-aware")
    return at.astimezone(UTC).isoformat(timespec="microseconds")


class OutboxMixin(CacheBase):
    # (unsent, rejected) as last written to outbox-status.json; None: not written (or failed)
    _status_written: tuple[int, int] | None = None

    # -- the plaintext status beside the cache (app/store/outbox_status.py) --------------------

    def _outbox_counts(self) -> tuple[int, int]:
        row = self._query_one(
            "SELECT count(*), coalesce(sum(state IN ('rejected', 'quarantined')), 0) FROM outbox"
        )
        return int(row[0]), int(row[1])

    def write_outbox_status(self) -> None:
        """Write outbox-status.json now (at open, after each sync round)."""
        self._write_status()

    def _write_status(self, counts: tuple[int, int] | None = None) -> None:
        try:
            counts = counts or self._outbox_counts()
            write_status(status_path(self.path), counts[0], counts[1], datetime.now(UTC))
            self._status_written = counts
        except Exception as exc:  # never fails the caller's transaction; retried next time
            log.warning("outbox status not written: %s", type(exc).__name__)
            self._status_written = None

    def _note_growth(self) -> None:
        """Inside outbox_add's transaction: an event is on record before it is durable, so a
        crash before the COMMIT over-counts (corrected at the next open), never under-counts."""
        counts = self._outbox_counts()  # sees the transaction's own INSERT
        written = self._status_written
        if written is None or counts[0] > written[0]:
            self._write_status(counts)

    def _after_transaction(self) -> None:
        try:
            counts = self._outbox_counts()
        except Exception as exc:
            log.warning("outbox not counted: %s", type(exc).__name__)
            return
        if counts != self._status_written:
            self._write_status(counts)

    # -- outbox -------------------------------------------------------------------------------

    def outbox_add(self, event: Event) -> None:
        """Queue an event; durable on return. Adding the same event_id twice is a no-op.

        The payload must fit its type's model (protocol.EVENT_PAYLOADS): a malformed event fails
        here, inside the caller's transaction (an issuance rolls back with it), instead of
        coming back `rejected` after the certificate was handed over.
        """
        problems = payload_problems(event)
        if problems:
            raise StoreError(
                f"送信データ({event.type})の形式が正しくありません: {', '.join(problems)}"
            )
        with self.transaction() as conn:
            now = now_iso()
            conn.execute(
                "INSERT OR IGNORE INTO outbox(event_id, type, body, added_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (event.event_id, event.type, event.model_dump_json(), now, now),
            )
            self._note_growth()

    def outbox_pending(self, limit: int = 500, now: datetime | None = None) -> list[Event]:
        """The oldest pending events (rejected and quarantined ones excluded), in the order they
        were added; with `now`, not those held back until later by `outbox_failed`."""
        if now is None:
            rows = self._query(
                "SELECT body FROM outbox WHERE state = 'pending' ORDER BY seq LIMIT ?", (limit,)
            )
        else:
            rows = self._query(
                "SELECT body FROM outbox WHERE state = 'pending'"
                " AND (next_attempt_at IS NULL OR next_attempt_at <= ?) ORDER BY seq LIMIT ?",
                (_utc(now), limit),
            )
        return [Event.model_validate_json(r[0]) for r in rows]

    def outbox_failed(
        self,
        event_id: str,
        reason: str,
        retry_at: Callable[[int], datetime],
        quarantine_after: int,
    ) -> int:
        """One more failed attempt at this event alone (the server took others meanwhile):
        held back until `retry_at(attempts)`, quarantined at the `quarantine_after`th. Returns
        the attempts counted (0: no such pending event)."""
        with self.transaction() as conn:
            row = conn.execute(
                "SELECT attempts FROM outbox WHERE event_id = ? AND state = 'pending'",
                (event_id,),
            ).fetchone()
            if row is None:
                return 0
            attempts = int(row[0]) + 1
            if attempts >= quarantine_after:
                conn.execute(
                    "UPDATE outbox SET state = 'quarantined', attempts = ?, reason = ?,"
                    " next_attempt_at = NULL, updated_at = ? WHERE event_id = ?",
                    (attempts, reason, now_iso(), event_id),
                )
            else:
                conn.execute(
                    "UPDATE outbox SET attempts = ?, reason = ?, next_attempt_at = ?,"
                    " updated_at = ? WHERE event_id = ?",
                    (attempts, reason, _utc(retry_at(attempts)), now_iso(), event_id),
                )
            return attempts

    def outbox_record_results(self, results: list[EventResult]) -> None:
        """Apply the server's per-event answers in one transaction (unknown ids are ignored)."""
        with self.transaction() as conn:
            now = now_iso()
            for r in results:
                row = conn.execute(
                    "SELECT type, body FROM outbox WHERE event_id = ?", (r.event_id,)
                ).fetchone()
                if row is None:
                    continue
                if r.status == "rejected":
                    conn.execute(
                        "UPDATE outbox SET state = 'rejected', reason = ?, updated_at = ?"
                        " WHERE event_id = ?",
                        (r.reason, now, r.event_id),
                    )
                    continue
                if r.status == "conflict":
                    conn.execute(
                        "INSERT OR REPLACE INTO notices(event_id, type, body, reason, at)"
                        " VALUES (?, ?, ?, ?, ?)",
                        (r.event_id, row[0], row[1], r.reason, now),
                    )
                conn.execute("DELETE FROM outbox WHERE event_id = ?", (r.event_id,))

    def outbox_count(self) -> int:
        """Pending events (what the status bar shows as the outbox length)."""
        return int(self._query_one("SELECT count(*) FROM outbox WHERE state = 'pending'")[0])

    def outbox_total(self) -> int:
        """Pending + rejected + quarantined: what must be empty before the cache may be deleted."""
        return int(self._query_one("SELECT count(*) FROM outbox")[0])

    def outbox_held_count(self) -> int:
        """Rejected + quarantined: events waiting for a person (the status bar's notice)."""
        return int(self._query_one("SELECT count(*) FROM outbox WHERE state != 'pending'")[0])

    def outbox_held(self) -> list[HeldEvent]:
        """Rejected and quarantined events, oldest first, for the supervisor's list."""
        rows = self._query(
            "SELECT body, state, reason, updated_at, attempts FROM outbox"
            " WHERE state != 'pending' ORDER BY seq"
        )
        return [
            HeldEvent(
                Event.model_validate_json(b),
                str(state),
                None if reason is None else str(reason),
                datetime.fromisoformat(at),
                int(attempts),
            )
            for b, state, reason, at, attempts in rows
        ]

    def outbox_rejected(self) -> list[KeptEvent]:
        rows = self._query(
            "SELECT body, reason, updated_at FROM outbox WHERE state = 'rejected' ORDER BY seq"
        )
        return [
            KeptEvent(Event.model_validate_json(b), reason, datetime.fromisoformat(at))
            for b, reason, at in rows
        ]

    def outbox_requeue(self, event_id: str) -> None:
        """Put a rejected or quarantined event back in the queue (a supervisor's explicit
        decision, after a fix); its attempts start again."""
        with self.transaction() as conn:
            cur = conn.execute(
                "UPDATE outbox SET state = 'pending', attempts = 0, next_attempt_at = NULL,"
                " updated_at = ? WHERE event_id = ? AND state IN ('rejected', 'quarantined')",
                (now_iso(), event_id),
            )
            if cur.rowcount != 1:
                raise NotFound("再送できる送信保留データがありません。")

    def notices(self, include_acknowledged: bool = False) -> list[KeptEvent]:
        """Conflicts reported by the server (accepted, to be reconciled by staff)."""
        sql = "SELECT body, reason, at FROM notices"
        if not include_acknowledged:
            sql += " WHERE acknowledged = 0"
        rows = self._query(sql + " ORDER BY at, event_id")
        return [
            KeptEvent(Event.model_validate_json(b), reason, datetime.fromisoformat(at))
            for b, reason, at in rows
        ]

    def acknowledge_notice(self, event_id: str) -> None:
        with self.transaction() as conn:
            conn.execute("UPDATE notices SET acknowledged = 1 WHERE event_id = ?", (event_id,))
