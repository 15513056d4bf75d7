"""The outbox (everything done on this terminal that the server has not acknowledged) and
issuances (交付番号 allocation, 交付履歴).

Never loses data: an event is durable when `outbox_add` returns (synchronous=FULL commit);
it leaves the outbox only when the server answered accepted / duplicate, or conflict (then it
is kept as a notice until acknowledged). A rejected event stays, listed by `outbox_rejected()`,
is not handed out by `outbox_pending()` again (never retried automatically) and does not block
the events behind it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime

from app.sync.protocol import Event, EventResult, MailToInfo, PurposeInfo, RequesterInfo

from .base import CacheBase
from .errors import NotFound, StoreError


def _now() -> str:
    return datetime.now(UTC).isoformat()


@dataclass(frozen=True, slots=True)
class KeptEvent:
    """A rejected event (still in the outbox) or a conflict notice, with the server's reason."""

    event: Event
    reason: str | None
    at: datetime


@dataclass(frozen=True, slots=True)
class Issuance:
    issuance_no: str
    issued_at: datetime
    operator_id: str
    kind: str
    household_id: str
    person_ids: tuple[str, ...]
    copies: int
    fee_yen: int
    requester_kind: str
    id_document: str | None
    content_digest: str
    voided: bool = False
    void_reason: str | None = None
    event_id: str | None = None
    # Since schema v9 (older issuances have none): who asked, why, under which article, and
    # how the copy left (counter or mail, with the address frozen at issuance).
    requester: RequesterInfo | None = None
    purpose: PurposeInfo | None = None
    rule: str | None = None
    delivery: str = "counter"
    mail_to: MailToInfo | None = None

    @property
    def mailed(self) -> bool:
        return self.delivery == "mail"


class OutboxMixin(CacheBase):
    # -- outbox -------------------------------------------------------------------------------

    def outbox_add(self, event: Event) -> None:
        """Queue an event; durable on return. Adding the same event_id twice is a no-op."""
        with self.transaction() as conn:
            now = _now()
            conn.execute(
                "INSERT OR IGNORE INTO outbox(event_id, type, body, added_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (event.event_id, event.type, event.model_dump_json(), now, now),
            )

    def outbox_pending(self, limit: int = 500) -> list[Event]:
        """The oldest pending events (rejected ones excluded), in the order they were added."""
        rows = self._query(
            "SELECT body FROM outbox WHERE state = 'pending' ORDER BY seq LIMIT ?", (limit,)
        )
        return [Event.model_validate_json(r[0]) for r in rows]

    def outbox_record_results(self, results: list[EventResult]) -> None:
        """Apply the server's per-event answers in one transaction (unknown ids are ignored)."""
        with self.transaction() as conn:
            now = _now()
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
        return self._query_one("SELECT count(*) FROM outbox WHERE state = 'pending'")[0]

    def outbox_total(self) -> int:
        """Pending + rejected: what must be empty before the cache may be deleted."""
        return self._query_one("SELECT count(*) FROM outbox")[0]

    def outbox_rejected(self) -> list[KeptEvent]:
        rows = self._query(
            "SELECT body, reason, updated_at FROM outbox WHERE state = 'rejected' ORDER BY seq"
        )
        return [
            KeptEvent(Event.model_validate_json(b), reason, datetime.fromisoformat(at))
            for b, reason, at in rows
        ]

    def outbox_requeue(self, event_id: str) -> None:
        """Put a rejected event back in the queue (a clerk's explicit decision, after a fix)."""
        with self.transaction() as conn:
            cur = conn.execute(
                "UPDATE outbox SET state = 'pending', updated_at = ?"
                " WHERE event_id = ? AND state = 'rejected'",
                (_now(), event_id),
            )
            if cur.rowcount != 1:
                raise NotFound("再送できる差し戻しデータがありません。")

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

    # -- issuances ----------------------------------------------------------------------------

    def next_issuance_no(self, terminal_no: str, day: date) -> str:
        """Allocate "{terminal_no}-{yyyymmdd}-{seq:04d}"; committed (durable) on return.

        Inside an outer transaction() the number is committed with it (and rolled back with it,
        which is fine: nothing was issued under it).
        """
        with self.transaction() as conn:
            key = day.isoformat()
            row = conn.execute(
                "INSERT INTO issuance_counters(terminal_no, day, last_seq) VALUES (?, ?, 1)"
                " ON CONFLICT(terminal_no, day) DO UPDATE SET last_seq = last_seq + 1"
                " RETURNING last_seq",
                (terminal_no, key),
            ).fetchone()
            return f"{terminal_no}-{day:%Y%m%d}-{row[0]:04d}"

    def record_issuance(
        self,
        *,
        terminal_no: str,
        issued_at: datetime,
        operator_id: str,
        kind: str,
        household_id: str,
        person_ids: list[str] | tuple[str, ...],
        copies: int,
        fee_yen: int,
        requester_kind: str,
        id_document: str | None,
        content_digest: str,
        event_factory: Callable[[str], Event] | None = None,
        issuance_no: str | None = None,
        requester: RequesterInfo | None = None,
        purpose: PurposeInfo | None = None,
        rule: str | None = None,
        delivery: str = "counter",
        mail_to: MailToInfo | None = None,
    ) -> Issuance:
        """Store the issuance and its outbox event in ONE transaction, with the 交付番号.

        `issuance_no`: a number already taken with next_issuance_no() in the same outer
        transaction (the certificate prints it before it is recorded); None allocates one here
        for `issued_at`'s own date (pass local time). `event_factory(issuance_no)` builds the
        certificate_issued event (it needs the number). A mailed issuance (`delivery="mail"`)
        must carry the address it goes to.
        """
        if delivery not in ("counter", "mail") or (delivery == "mail") != (mail_to is not None):
            raise StoreError("郵送の交付には送付先が必要です（窓口交付には送付先はありません）。")
        with self.transaction() as conn:
            no = issuance_no or self.next_issuance_no(terminal_no, issued_at.date())
            if issuance_no is not None and not issuance_no.startswith(f"{terminal_no}-"):
                raise StoreError(f"交付番号 {issuance_no} はこの端末の番号ではありません。")
            event = event_factory(no) if event_factory is not None else None
            conn.execute(
                "INSERT INTO issuances(issuance_no, day, issued_at, operator_id, kind,"
                " household_id, person_ids, copies, fee_yen, requester_kind, id_document,"
                " content_digest, event_id, requester, purpose, rule, delivery, mail_to)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    no,
                    issued_at.date().isoformat(),
                    issued_at.isoformat(),
                    operator_id,
                    kind,
                    household_id,
                    json.dumps(list(person_ids)),
                    copies,
                    fee_yen,
                    requester_kind,
                    id_document,
                    content_digest,
                    None if event is None else event.event_id,
                    None if requester is None else requester.model_dump_json(),
                    None if purpose is None else purpose.model_dump_json(),
                    rule,
                    delivery,
                    None if mail_to is None else mail_to.model_dump_json(),
                ),
            )
            if event is not None:
                self.outbox_add(event)
        return self.issuance(no)

    def issuance(self, issuance_no: str) -> Issuance:
        rows = self._query(_SELECT_ISSUANCE + " WHERE issuance_no = ?", (issuance_no,))
        if not rows:
            raise NotFound(f"交付番号 {issuance_no} の交付記録がありません。")
        return _issuance(rows[0])

    def issuances_on(self, day: date) -> list[Issuance]:
        """交付履歴 / 日計表 of one day (by the date part of issued_at), in number order."""
        rows = self._query(
            _SELECT_ISSUANCE + " WHERE day = ? ORDER BY issuance_no", (day.isoformat(),)
        )
        return [_issuance(r) for r in rows]

    def void_issuance(self, issuance_no: str, reason: str, event: Event | None = None) -> None:
        """Mark an issuance voided and queue its certificate_voided event, atomically."""
        if not reason.strip():
            raise StoreError("取消の理由を入力してください。")
        with self.transaction() as conn:
            row = conn.execute(
                "SELECT voided FROM issuances WHERE issuance_no = ?", (issuance_no,)
            ).fetchone()
            if row is None:
                raise NotFound(f"交付番号 {issuance_no} の交付記録がありません。")
            if row[0]:
                raise StoreError(f"交付番号 {issuance_no} は既に取り消されています。")
            conn.execute(
                "UPDATE issuances SET voided = 1, void_reason = ?, voided_at = ?"
                " WHERE issuance_no = ?",
                (reason, _now(), issuance_no),
            )
            if event is not None:
                self.outbox_add(event)


_SELECT_ISSUANCE = (
    "SELECT issuance_no, issued_at, operator_id, kind, household_id, person_ids, copies, fee_yen,"
    " requester_kind, id_document, content_digest, voided, void_reason, event_id, requester,"
    " purpose, rule, delivery, mail_to FROM issuances"
)


def _issuance(r: tuple) -> Issuance:  # type: ignore[type-arg]
    return Issuance(
        issuance_no=r[0],
        issued_at=datetime.fromisoformat(r[1]),
        operator_id=r[2],
        kind=r[3],
        household_id=r[4],
        person_ids=tuple(json.loads(r[5])),
        copies=r[6],
        fee_yen=r[7],
        requester_kind=r[8],
        id_document=r[9],
        content_digest=r[10],
        voided=bool(r[11]),
        void_reason=r[12],
        event_id=r[13],
        requester=None if r[14] is None else RequesterInfo.model_validate_json(r[14]),
        purpose=None if r[15] is None else PurposeInfo.model_validate_json(r[15]),
        rule=r[16],
        delivery=r[17],
        mail_to=None if r[18] is None else MailToInfo.model_validate_json(r[18]),
    )
