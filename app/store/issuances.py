"""Issuances: 交付番号 allocation and the 交付履歴 (the issuance, its outbox event, its void).

An issuance and its certificate_issued event are stored in ONE transaction (the outbox is
app/store/outbox.py); the service adds its audit entry inside the same transaction.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from app.domain.certificates import format_issuance_no
from app.sync.protocol import Event, MailToInfo, PurposeInfo, RequesterInfo

from .errors import NotFound, StoreError
from .outbox import OutboxMixin, now_iso


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
    # Since schema v12: a reprint is a void of the old issuance and a new one that names it
    # (`replaces`); the voided one knows its replacement (`replaced_by`).
    replaces: str | None = None
    replaced_by: str | None = None

    @property
    def mailed(self) -> bool:
        return self.delivery == "mail"


class IssuancesMixin(OutboxMixin):
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
            return format_issuance_no(terminal_no, day, int(row[0]))

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
        replaces: str | None = None,
    ) -> Issuance:
        """Store the issuance and its outbox event in ONE transaction, with the 交付番号.

        `issuance_no`: a number already taken with next_issuance_no() in the same outer
        transaction (the certificate prints it before it is recorded); None allocates one here
        for `issued_at`'s own date (pass local time). `event_factory(issuance_no)` builds the
        certificate_issued event (it needs the number). A mailed issuance (`delivery="mail"`)
        must carry the address it goes to. `replaces`: the 交付番号 this one reprints, voided
        in the same transaction before (app.services.issuance.reissue); replaced only once.
        """
        if delivery not in ("counter", "mail") or (delivery == "mail") != (mail_to is not None):
            raise StoreError("郵送の交付には送付先が必要です（窓口交付には送付先はありません）。")
        with self.transaction() as conn:
            no = issuance_no or self.next_issuance_no(terminal_no, issued_at.date())
            if issuance_no is not None and not issuance_no.startswith(f"{terminal_no}-"):
                raise StoreError(f"交付番号 {issuance_no} はこの端末の番号ではありません。")
            event = event_factory(no) if event_factory is not None else None
            if replaces is not None:
                row = conn.execute(
                    "SELECT voided FROM issuances WHERE issuance_no = ?", (replaces,)
                ).fetchone()
                if row is None or not row[0]:
                    raise StoreError(
                        f"交付番号 {replaces} は取り消されていないため再交付できません。"
                    )
                taken = conn.execute(
                    "SELECT issuance_no FROM issuances WHERE replaces = ?", (replaces,)
                ).fetchone()
                if taken is not None:
                    raise StoreError(
                        f"交付番号 {replaces} は既に {taken[0]} で再交付されています。"
                    )
            conn.execute(
                "INSERT INTO issuances(issuance_no, day, issued_at, operator_id, kind,"
                " household_id, person_ids, copies, fee_yen, requester_kind, id_document,"
                " content_digest, event_id, requester, purpose, rule, delivery, mail_to, replaces)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
                    replaces,
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
                (reason, now_iso(), issuance_no),
            )
            if event is not None:
                self.outbox_add(event)


_SELECT_ISSUANCE = (
    "SELECT issuance_no, issued_at, operator_id, kind, household_id, person_ids, copies, fee_yen,"
    " requester_kind, id_document, content_digest, voided, void_reason, event_id, requester,"
    " purpose, rule, delivery, mail_to, replaces,"
    " (SELECT r.issuance_no FROM issuances r WHERE r.replaces = issuances.issuance_no)"
    " FROM issuances"
)


def _issuance(r: Sequence[Any]) -> Issuance:
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
        replaces=r[19],
        replaced_by=r[20],
    )
