"""住民異動届 filed at this terminal: the clerk's list, and the head office's decisions.

A filing is ONE transaction (`record_notification`): the row here and its outbox event
("notification_filed"); the service adds the audit entry inside the same transaction. The head
office's decision arrives on the feed (kind "notification", `apply_notification_decision`,
called in the transaction that applies the page): it updates the row of a 届出 filed here and
marks it unseen until the clerk has been shown it; decisions on other terminals' 届出 find no
row and change nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.domain.notifications import NotificationDraft, draft_to_dict, parse_draft
from app.sync.notification_protocol import NotificationDecision
from app.sync.protocol import ChangeItem, Event

from .errors import NotFound
from .outbox import OutboxMixin

# How a 届出 stands as the clerk sees it: delivered or not, and the head office's state.
DELIVERY_UNSENT, DELIVERY_SENT, DELIVERY_REJECTED = "unsent", "sent", "rejected"


@dataclass(frozen=True, slots=True)
class LocalNotification:
    notification_id: str
    procedure: str
    state: str  # pending | conflict | confirmed | returned
    filed_at: datetime
    operator_id: str
    draft: NotificationDraft
    form_digest: str
    move_out_certificate_no: str | None
    decided_at: datetime | None
    decided_by: str | None
    reason: str | None  # why it was returned (or why the server rejected the event)
    seen: bool
    delivery: str  # unsent (still in the outbox) | sent | rejected (the server refused it)

    def __repr__(self) -> str:  # no personal data in logs
        return f"LocalNotification({self.notification_id!r}, {self.state!r})"


_COLUMNS = (
    "n.notification_id, n.procedure, n.state, n.filed_at, n.operator_id, n.draft, n.form_digest,"
    " n.move_out_certificate_no, n.decided_at, n.decided_by, n.reason, n.seen,"
    " o.state, o.reason"
)
_FROM = "notifications n LEFT JOIN outbox o ON o.event_id = n.notification_id"


def _row(r: Any) -> LocalNotification:
    delivery = DELIVERY_SENT
    if r[12] == "pending":
        delivery = DELIVERY_UNSENT
    elif r[12] == "rejected":
        delivery = DELIVERY_REJECTED
    return LocalNotification(
        notification_id=r[0],
        procedure=r[1],
        state=r[2],
        filed_at=datetime.fromisoformat(r[3]),
        operator_id=r[4],
        draft=parse_draft(r[5]),
        form_digest=r[6],
        move_out_certificate_no=r[7],
        decided_at=datetime.fromisoformat(r[8]) if r[8] else None,
        decided_by=r[9],
        reason=r[13] if delivery == DELIVERY_REJECTED else r[10],
        seen=bool(r[11]),
        delivery=delivery,
    )


class NotificationsMixin(OutboxMixin):
    def record_notification(
        self,
        *,
        draft: NotificationDraft,
        form_digest: str,
        filed_at: datetime,
        operator_id: str,
        event: Event,
        move_out_certificate_no: str | None = None,
    ) -> None:
        """The 届出 and its outbox event, in one transaction (joins an outer one)."""
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO notifications(notification_id, procedure, state, filed_at,"
                " operator_id, draft, form_digest, move_out_certificate_no)"
                " VALUES (?, ?, 'pending', ?, ?, ?, ?, ?)",
                (
                    draft.notification_id,
                    draft.procedure.value,
                    filed_at.isoformat(),
                    operator_id,
                    json.dumps(draft_to_dict(draft), ensure_ascii=False),
                    form_digest,
                    move_out_certificate_no,
                ),
            )
            self.outbox_add(event)

    def notifications_filed(self, limit: int = 200) -> list[LocalNotification]:
        """The 届出 of this terminal, newest first."""
        rows = self._query(
            f"SELECT {_COLUMNS} FROM {_FROM} ORDER BY n.filed_at DESC LIMIT ?", (limit,)
        )
        return [_row(r) for r in rows]

    def notification_filed(self, notification_id: str) -> LocalNotification:
        row = self._query_one(
            f"SELECT {_COLUMNS} FROM {_FROM} WHERE n.notification_id = ?", (notification_id,)
        )
        if row is None:
            raise NotFound("その届出はこの端末にありません。")
        return _row(row)

    def unseen_notification_decisions(self) -> list[LocalNotification]:
        """Decisions the head office sent that the clerk has not been shown yet."""
        rows = self._query(
            f"SELECT {_COLUMNS} FROM {_FROM} WHERE n.seen = 0 ORDER BY n.decided_at, n.filed_at"
        )
        return [_row(r) for r in rows]

    def mark_notifications_seen(self, notification_ids: list[str]) -> None:
        with self.transaction() as conn:
            conn.executemany(
                "UPDATE notifications SET seen = 1 WHERE notification_id = ?",
                [(i,) for i in notification_ids],
            )


def apply_notification_decision(conn: Any, item: ChangeItem) -> None:
    """A feed item of kind "notification", inside the transaction that applies its page: the
    row of a 届出 filed here gets the decision (unseen until shown); others have no row."""
    if item.deleted or item.data is None:
        return
    decision = NotificationDecision.model_validate(item.data)
    text = decision.model_dump_json()
    conn.execute(
        "UPDATE notifications SET state = ?, decided_at = ?, decided_by = ?, reason = ?,"
        " decision = ?, seen = 0 WHERE notification_id = ? AND decision IS NOT ?",
        (
            decision.state,
            decision.decided_at.isoformat() if decision.decided_at else None,
            decision.decided_by,
            decision.reason,
            text,
            decision.notification_id,
            text,
        ),
    )
