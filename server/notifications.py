"""Filed 住民異動届 at the server: pending until the head office (審査) confirms or returns them.

- `file_event` judges the event "notification_filed" (server/events.py calls it inside the
  event's transaction): the payload is validated (parse_draft), the register is read and locked
  for the persons it names, and the 届出 becomes `pending`, or `conflict` when the register moved
  past the versions the terminal read or another open 届出 touches the same person; a 届出 whose
  check() finds an ERROR against the register is rejected (the terminal keeps it and shows why).
- `confirm` writes the domain's confirm() into the register in one transaction (new versions of
  every person and household, each on the feed; the 異動履歴; the state; the decision on the
  feed; the step), or refuses with the conflicts, which it records.
- `return_notification` sends it back to the filing terminal with a reason (on the feed).
- `list_notifications`, `show` for the 審査 tab and `madoguchi-server notification`.

Nothing is ever applied on top of a register that moved: a conflict waits for the reviewer.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from msgspec.structs import replace
from pydantic import ValidationError as PydanticValidationError
from sqlalchemy import Connection, insert, select, update

from app.domain.errors import DomainError
from app.domain.notifications import (
    CheckContext,
    Confirmation,
    Conflict,
    NotificationDraft,
    Procedure,
    Register,
    Severity,
    check,
    draft_to_dict,
    find_conflicts,
    parse_draft,
    touched_household_ids,
    touched_person_ids,
)
from app.domain.notifications import (
    confirm as confirm_draft,
)
from app.domain.notifications.model import MOVE_IN
from app.domain.records import household_to_dict
from app.domain.roles import Permission, permissions_of
from app.sync.notification_protocol import (
    NOTIFICATION_FEED_KIND,
    AcknowledgedFinding,
    NotificationConflict,
    NotificationDecision,
    NotificationDetail,
    NotificationFiledPayload,
    NotificationStep,
    NotificationSummary,
)
from app.sync.protocol import Event
from server.db import Database
from server.errors import ApiError
from server.feed import append_change, dumps
from server.notification_register import (
    history_rows,
    next_ids,
    read_register,
    towns_for,
    write_households,
)
from server.register_crypto import cipher_of
from server.tables import (
    change_history,
    households,
    jukinet_messages,
    notification_persons,
    notification_steps,
    notifications,
    operators,
    persons,
)

# The municipality's calendar day (Japan: UTC+9, no daylight saving) for the day of a filing.
JST = timezone(timedelta(hours=9))
OPEN_STATES = ("pending", "conflict")
PERSON_PREFIX, HOUSEHOLD_PREFIX = "PN", "HN"  # ids the head office allocates


class NotificationRejected(Exception):
    """The event cannot be taken as it stands (server/events.py answers `rejected`)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


# --- the register as a 届出 sees it -----------------------------------------------------------


def _wire_conflicts(found: Iterable[Conflict]) -> list[NotificationConflict]:
    return [
        NotificationConflict(
            kind=c.kind.value,
            message=c.message,
            person_id=c.person_id,
            household_id=c.household_id,
        )
        for c in found
    ]


def _open_overlaps(
    conn: Connection, notification_id: str, person_ids: Iterable[str]
) -> list[NotificationConflict]:
    """Open 届出 (pending or conflict) that touch one of these persons: a 届出 arriving now
    waits for each of them (in `conflict`, kind "pending", naming the earlier one)."""
    ids = sorted(set(person_ids))
    if not ids:
        return []
    query = (
        select(notification_persons.c.notification_id, notification_persons.c.person_id)
        .join(
            notifications,
            notifications.c.notification_id == notification_persons.c.notification_id,
        )
        .where(
            notification_persons.c.person_id.in_(ids),
            notifications.c.state.in_(OPEN_STATES),
            notifications.c.notification_id != notification_id,
        )
        .order_by(notifications.c.filed_at, notification_persons.c.person_id)
    )
    out: list[NotificationConflict] = []
    seen: set[str] = set()
    for row in conn.execute(query):
        if row.notification_id in seen:
            continue
        seen.add(row.notification_id)
        out.append(
            NotificationConflict(
                kind="pending",
                message=(
                    f"{row.person_id}について、先に届け出られた届出 {row.notification_id} が"
                    "審査中です"
                ),
                person_id=row.person_id,
                other_notification_id=row.notification_id,
            )
        )
    return out


def _still_waiting(conn: Connection, row: Any) -> list[NotificationConflict]:
    """The earlier 届出 this one waits for (recorded when it arrived) that are still open."""
    waits = [
        NotificationConflict.model_validate(c)
        for c in json.loads(row.conflicts)
        if c.get("kind") == "pending" and c.get("other_notification_id")
    ]
    if not waits:
        return []
    open_ids = set(
        conn.execute(
            select(notifications.c.notification_id).where(
                notifications.c.notification_id.in_([w.other_notification_id for w in waits]),
                notifications.c.state.in_(OPEN_STATES),
            )
        ).scalars()
    )
    return [w for w in waits if w.other_notification_id in open_ids]


def _step(
    conn: Connection,
    notification_id: str,
    step: str,
    *,
    operator_id: str | None,
    terminal_no: str | None,
    detail: str | None = None,
) -> None:
    conn.execute(
        insert(notification_steps).values(
            notification_id=notification_id,
            step=step,
            at=_now(),
            operator_id=operator_id,
            terminal_no=terminal_no,
            detail=detail,
        )
    )


def _publish(conn: Connection, notification_id: str) -> NotificationDecision:
    """The head office's decision (or the conflict on arrival) on the feed, for every terminal;
    the filing terminal shows it to the clerk."""
    row = conn.execute(
        select(notifications).where(notifications.c.notification_id == notification_id)
    ).one()
    version = int(row.decision_version) + 1
    decision = NotificationDecision(
        notification_id=row.notification_id,
        state=row.state,
        terminal_no=row.terminal_no,
        decided_at=_aware(row.decided_at) if row.decided_at else None,
        decided_by=row.decided_by,
        reason=row.reason,
        conflicts=[NotificationConflict.model_validate(c) for c in json.loads(row.conflicts)],
        household_ids=json.loads(row.household_ids) if row.state == "confirmed" else [],
        person_ids=_allocated(conn, notification_id) if row.state == "confirmed" else {},
    )
    conn.execute(
        update(notifications)
        .where(notifications.c.notification_id == notification_id)
        .values(decision_version=version)
    )
    append_change(
        conn, NOTIFICATION_FEED_KIND, notification_id, version, decision.model_dump(mode="json")
    )
    return decision


def _allocated(conn: Connection, notification_id: str) -> dict[str, str]:
    row = conn.execute(
        select(notification_steps.c.detail)
        .where(
            notification_steps.c.notification_id == notification_id,
            notification_steps.c.step == "confirmed",
        )
        .order_by(notification_steps.c.id.desc())
    ).first()
    if row is None or not row.detail:
        return {}
    return dict(json.loads(row.detail).get("person_ids", {}))


# --- filing (the event) -----------------------------------------------------------------------


def file_event(conn: Connection, event: Event, terminal_no: str) -> str | None:
    """Judge a "notification_filed" event inside its transaction. Returns None (accepted: the
    届出 is pending) or the Japanese reason of a conflict (accepted, waits in `conflict`);
    raises NotificationRejected for a 届出 that cannot be taken."""
    try:
        p = NotificationFiledPayload.model_validate(event.payload)
    except PydanticValidationError as exc:
        problems = "、".join(
            f"{'.'.join(str(x) for x in e['loc']) or 'payload'}: "
            + str(e["msg"]).removeprefix("Value error, ")
            for e in exc.errors()[:3]
        )
        raise NotificationRejected(f"届出データの形式が正しくありません（{problems}）。") from None
    draft = p.draft
    roles = conn.execute(
        select(operators.c.roles).where(operators.c.operator_id == event.operator_id)
    ).scalar_one_or_none()
    if Permission.FILE_NOTIFICATION not in permissions_of((roles or "").split(",")):
        raise NotificationRejected(
            f"職員 {event.operator_id} には住民異動届の受付の権限がありません。"
        )
    if event.event_id != p.notification_id:
        raise NotificationRejected("イベントIDと届出IDが一致しません。")
    if dict(event.relied_versions) != dict(draft.relied_versions):
        raise NotificationRejected("イベントと届出で参照した住民票版数が一致しません。")
    if p.move_out_certificate_no is not None and not p.move_out_certificate_no.startswith(
        f"{terminal_no}-"
    ):
        raise NotificationRejected("転出証明書の番号がこの端末の番号で始まっていません。")
    try:
        towns = towns_for(draft.municipality_code)
    except DomainError as exc:
        raise NotificationRejected(exc.message) from None
    register = read_register(conn, draft, lock=True)
    moved = find_conflicts(draft, register)
    late = False
    if not moved:
        today = _aware(event.occurred_at).astimezone(JST).date()
        findings = check(draft, CheckContext(today, register, towns))
        errors = [f for f in findings if f.severity == Severity.ERROR]
        if errors:
            raise NotificationRejected(
                "届出を受け付けられません: " + " / ".join(f.message for f in errors[:3])
            )
        late = any(f.code == "late_filing" for f in findings)
    touched = sorted(touched_person_ids(draft, register))
    filed_at = _aware(event.occurred_at)
    conflicts = _wire_conflicts(moved) + _open_overlaps(conn, draft.notification_id, touched)
    state = "conflict" if conflicts else "pending"
    conn.execute(
        insert(notifications).values(
            notification_id=draft.notification_id,
            terminal_no=terminal_no,
            operator_id=event.operator_id,
            procedure=draft.procedure.value,
            state=state,
            office=draft.office,
            filed_on=draft.filed_on,
            moved_on=draft.moved_on,
            filed_at=filed_at,
            late=late,
            draft=dumps(cipher_of(conn).seal_numbers(draft_to_dict(draft))),
            form_digest=p.form_digest,
            acknowledged=dumps([a.model_dump(mode="json") for a in p.acknowledged]),
            move_out_certificate_no=p.move_out_certificate_no,
            person_ids=dumps(touched),
            household_ids=dumps(list(touched_household_ids(draft))),
            conflicts=dumps([c.model_dump(mode="json") for c in conflicts]),
            decision_version=0,
        )
    )
    if touched:
        conn.execute(
            insert(notification_persons),
            [{"notification_id": draft.notification_id, "person_id": pid} for pid in touched],
        )
    _step(
        conn,
        draft.notification_id,
        "filed",
        operator_id=event.operator_id,
        terminal_no=terminal_no,
        detail=draft.procedure.value,
    )
    if state == "pending":
        return None
    _step(
        conn,
        draft.notification_id,
        "conflict",
        operator_id=None,
        terminal_no=None,
        detail=dumps([c.kind for c in conflicts]),
    )
    _publish(conn, draft.notification_id)
    return (
        "届出を受け付けましたが、同じ方の別の届出が審査中か、参照した住民票が更新されていたため、"
        "本庁の審査で確認します（" + "、".join(c.message for c in conflicts[:3]) + "）。"
    )


# --- the head office's list and detail --------------------------------------------------------


def _summary(row: Any) -> NotificationSummary:
    return NotificationSummary(
        notification_id=row.notification_id,
        procedure=Procedure(row.procedure),
        state=row.state,
        office=row.office,
        terminal_no=row.terminal_no,
        operator_id=row.operator_id,
        filed_on=row.filed_on,
        moved_on=row.moved_on,
        filed_at=_aware(row.filed_at),
        person_ids=json.loads(row.person_ids),
        household_ids=json.loads(row.household_ids),
        late=bool(row.late),
    )


def list_notifications(
    db: Database, *, states: Sequence[str] = OPEN_STATES, limit: int = 500
) -> list[NotificationSummary]:
    """Oldest first: the head office works through the queue in the order it was filed."""
    with db.read() as conn:
        query = select(notifications).order_by(notifications.c.filed_at).limit(limit)
        if states:
            query = query.where(notifications.c.state.in_(list(states)))
        return [_summary(r) for r in conn.execute(query)]


def _row(conn: Connection, notification_id: str, *, lock: bool = False) -> Any:
    query = select(notifications).where(notifications.c.notification_id == notification_id)
    if lock:
        query = query.with_for_update()
    row = conn.execute(query).first()
    if row is None:
        raise NotificationUnknown(notification_id)
    return row


class NotificationUnknown(DomainError):
    def __init__(self, notification_id: str) -> None:
        super().__init__(f"届出 {notification_id} はありません。")


class NotificationRefused(DomainError):
    """A confirmation or return the state (or the register) does not allow, with why."""

    def __init__(self, message: str, conflicts: Sequence[NotificationConflict] = ()) -> None:
        super().__init__(message)
        self.conflicts = list(conflicts)


def show(db: Database, notification_id: str) -> NotificationDetail:
    with db.read() as conn:
        row = _row(conn, notification_id)
        draft = parse_draft(cipher_of(conn).reveal_text(row.draft))
        register = read_register(conn, draft)
        conflicts: list[NotificationConflict] = []
        if row.state in OPEN_STATES:
            conflicts = _wire_conflicts(find_conflicts(draft, register)) + _still_waiting(conn, row)
        steps = [
            NotificationStep(
                step=s.step,
                at=_aware(s.at),
                operator_id=s.operator_id,
                terminal_no=s.terminal_no,
                detail=s.detail,
            )
            for s in conn.execute(
                select(notification_steps)
                .where(notification_steps.c.notification_id == notification_id)
                .order_by(notification_steps.c.id)
            )
        ]
        return NotificationDetail(
            summary=_summary(row),
            draft=draft,
            form_digest=row.form_digest,
            acknowledged=[
                AcknowledgedFinding.model_validate(a) for a in json.loads(row.acknowledged)
            ],
            move_out_certificate_no=row.move_out_certificate_no,
            households=[household_to_dict(h) for h in register.households.values()],
            conflicts=conflicts,
            reason=row.reason,
            steps=steps,
        )


# --- confirm and return -----------------------------------------------------------------------


def _jukinet_messages(
    conn: Connection, draft: NotificationDraft, result: Confirmation
) -> list[str]:
    """What 住基ネット must hear of this confirmation, queued for the 市町村CS connector."""
    queued: list[str] = []
    rows: list[dict[str, Any]] = []
    if draft.procedure in MOVE_IN and draft.move_out_certificate is not None:
        c = draft.move_out_certificate
        for m in draft.movers:
            rows.append(
                {
                    "kind": "move_in_notice",
                    "payload": {
                        "juminhyo_code": m.juminhyo_code,
                        "person_id": result.person_ids[m.key],
                        "moved_in_on": draft.moved_on.isoformat(),
                        "moved_out_municipality_code": c.issuing_municipality_code,
                    },
                }
            )
    if draft.procedure == Procedure.SPECIAL_MOVE_OUT:
        rows.append(
            {
                "kind": "move_out_certificate",
                "payload": {
                    "person_ids": [m.key for m in draft.movers],
                    "planned_on": draft.moved_on.isoformat(),
                },
            }
        )
    for r in rows:
        conn.execute(
            insert(jukinet_messages).values(
                notification_id=draft.notification_id,
                kind=r["kind"],
                payload=dumps(r["payload"]),
                created_at=_now(),
            )
        )
        queued.append(r["kind"])
    return queued


def confirm(
    db: Database,
    notification_id: str,
    *,
    decided_by: str,
    terminal_no: str | None = None,
    relied_versions: dict[str, int] | None = None,
) -> NotificationDecision:
    """The head office confirms, in ONE transaction: the register gets the 届出 (every changed
    household a new version on the feed, the 異動履歴, the state, the decision on the feed, the
    step, the 住基ネット messages), or the 届出 waits in `conflict` (recorded and published; then
    NotificationRefused is raised with the conflicts). `relied_versions`: the reviewer re-read
    the register and confirms against these versions (a conflict resolved by a person)."""
    with db.write() as conn:
        row = _row(conn, notification_id, lock=True)
        if row.state not in OPEN_STATES:
            raise NotificationRefused(f"届出 {notification_id} は審査済みです（{row.state}）。")
        draft = parse_draft(cipher_of(conn).reveal_text(row.draft))
        if relied_versions:
            draft = replace(draft, relied_versions=dict(relied_versions))
        register = read_register(conn, draft, lock=True)
        conflicts = _wire_conflicts(find_conflicts(draft, register)) + _still_waiting(conn, row)
        if conflicts:
            _mark_conflict(conn, row, conflicts)
            decision = None
        else:
            decision = _apply(conn, row, draft, register, decided_by, terminal_no)
    if decision is None:
        raise NotificationRefused(
            "台帳が届出の受付後に変わっているか、先の届出が審査中のため確定できません: "
            + " / ".join(c.message for c in conflicts[:5]),
            conflicts,
        )
    return decision


def _apply(
    conn: Connection,
    row: Any,
    draft: NotificationDraft,
    register: Register,
    decided_by: str,
    terminal_no: str | None,
) -> NotificationDecision:
    notification_id = row.notification_id
    try:
        towns = towns_for(draft.municipality_code)
        new_keys = [m.key for m in draft.movers if m.is_new]
        new_persons = next_ids(conn, "person", PERSON_PREFIX, len(new_keys), persons)
        new_households = next_ids(
            conn,
            "household",
            HOUSEHOLD_PREFIX,
            sum(1 for plan in draft.households if plan.household_id is None),
            households,
        )
        result = confirm_draft(
            draft,
            register,
            new_person_ids=dict(zip(new_keys, new_persons, strict=True)),
            new_household_ids=new_households,
            towns=towns,
        )
    except DomainError as exc:  # ConflictError cannot happen: find_conflicts ran just before
        raise NotificationRefused(
            f"届出 {notification_id} は台帳に反映できません: {exc.message}"
        ) from None
    at = _now()
    seqs = write_households(conn, result.households, result.deleted_household_ids)
    if result.changes:
        conn.execute(insert(change_history), history_rows(result.changes, seqs, at))
    written = sorted({h.household_id for h in result.households})
    conn.execute(
        update(notifications)
        .where(notifications.c.notification_id == notification_id)
        .values(
            state="confirmed",
            decided_at=at,
            decided_by=decided_by,
            household_ids=dumps(written),
            conflicts=dumps([]),
        )
    )
    queued = _jukinet_messages(conn, draft, result)
    _step(
        conn,
        notification_id,
        "confirmed",
        operator_id=decided_by,
        terminal_no=terminal_no,
        detail=dumps(
            {
                "person_ids": dict(result.person_ids),
                "households": written,
                "deleted": list(result.deleted_household_ids),
                "jukinet": queued,
            }
        ),
    )
    return _publish(conn, notification_id)


def _mark_conflict(conn: Connection, row: Any, conflicts: Sequence[NotificationConflict]) -> None:
    text = dumps([c.model_dump(mode="json") for c in conflicts])
    if row.state == "conflict" and row.conflicts == text:
        return  # nothing new to tell
    conn.execute(
        update(notifications)
        .where(notifications.c.notification_id == row.notification_id)
        .values(state="conflict", conflicts=text)
    )
    _step(
        conn,
        row.notification_id,
        "conflict",
        operator_id=None,
        terminal_no=None,
        detail=dumps([c.kind for c in conflicts]),
    )
    _publish(conn, row.notification_id)


def return_notification(
    db: Database,
    notification_id: str,
    reason: str,
    *,
    decided_by: str,
    terminal_no: str | None = None,
) -> NotificationDecision:
    """Back to the filing terminal with the reason (the clerk may prepare a new 届出)."""
    reason = reason.strip()
    if not reason:
        raise NotificationRefused("差し戻す理由を入力してください。")
    with db.write() as conn:
        row = _row(conn, notification_id, lock=True)
        if row.state not in OPEN_STATES:
            raise NotificationRefused(f"届出 {notification_id} は審査済みです（{row.state}）。")
        conn.execute(
            update(notifications)
            .where(notifications.c.notification_id == notification_id)
            .values(state="returned", decided_at=_now(), decided_by=decided_by, reason=reason)
        )
        _step(
            conn,
            notification_id,
            "returned",
            operator_id=decided_by,
            terminal_no=terminal_no,
            detail=None,  # the reason is in the row; steps keep ids and codes
        )
        return _publish(conn, notification_id)


# --- who may review ---------------------------------------------------------------------------


def require_reviewer(db: Database, operator_id: str) -> None:
    """403 unless the session's operator holds the 審査 permission (app.domain.roles)."""
    with db.read() as conn:
        roles = conn.execute(
            select(operators.c.roles).where(operators.c.operator_id == operator_id)
        ).scalar_one_or_none()
    granted = permissions_of((roles or "").split(","))
    if Permission.REVIEW_NOTIFICATION not in granted:
        raise ApiError(
            403,
            "permission_denied",
            "住民異動届の審査の権限がありません（審査の役割が必要です）。",
        )


def change_history_of(db: Database, person_id: str) -> list[dict[str, Any]]:
    """The 異動履歴 of a person (oldest first), for the CLI and the tests."""
    with db.read() as conn:
        rows = conn.execute(
            select(change_history)
            .where(change_history.c.person_id == person_id)
            .order_by(change_history.c.id)
        )
        return [dict(r._mapping) for r in rows]


__all__ = [
    "NotificationRefused",
    "NotificationRejected",
    "NotificationUnknown",
    "change_history_of",
    "confirm",
    "file_event",
    "list_notifications",
    "require_reviewer",
    "return_notification",
    "show",
]
