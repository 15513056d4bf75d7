"""POST /v1/events: a batch in one transaction, each event in a savepoint of its own,
idempotent by (terminal, event_id).

accepted / duplicate / conflict (accepted, and queued for reconciliation because a person
changed after the version the terminal relied on) / rejected (with a Japanese reason; nothing
of the event is written except the rejection record).

Authorisation (issue 21): an event is judged as the act of the session's operator at the
calling terminal. The event must name that operator and that terminal; the operator's roles
must allow the kind (`REQUIRED`); a void only from the terminal that issued the certificate. The
operator recorded is always the session's. Every event is validated on its own: a bad value
(NUL, an over-long id, an integer past its column) rejects that event, not the batch.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError as PydanticValidationError
from sqlalchemy import (
    Connection,
    Integer,
    bindparam,
    cast,
    delete,
    insert,
    literal_column,
    null,
    select,
    union_all,
    update,
)
from sqlalchemy.exc import DataError, IntegrityError
from starlette.concurrency import run_in_threadpool

from app.domain.audit_chain import Verifier, verifier_for
from app.domain.roles import Permission
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
from server import approvals, notifications
from server.audit_ingest import ingest_audit_batch, terminal_public_key
from server.auth import Caller
from server.db import Database
from server.event_checks import describe, parse_event
from server.feed import dumps
from server.register_crypto import cipher_of
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


# What each kind needs beyond a session (app.domain.roles). audit_batch (the terminal's signed
# chain) and reconciliation_ack (a notice was shown) only need the session's operator.
REQUIRED: dict[str, Permission] = {
    "certificate_issued": Permission.ISSUE_CERTIFICATE,
    "certificate_voided": Permission.VOID_CERTIFICATE,
    "card_event": Permission.CARD_DESK,
    "notification_filed": Permission.FILE_NOTIFICATION,
}
_KIND_LABELS = {
    "certificate_issued": "証明書の交付",
    "certificate_voided": "交付の取消",
    "card_event": "個人番号カードの記録",
    "notification_filed": "住民異動届の受付",
}


def _payload(model: type[Any], event: Event) -> Any:
    try:
        return model.model_validate(event.payload)
    except PydanticValidationError as exc:
        raise Rejected(f"イベントの内容が正しくありません({describe(exc)})。") from None


# The hot path's statements are built once: a construct built per call cost more CPU than the
# database's own work (SQLAlchemy coerces and keys it every time).
_PERSON_VERSIONS = select(persons.c.person_id, persons.c.version).where(
    persons.c.person_id.in_(bindparam("ids", expanding=True))
)
_PREVIOUS = select(events_table.c.status, events_table.c.terminal_no).where(
    events_table.c.event_id == bindparam("event_id")
)
_DROP_EVENT = delete(events_table).where(events_table.c.event_id == bindparam("event_id"))
# A run of issuances looks up in ONE statement (one round trip instead of three): which of
# its event ids the server knows, which issuance numbers are taken, the persons' versions.
_LOOKUP = union_all(
    select(
        literal_column("'event'").label("what"),
        events_table.c.event_id.label("key"),
        cast(null(), Integer).label("version"),
    ).where(events_table.c.event_id.in_(bindparam("ids", expanding=True))),
    select(
        literal_column("'certificate'"), certificates.c.issuance_no, cast(null(), Integer)
    ).where(certificates.c.issuance_no.in_(bindparam("nos", expanding=True))),
    select(literal_column("'person'"), persons.c.person_id, persons.c.version).where(
        persons.c.person_id.in_(bindparam("persons", expanding=True))
    ),
)
_INSERT_EVENT = insert(events_table)
_CERTIFICATE_TERMINAL = select(certificates.c.terminal_no).where(
    certificates.c.issuance_no == bindparam("issuance_no")
)
_INSERT_CERTIFICATE = insert(certificates)
_INSERT_CARD_EVENT = insert(card_events)
_INSERT_RECONCILIATION = insert(reconciliation)


def _check_persons(conn: Connection, person_ids: Sequence[str]) -> dict[str, int]:
    wanted = set(person_ids)
    rows = conn.execute(_PERSON_VERSIONS, {"ids": sorted(wanted)}).all()
    found = {r.person_id: int(r.version) for r in rows}
    missing = sorted(wanted - set(found))
    if missing:
        raise Rejected(f"サーバーに存在しない住民の記録です(個人ID: {', '.join(missing[:5])})。")
    return found


def _moved(event: Event, current: dict[str, int], terminal_no: str) -> list[dict[str, Any]]:
    """Reconciliation rows: every person whose version moved past the one relied on."""
    return [
        {
            "event_id": event.event_id,
            "terminal_no": terminal_no,
            "person_id": pid,
            "relied_version": relied,
            "current_version": current[pid],
            "created_at": _now(),
            "status": "open",
        }
        for pid, relied in sorted(event.relied_versions.items())
        if current[pid] > relied
    ]


def _conflict_notice(rows: list[dict[str, Any]]) -> str | None:
    if not rows:
        return None
    ids = ", ".join(r["person_id"] for r in rows[:5])
    return (
        f"受け付けましたが、処理の後に住民票が更新されていました(個人ID: {ids})。"
        "照合待ちとして管理者が確認します。"
    )


def _conflicts(conn: Connection, event: Event, terminal_no: str) -> str | None:
    """Queue every person whose version moved past the one relied on; a notice for the clerk."""
    if not event.relied_versions:
        return None
    rows = _moved(event, _check_persons(conn, list(event.relied_versions)), terminal_no)
    for row in rows:
        conn.execute(_INSERT_RECONCILIATION, row)
    return _conflict_notice(rows)


def _certificate_row(event: Event, p: CertificateIssuedPayload, terminal_no: str) -> dict[str, Any]:
    return {
        "issuance_no": p.issuance_no,
        "terminal_no": terminal_no,
        "operator_id": event.operator_id,
        "issued_at": event.occurred_at,
        "kind": p.kind,
        "person_ids": dumps(p.person_ids),
        "copies": p.copies,
        "fee_yen": p.fee_yen,
        "content_digest": p.content_digest,
        "stale_approved_by": event.stale_approved_by,
        "voided": False,
        "voided_at": None,
        "void_reason": None,
        "event_id": event.event_id,
        # Issue 19: the requester, the 請求事由, the article, and how the copy left.
        "requester": None if p.requester is None else p.requester.model_dump_json(),
        "purpose": None if p.purpose is None else p.purpose.model_dump_json(),
        "rule": p.rule,
        "delivery": p.delivery,
        "mail_to": None if p.mail_to is None else p.mail_to.model_dump_json(),
    }


def _certificate_issued(conn: Connection, event: Event, terminal_no: str) -> str | None:
    p: CertificateIssuedPayload = _payload(CertificateIssuedPayload, event)
    if not p.issuance_no.startswith(f"{terminal_no}-"):
        raise Rejected("交付番号がこの端末の番号で始まっていません。")
    _check_persons(conn, p.person_ids)
    exists = conn.execute(_CERTIFICATE_TERMINAL, {"issuance_no": p.issuance_no}).first()
    if exists:
        raise Rejected(f"交付番号 {p.issuance_no} はすでに別のイベントで記録されています。")
    # A supervisor's approval: the signed one-time token, bound to this issuance (issue 21).
    refused = approvals.refusal(conn, event, p, terminal_no, _terminal_verifier(conn, terminal_no))
    if refused is not None:
        raise Rejected(refused)
    if p.replaces is not None:
        _void_replaced(conn, event, p, terminal_no)
    reason = _conflicts(conn, event, terminal_no)
    conn.execute(_INSERT_CERTIFICATE, _certificate_row(event, p, terminal_no))
    if p.approval is not None:
        approvals.mark_used(conn, event, p.approval, terminal_no)
    return reason


def _void_replaced(
    conn: Connection, event: Event, p: CertificateIssuedPayload, terminal_no: str
) -> None:
    """A reprint (issue 17): the certificate it replaces, issued by the same terminal and still
    standing, is voided in the same transaction (the approval was checked before)."""
    token = p.approval
    approver = token.approver_id if token is not None else "?"
    done = conn.execute(
        update(certificates)
        .where(
            certificates.c.issuance_no == p.replaces,
            certificates.c.terminal_no == terminal_no,
            certificates.c.voided.is_(False),
        )
        .values(
            voided=True,
            voided_at=event.occurred_at,
            void_reason=f"印刷し直しのため取消({p.issuance_no} で再交付、承認 {approver})",
        )
    ).rowcount
    if not done:
        raise Rejected(
            f"再交付の元の交付番号 {p.replaces} は、この端末の交付として記録されていないか、"
            "取消済みです。"
        )


def _terminal_verifier(conn: Connection, terminal_no: str) -> Verifier | None:
    key = terminal_public_key(conn, terminal_no)
    return verifier_for(key) if key is not None else None


def _certificate_voided(conn: Connection, event: Event, terminal_no: str) -> str | None:
    p: CertificateVoidedPayload = _payload(CertificateVoidedPayload, event)
    issued_by = conn.execute(
        _CERTIFICATE_TERMINAL, {"issuance_no": p.issuance_no}
    ).scalar_one_or_none()
    if issued_by is not None and issued_by != terminal_no:
        # The issuance, its fee and its void belong to one terminal's register and 日計: the
        # void is recorded where the paper was issued (a supervisor goes to that counter).
        raise Rejected(
            f"交付番号 {p.issuance_no} の証明書は、発行した端末({issued_by})でのみ取り消せます。"
        )
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
        _INSERT_CARD_EVENT,
        {
            "event_id": event.event_id,
            "terminal_no": terminal_no,
            "operator_id": event.operator_id,
            "person_id": p.person_id,
            "action": p.action,
            "occurred_at": event.occurred_at,
            "details": dumps(p.details),
        },
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


def _event_row(
    event: Event, terminal_no: str, operator_id: str, status: str, reason: str | None
) -> dict[str, Any]:
    return {
        "event_id": event.event_id,
        "type": event.type,
        "terminal_no": terminal_no,
        "operator_id": operator_id,
        "occurred_at": event.occurred_at,
        "received_at": _now(),
        "status": status,
        "reason": reason,
        "payload": dumps(event.payload),
    }


def _record(
    conn: Connection,
    event: Event,
    terminal_no: str,
    operator_id: str,
    status: str,
    reason: str | None,
) -> None:
    row = _event_row(event, terminal_no, operator_id, status, reason)
    if event.type == "notification_filed":
        # A 転入's movers carry their 個人番号: sealed at rest like the register's (issue 21).
        row["payload"] = dumps(cipher_of(conn).seal_numbers(event.payload))
    conn.execute(_INSERT_EVENT, row)


def _issue_in_bulk(
    conn: Connection, run: list[Event], terminal_no: str, caller: Caller
) -> dict[str, EventResult]:
    """The common case in a handful of statements instead of eight per event: a run of new
    `certificate_issued` events that pass every check is looked up and inserted together.
    Whatever does not qualify (and any surprise from the database) is left to _judge, event by
    event; the outcome is the same as judging the run in order."""
    if len(run) < 2:
        return {}
    # Checked first, each on its own (no database): what a bulk write could take.
    fits: dict[int, CertificateIssuedPayload] = {}
    for index, event in enumerate(run):
        try:
            _authorise(event, terminal_no, caller)
            p = CertificateIssuedPayload.model_validate(event.payload)
        except (Rejected, PydanticValidationError):
            continue
        if p.approval is not None or p.approved_by or event.stale_approved_by or p.replaces:
            continue  # an approval or a reprint is checked by _judge (approvals.refusal)
        if p.issuance_no.startswith(f"{terminal_no}-"):
            fits[index] = p
    if not fits:
        return {}
    known: set[str] = set()
    taken: set[str] = set()
    versions: dict[str, int] = {}
    found = conn.execute(
        _LOOKUP,
        {
            "ids": sorted({e.event_id for e in run}),
            "nos": sorted({p.issuance_no for p in fits.values()}),
            "persons": sorted(
                {pid for i, p in fits.items() for pid in (*p.person_ids, *run[i].relied_versions)}
            ),
        },
    )
    for what, key, version in found:
        if what == "event":
            known.add(key)
        elif what == "certificate":
            taken.add(key)
        else:
            versions[key] = int(version)
    plan: list[tuple[Event, CertificateIssuedPayload]] = []
    seen_ids: set[str] = set()
    seen_numbers: set[str] = set()
    for index, event in enumerate(run):
        # A second event with the same id or number is judged after this one, by _judge.
        if event.event_id in known or event.event_id in seen_ids:
            continue
        seen_ids.add(event.event_id)
        fit = fits.get(index)
        if fit is None or fit.issuance_no in seen_numbers:
            continue
        seen_numbers.add(fit.issuance_no)
        if fit.issuance_no not in taken and all(
            pid in versions for pid in (*fit.person_ids, *event.relied_versions)
        ):
            plan.append((event, fit))
    if not plan:
        return {}
    certificates_rows, event_rows, reconciliation_rows = [], [], []
    results: dict[str, EventResult] = {}
    for event, p in plan:
        moved = _moved(event, versions, terminal_no)
        reason = _conflict_notice(moved)
        status: EventStatus = "conflict" if reason else "accepted"
        reconciliation_rows += moved
        certificates_rows.append(_certificate_row(event, p, terminal_no))
        event_rows.append(_event_row(event, terminal_no, caller.operator_id, status, reason))
        results[event.event_id] = EventResult(event_id=event.event_id, status=status, reason=reason)
    savepoint = conn.begin_nested()
    try:
        conn.execute(_INSERT_CERTIFICATE, certificates_rows)
        conn.execute(_INSERT_EVENT, event_rows)
        if reconciliation_rows:
            conn.execute(_INSERT_RECONCILIATION, reconciliation_rows)
    except (IntegrityError, DataError):
        savepoint.rollback()  # a parallel request got there first: one by one, then
        return {}
    savepoint.commit()
    return results


def _authorise(event: Event, terminal_no: str, caller: Caller) -> None:
    if event.terminal_no != terminal_no:
        raise Rejected("イベントの端末番号が送信した端末と一致しません。")
    if event.operator_id != caller.operator_id:
        raise Rejected(
            f"イベントの職員({event.operator_id})がログイン中の職員と一致しません。"
            "その職員がログインしてから送信してください。"
        )
    needed = REQUIRED.get(event.type)
    if needed is not None and not caller.may(needed):
        raise Rejected(
            f"職員 {caller.operator_id} には{_KIND_LABELS[event.type]}の権限がありません。"
        )


def _judge(conn: Connection, event: Event, terminal_no: str, caller: Caller) -> EventResult:
    """One event inside the batch's transaction, in a savepoint of its own."""

    def result(status: EventStatus, reason: str | None = None) -> EventResult:
        return EventResult(event_id=event.event_id, status=status, reason=reason)

    previous = conn.execute(_PREVIOUS, {"event_id": event.event_id}).first()
    if previous is not None and previous.terminal_no != terminal_no:
        # Ids are the terminals' own: another terminal's id is neither a duplicate (the sender
        # would drop its event as delivered) nor a way to learn which ids exist.
        return result("rejected", "この event_id は別の端末のイベントで使われています。")
    if previous is not None and previous.status != "rejected":
        return result("duplicate")
    savepoint = conn.begin_nested()
    try:
        if previous is not None:
            # A rejected event may be sent again (after a fix); it is judged afresh.
            conn.execute(_DROP_EVENT, {"event_id": event.event_id})
        _authorise(event, terminal_no, caller)
        handler = _HANDLERS.get(event.type)
        if handler is None:  # pragma: no cover - the wire model only admits known types
            raise Rejected(f"未知のイベント種別です({event.type})。")
        reason = handler(conn, event, terminal_no)
        status: EventStatus = "conflict" if reason else "accepted"
        _record(conn, event, terminal_no, caller.operator_id, status, reason)
        savepoint.commit()
        return result(status, reason)
    except Rejected as rej:
        savepoint.rollback()
        refusal = rej.reason
    except DataError:
        # A value the database refused that validation let through: this event only.
        savepoint.rollback()
        refusal = "保存できない値を含むため受け付けられません。"
    except IntegrityError:
        savepoint.rollback()
        # Another request stored the same event meanwhile, or its record clashes with one.
        again = conn.execute(_PREVIOUS, {"event_id": event.event_id}).first()
        if again is not None and again.status != "rejected":
            return result("duplicate")
        refusal = "ほかの記録と重複するため受け付けられません。"
    with conn.begin_nested():
        conn.execute(_DROP_EVENT, {"event_id": event.event_id})
        _record(conn, event, terminal_no, caller.operator_id, "rejected", refusal)
    log.info("event %s from terminal %s rejected", event.event_id, terminal_no)
    return result("rejected", refusal)


def _batch_job(
    terminal_no: str, caller: Caller, batch: Sequence[Any]
) -> Callable[[Connection], EventsResponse]:
    """Judge every event of a batch (raw JSON objects) in the caller's write transaction. A
    malformed event is answered `rejected` without touching the database; a batch whose events
    cannot be named fails with 422."""

    def job(conn: Connection) -> EventsResponse:
        parsed = [parse_event(raw) for raw in batch]
        results: list[EventResult | None] = [refused for _event, refused in parsed]
        # Runs of certificate_issued in a few statements (_issue_in_bulk); the rest in order.
        run: list[int] = []
        for index, (event, _refused) in enumerate([*parsed, (None, None)]):
            if event is not None and event.type == "certificate_issued":
                run.append(index)
                continue
            if run:
                done = _issue_in_bulk(conn, [parsed[i][0] for i in run], terminal_no, caller)  # type: ignore[misc]
                for i in run:
                    waiting = parsed[i][0]
                    assert waiting is not None
                    # pop: a second event with the same id is judged (a duplicate) by _judge.
                    results[i] = done.pop(waiting.event_id, None) or _judge(
                        conn, waiting, terminal_no, caller
                    )
                run = []
            if event is not None:
                results[index] = _judge(conn, event, terminal_no, caller)
        if any(event is None for event, _ in parsed):
            log.info("an event from terminal %s refused as malformed", terminal_no)
        return EventsResponse(results=[r for r in results if r is not None])

    return job


def apply_batch(
    db: Database, terminal_no: str, caller: Caller, batch: Sequence[Any]
) -> EventsResponse:
    """One batch in one write transaction. On SQLite through the group commit
    (server.db.GroupCommit): the batches that arrive together share one transaction and one
    fsync. On PostgreSQL in the caller's thread: batches of different terminals proceed in
    parallel on their own connections (a single writer would queue every statement's round
    trip to the database behind the others)."""
    job = _batch_job(terminal_no, caller, batch)
    if db.is_sqlite:
        return db.group_commit().run(job)
    with db.write() as conn:
        return job(conn)


def apply_session_batch(
    db: Database, who: Callable[[Connection], Caller], batch: Sequence[Any]
) -> EventsResponse:
    """POST /v1/events: `who` finds the session's operator (server.auth.operator_in) and the
    batch is judged as theirs. On PostgreSQL both happen in one write transaction, on one
    pooled connection (a look-up of its own cost a checkout, a ping and a transaction's round
    trips per request); on SQLite the look-up reads and the batch goes to the group commit."""
    if db.is_sqlite:
        with db.read() as conn:
            caller = who(conn)
        return db.group_commit().run(_batch_job(caller.terminal_no, caller, batch))
    with db.write() as conn:
        caller = who(conn)
        return _batch_job(caller.terminal_no, caller, batch)(conn)


async def apply_session_batch_async(
    db: Database, who: Callable[[Connection], Caller], batch: Sequence[Any]
) -> EventsResponse:
    """apply_session_batch for the event loop, in one worker thread per request: on SQLite
    the request awaits the group commit without holding one."""
    if db.is_sqlite:
        caller = await run_in_threadpool(_read_caller, db, who)
        job = _batch_job(caller.terminal_no, caller, batch)
        return await asyncio.wrap_future(db.group_commit().submit(job))
    return await run_in_threadpool(apply_session_batch, db, who, batch)


def _read_caller(db: Database, who: Callable[[Connection], Caller]) -> Caller:
    with db.read() as conn:
        return who(conn)


def apply_one(db: Database, terminal_no: str, event: Event) -> EventResult:
    """One event judged as if its own operator had sent it in a session at `terminal_no`, for
    trusted callers inside the server's process (the demo's seed, tests); no HTTP route
    reaches it. An unknown or inactive operator is refused as a forged session would be."""
    with db.read() as conn:
        row = conn.execute(
            select(operators.c.roles, operators.c.active).where(
                operators.c.operator_id == event.operator_id
            )
        ).first()
    if row is None or not row.active:
        reason = f"職員 {event.operator_id} はサーバーに登録されていないか、無効です。"
        return EventResult(event_id=event.event_id, status="rejected", reason=reason)
    roles = tuple(r for r in row.roles.split(",") if r)
    caller = Caller(event.operator_id, roles, False, terminal_no)
    batch = [event.model_dump(mode="json")]
    return apply_batch(db, terminal_no, caller, batch).results[0]


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
