"""Supervisor approval: a second credential check in the same dialog, recorded in the chain.

Used for 支援措置 requests and for issuance past `max_staleness` (DESIGN.md §5, §6). The
supervisor types their own id and password at the clerk's terminal; the approval is an audit
entry by the supervisor, with the reason and the clerk's id. The certificate desk
(app.services.issuance) turns it into a one-time token bound to the request (`Approval.token`);
an Approval without a token the terminal granted issues nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from app.auth.errors import ApprovalRefused, InvalidCredentials, ReasonRequired
from app.auth.lockout import LockoutTracker
from app.auth.permissions import Permission, has_permission
from app.auth.session import Session
from app.store.audit import AuditAction
from app.sync.protocol import ApprovalToken, OperatorProfile

MIN_REASON_LENGTH = 2


@dataclass(frozen=True)
class Approval:
    supervisor_id: str
    reason: str
    at: datetime
    operator_id: str = ""
    target_ids: tuple[str, ...] = ()
    # The signed one-time token bound to the request (set by the certificate desk).
    token: ApprovalToken | None = None


def normalise_reason(reason: str | None, what: str = "この操作") -> str:
    text = (reason or "").strip()
    if len(text) < MIN_REASON_LENGTH:
        raise ReasonRequired(what)
    return text


def approve(
    session: Session,
    supervisor_id: str,
    password: str,
    reason: str,
    *,
    verify: Callable[[str, str], OperatorProfile],
    record: Callable[..., Any],
    target_ids: Sequence[str] = (),
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    lockout: LockoutTracker | None = None,
) -> Approval:
    """Check the supervisor's credentials and role; record and return the approval.

    `verify(id, password)` returns the supervisor's profile or raises InvalidCredentials
    (online: the server; offline: the supervisor's key slot on this terminal).
    `record` is `AuditChain.append`.
    """
    text = normalise_reason(reason, "監督者の承認")
    supervisor_id = supervisor_id.strip()
    if not supervisor_id or not password:
        raise InvalidCredentials("監督者の職員IDとパスワードを入力してください。")
    if supervisor_id == session.operator_id:
        raise ApprovalRefused(
            "操作している職員本人は承認できません。別の監督者が承認してください。"
        )
    key = f"approval:{supervisor_id}"
    if lockout is not None and lockout.is_locked(key):
        raise ApprovalRefused("この監督者のパスワードを続けて間違えたため、承認できません。")
    try:
        profile = verify(supervisor_id, password)
    except InvalidCredentials:
        if lockout is not None:
            lockout.record_failure(key)
        record(supervisor_id, AuditAction.LOGIN_FAILED, list(target_ids), reason="監督者承認")
        raise
    if lockout is not None:
        lockout.record_success(key)
    if profile.operator_id != supervisor_id or not profile.active:
        raise ApprovalRefused("この職員IDでは承認できません。")
    if not has_permission(profile.roles, Permission.APPROVE):
        raise ApprovalRefused("この職員には承認の権限がありません(監督者が承認してください)。")
    at = clock()
    record(
        supervisor_id,
        AuditAction.APPROVAL,
        list(target_ids),
        reason=f"{text}(職員ID: {session.operator_id})",
        at=at,
    )
    return Approval(supervisor_id, text, at, session.operator_id, tuple(target_ids))
