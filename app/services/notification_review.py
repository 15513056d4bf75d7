"""The head office's 審査 of filed 住民異動届, from a terminal (the 届出審査 tab, role 審査).

Online only: the 届出 and the register they are compared with live at the server
(/v1/notifications); the decision reaches every terminal through the feed. A mixin on
SessionCore: every call checks REVIEW_NOTIFICATION here (the server checks it again) and leaves
its audit entry (ids only).
"""

from __future__ import annotations

from collections.abc import Callable

from app.auth.permissions import Permission
from app.services.session_core import SessionCore, SessionError
from app.store.audit import AuditAction
from app.sync.errors import ServerRejected, ServerUnreachable
from app.sync.notification_protocol import (
    NotificationDecision,
    NotificationDetail,
    NotificationSummary,
)

OFFLINE = "中央サーバーに接続できません。届出の審査はオンラインでのみ行えます。"


class ReviewDesk(SessionCore):
    """届出審査 (mixin on SessionCore)."""

    def _online[T](self, call: Callable[[], T]) -> T:
        if self.client.session_token is None:
            raise SessionError(
                "中央サーバーのログインがありません(オフラインで開始しました)。"
                "再接続してから審査してください。"
            )
        try:
            return call()
        except ServerUnreachable:
            raise SessionError(OFFLINE) from None
        except ServerRejected as exc:
            raise SessionError(exc.message) from None

    def review_list(self, *, decided: bool = False) -> list[NotificationSummary]:
        """The queue, oldest first (ids, dates, states: names only in the detail)."""
        self._require(Permission.REVIEW_NOTIFICATION)
        return self._online(lambda: self.client.notifications(decided=decided)).items

    def review_detail(self, notification_id: str) -> NotificationDetail:
        """The 届出 beside the register as it is now (audited as a view of those households)."""
        self._require(Permission.REVIEW_NOTIFICATION)
        detail = self._online(lambda: self.client.notification(notification_id))
        households = [str(h.get("household_id")) for h in detail.households]
        self.audit(AuditAction.VIEW_HOUSEHOLD, [notification_id, *households])
        return detail

    def review_confirm(
        self, notification_id: str, relied_versions: dict[str, int] | None = None
    ) -> NotificationDecision:
        """確定: the register gets the 届出 (or the server refuses with the conflicts)."""
        self._require(Permission.REVIEW_NOTIFICATION)
        decision = self._online(
            lambda: self.client.confirm_notification(notification_id, relied_versions)
        )
        self.audit(AuditAction.NOTIFICATION_CONFIRMED, [notification_id, *decision.household_ids])
        return decision

    def review_return(self, notification_id: str, reason: str) -> NotificationDecision:
        """差戻し: back to the filing terminal with the reason."""
        self._require(Permission.REVIEW_NOTIFICATION)
        reason = reason.strip()
        if not reason:
            raise SessionError("差し戻す理由を入力してください。")
        decision = self._online(lambda: self.client.return_notification(notification_id, reason))
        self.audit(AuditAction.NOTIFICATION_RETURNED, [notification_id], reason=reason)
        return decision
