"""The 審査 role's HTTP side of filed 住民異動届 (GET/POST /v1/notifications…): who may call,
and the answers of server/notifications.py as HTTP errors (404 unknown, 409 refused)."""

from __future__ import annotations

from collections.abc import Callable

from app.domain.errors import DomainError
from app.sync.notification_protocol import (
    ConfirmRequest,
    NotificationDecision,
    NotificationDetail,
    NotificationList,
    ReturnRequest,
)
from server import notifications
from server.db import Database
from server.errors import ApiError


def _answer[T](call: Callable[[], T]) -> T:
    try:
        return call()
    except notifications.NotificationUnknown as exc:
        raise ApiError(404, "notification_unknown", exc.message) from None
    except notifications.NotificationRefused as exc:
        raise ApiError(409, "notification_refused", exc.message) from None
    except DomainError as exc:  # e.g. a 個人番号 the register holds for another person
        raise ApiError(409, "notification_refused", exc.message) from None


def listing(db: Database, operator_id: str, *, decided: bool) -> NotificationList:
    notifications.require_reviewer(db, operator_id)
    states = ("confirmed", "returned") if decided else notifications.OPEN_STATES
    return NotificationList(items=notifications.list_notifications(db, states=states))


def detail(db: Database, operator_id: str, notification_id: str) -> NotificationDetail:
    notifications.require_reviewer(db, operator_id)
    return _answer(lambda: notifications.show(db, notification_id))


def confirm(
    db: Database, operator_id: str, terminal_no: str, notification_id: str, body: ConfirmRequest
) -> NotificationDecision:
    notifications.require_reviewer(db, operator_id)
    return _answer(
        lambda: notifications.confirm(
            db,
            notification_id,
            decided_by=operator_id,
            terminal_no=terminal_no,
            relied_versions=dict(body.relied_versions) or None,
        )
    )


def return_(
    db: Database, operator_id: str, terminal_no: str, notification_id: str, body: ReturnRequest
) -> NotificationDecision:
    notifications.require_reviewer(db, operator_id)
    return _answer(
        lambda: notifications.return_notification(
            db, notification_id, body.reason, decided_by=operator_id, terminal_no=terminal_no
        )
    )
