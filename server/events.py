"""POST /v1/events: each event in its own transaction, idempotent by event_id.

accepted / duplicate / conflict (accepted, and queued for reconciliation because a person
changed after the version the terminal relied on) / rejected (with a Japanese reason; nothing
of the event is written except the rejection record).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError as PydanticValidationError
from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from app.sync.protocol import (
    CardEventPayload,
    CertificateInfo,
    CertificateIssuedPayload,
    CertificateVoidedPayload,
    Event,
    EventResult,
    EventsResponse,
    EventStatus,
    ReconciliationAckPayload,
)
from server import notifications
from server.audit_ingest import ingest_audit_batch
from server.db import Database
from server.feed import dumps
from server.tables import (
    card_events,
    certificates,
    operators,
    persons,
    reconciliation,
)
from server.tables import events as events_table

log = logging.getLogger(__name__)


class Rejected(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _now() -> datetime:
    return datetime.now(UTC)


def _payload(model: type[Any], event: Event) -> Any:
    try:
        return model.model_validate(event.payload)
    except PydanticValidationError as exc:
        fields = ", ".join(".".join(str(p) for p in e["loc"]) or "payload" for e in exc.errors())
        raise Rejected(f"イベントの内容が正しくありません({fields})。") from None


def _check_persons(conn: Connection, person_ids: Sequence[str]) -> dict[str, int]:
    wanted = set(person_ids)
    rows = conn.execute(
        select(persons.c.person_id, persons.c.version).where(persons.c.person_id.in_(wanted))
    ).all()
    found = {r.person_id: int(r.version) for r in rows}
    missing = sorted(wanted - set(found))
    if missing:
        raise Rejected(f"サーバーに存在しない住民の記録です(個人ID: {', '.join(missing[:5])})。")
    return found


def _conflicts(conn: Connection, event: Event, terminal_no: str) -> str | None:
    """Queue every person whose version moved past the one relied on; a notice for the clerk."""
    if not event.relied_versions:
        return None
    current = _check_persons(conn, list(event.relied_versions))
    moved = [
        (pid, v, current[pid])
        for pid, v in sorted(event.relied_versions.items())
        if current[pid] > v
    ]
    for pid, relied, now_version in moved:
        conn.execute(
            insert(reconciliation).values(
                event_id=event.event_id,
                terminal_no=terminal_no,
                person_id=pid,
                relied_version=relied,
                current_version=now_version,
                created_at=_now(),
                status="open",
            )
        )
    if not moved:
        return None
    ids = ", ".join(pid for pid, _, _ in moved[:5])
    return (
        f"受け付けましたが、処理の後に住民票が更新されていました(個人ID: {ids})。"
        "照合待ちとして管理者が確認します。"
    )


def _certificate_issued(conn: Connection, event: Event, terminal_no: str) -> str | None:
    p: CertificateIssuedPayload = _payload(CertificateIssuedPayload, event)
    if not p.issuance_no.startswith(f"{terminal_no}-"):
        raise Rejected("交付番号がこの端末の番号で始まっていません。")
    _check_persons(conn, p.person_ids)
    exists = conn.execute(
        select(certificates.c.issuance_no).where(certificates.c.issuance_no == p.issuance_no)
    ).first()
    if exists:
        raise Rejected(f"交付番号 {p.issuance_no} はすでに別のイベントで記録されています。")
    reason = _conflicts(conn, event, terminal_no)
    conn.execute(
        insert(certificates).values(
            issuance_no=p.issuance_no,
            terminal_no=terminal_no,
            operator_id=event.operator_id,
            issued_at=event.occurred_at,
            kind=p.kind,
            person_ids=dumps(p.person_ids),
            copies=p.copies,
            fee_yen=p.fee_yen,
            content_digest=p.content_digest,
            stale_approved_by=event.stale_approved_by,
            voided=False,
            event_id=event.event_id,
            requester=None if p.requester is None else p.requester.model_dump_json(),
            purpose=None if p.purpose is None else p.purpose.model_dump_json(),
            rule=p.rule,
            delivery=p.delivery,
            mail_to=None if p.mail_to is None else p.mail_to.model_dump_json(),
        )
    )
    return reason


def _certificate_voided(conn: Connection, event: Event, terminal_no: str) -> str | None:
    p: CertificateVoidedPayload = _payload(CertificateVoidedPayload, event)
    done = conn.execute(
        update(certificates)
        .where(certificates.c.issuance_no == p.issuance_no, certificates.c.voided.is_(False))
        .values(voided=True, voided_at=event.occurred_at, void_reason=p.reason)
    ).rowcount
    if not done:
        raise Rejected(f"交付番号 {p.issuance_no} の証明書は記録されていないか、取消済みです。")
    return None


def _card_event(conn: Connection, event: Event, terminal_no: str) -> str | None:
    p: CardEventPayload = _payload(CardEventPayload, event)
    if p.person_id is not None:
        _check_persons(conn, [p.person_id])
    reason = _conflicts(conn, event, terminal_no)
    conn.execute(
        insert(card_events).values(
            event_id=event.event_id,
            terminal_no=terminal_no,
            operator_id=event.operator_id,
            person_id=p.person_id,
            action=p.action,
            occurred_at=event.occurred_at,
            details=dumps(p.details),
        )
    )
    return reason


def _audit_batch(conn: Connection, event: Event, terminal_no: str) -> str | None:
    status, reason = ingest_audit_batch(conn, terminal_no, event.payload)
    if status == "rejected":
        raise Rejected(reason or "監査ログを受け付けられません。")
    return reason if status == "conflict" else None


def _notification_filed(conn: Connection, event: Event, terminal_no: str) -> str | None:
    # A 住民異動届: pending for the head office, or a conflict (server/notifications.py).
    try:
        return notifications.file_event(conn, event, terminal_no)
    except notifications.NotificationRejected as exc:
        raise Rejected(exc.reason) from None


def _reconciliation_ack(conn: Connection, event: Event, terminal_no: str) -> str | None:
    p: ReconciliationAckPayload = _payload(ReconciliationAckPayload, event)
    if (p.reconciliation_id is None) == (p.event_id is None):
        raise Rejected(
            "確認する照合待ちを reconciliation_id か event_id のどちらか一方で指定してください。"
        )
    where = [reconciliation.c.terminal_no == terminal_no]
    if p.reconciliation_id is not None:
        where.append(reconciliation.c.id == p.reconciliation_id)
    else:
        where.append(reconciliation.c.event_id == p.event_id)
    done = conn.execute(
        update(reconciliation)
        .where(*where, reconciliation.c.status == "open")
        .values(status="acked")
    ).rowcount
    if not done:
        known = conn.execute(select(reconciliation.c.id).where(*where)).first()
        if known is None:
            raise Rejected("指定された照合待ちはこの端末のものではないか、存在しません。")
    return None


_HANDLERS = {
    "certificate_issued": _certificate_issued,
    "certificate_voided": _certificate_voided,
    "card_event": _card_event,
    "audit_batch": _audit_batch,
    "reconciliation_ack": _reconciliation_ack,
    "notification_filed": _notification_filed,
}


def _record(
    conn: Connection, event: Event, terminal_no: str, status: str, reason: str | None
) -> None:
    conn.execute(
        insert(events_table).values(
            event_id=event.event_id,
            type=event.type,
            terminal_no=terminal_no,
            operator_id=event.operator_id,
            occurred_at=event.occurred_at,
            received_at=_now(),
            status=status,
            reason=reason,
            payload=dumps(event.payload),
        )
    )


def apply_one(db: Database, terminal_no: str, event: Event) -> EventResult:
    def result(status: EventStatus, reason: str | None = None) -> EventResult:
        return EventResult(event_id=event.event_id, status=status, reason=reason)

    try:
        with db.write() as conn:
            previous = conn.execute(
                select(events_table.c.status).where(events_table.c.event_id == event.event_id)
            ).first()
            if previous is not None and previous.status != "rejected":
                return result("duplicate")
            if previous is not None:
                # A rejected event may be sent again (after a fix); it is judged afresh.
                conn.execute(delete(events_table).where(events_table.c.event_id == event.event_id))
            if event.terminal_no != terminal_no:
                raise Rejected("イベントの端末番号が送信した端末と一致しません。")
            known = conn.execute(
                select(operators.c.operator_id).where(operators.c.operator_id == event.operator_id)
            ).first()
            if known is None:
                raise Rejected(f"操作者 {event.operator_id} はサーバーに登録されていません。")
            handler = _HANDLERS.get(event.type)
            if handler is None:  # pragma: no cover - the wire model only admits known types
                raise Rejected(f"未知のイベント種別です({event.type})。")
            reason = handler(conn, event, terminal_no)
            status: EventStatus = "conflict" if reason else "accepted"
            _record(conn, event, terminal_no, status, reason)
            return result(status, reason)
    except Rejected as rej:
        try:
            with db.write() as conn:
                conn.execute(delete(events_table).where(events_table.c.event_id == event.event_id))
                _record(conn, event, terminal_no, "rejected", rej.reason)
        except IntegrityError:
            return result("duplicate")
        log.info("event %s from terminal %s rejected", event.event_id, terminal_no)
        return result("rejected", rej.reason)
    except IntegrityError:
        # Another request stored the same event_id meanwhile.
        return result("duplicate")


def apply_batch(db: Database, terminal_no: str, batch: Sequence[Event]) -> EventsResponse:
    return EventsResponse(results=[apply_one(db, terminal_no, e) for e in batch])


def certificate_info(db: Database, issuance_no: str) -> CertificateInfo | None:
    with db.read() as conn:
        row = conn.execute(
            select(certificates).where(certificates.c.issuance_no == issuance_no)
        ).first()
    if row is None:
        return None
    issued_at = row.issued_at if row.issued_at.tzinfo else row.issued_at.replace(tzinfo=UTC)
    return CertificateInfo(
        issuance_no=row.issuance_no,
        terminal_no=row.terminal_no,
        operator_id=row.operator_id,
        issued_at=issued_at,
        kind=row.kind,
        person_ids=json.loads(row.person_ids),
        copies=row.copies,
        fee_yen=row.fee_yen,
        content_digest=row.content_digest,
        voided=bool(row.voided),
        delivery=row.delivery,
    )
