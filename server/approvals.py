"""The supervisor's approval of a certificate_issued event, checked by the server (issue 21).

The terminal sends the one-time token it granted and consumed (`protocol.ApprovalToken`,
docs/sync.md "Approvals"). The server accepts an issuance that names an approver only with a
token that is

- signed with the key of the terminal that sends it (the certificate on file);
- the terminal's and the session operator's (the clerk it was granted to);
- bound to this very issuance: household, persons, items, requester and 請求事由 equal to the
  payload's, the approver the payload names, and the 交付番号 a reprint replaces (a reprint
  without a token is refused);
- valid when the certificate was issued (issued_at ≤ occurred_at < expires_at);
- given by an active operator whose roles hold APPROVE (a supervisor), not the clerk;
- used by no other event (`approvals_used`, one row per approval id).

`refusal(...)` returns the Japanese reason of a refusal, or None; `mark_used` records the use
in the event's transaction.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime

from sqlalchemy import Connection, insert, select

from app.domain.audit_chain import Verifier
from app.domain.roles import Permission, permissions_of
from app.sync.protocol import ApprovalToken, CertificateIssuedPayload, Event
from server.tables import approvals_used, operators


def _signed(token: ApprovalToken, verifier: Verifier | None) -> bool:
    if verifier is None:
        return False
    try:
        signature = base64.b64decode(token.signature_b64, validate=True)
    except (binascii.Error, ValueError):
        return False
    return verifier(token.signed_bytes(), signature)


def _bound(token: ApprovalToken, p: CertificateIssuedPayload) -> bool:
    return (
        token.household_id == p.household_id
        and sorted(token.person_ids) == sorted(p.person_ids)
        and p.items is not None
        and {k: sorted(v) for k, v in token.items.items()}
        == {k: sorted(v) for k, v in p.items.items()}
        and token.requester == p.requester
        and token.purpose == p.purpose
        and token.replaces == p.replaces
    )


def refusal(
    conn: Connection,
    event: Event,
    p: CertificateIssuedPayload,
    terminal_no: str,
    verifier: Verifier | None,
) -> str | None:
    token = p.approval
    named = p.approved_by or event.stale_approved_by
    if token is None:
        if p.replaces is not None:
            return "再交付(印刷し直し)には監督者の承認票が必要です。端末で承認を受けてください。"
        if named:
            return "監督者の承認の記録(承認票)がありません。端末で承認を受け直してください。"
        return None
    if p.approved_by != token.approver_id or event.stale_approved_by not in (
        None,
        token.approver_id,
    ):
        return "交付に記録された承認者が承認票と一致しません。"
    if token.terminal_no != terminal_no or token.operator_id != event.operator_id:
        return "この承認票は別の端末または別の職員のものです。"
    if not _signed(token, verifier):
        return "承認票の署名がこの端末の鍵のものではありません。"
    if not _bound(token, p):
        return "承認票の対象(世帯・対象者・記載事項・請求者・請求事由)がこの交付と一致しません。"
    occurred = event.occurred_at
    if not (
        datetime.fromisoformat(token.issued_at)
        <= occurred
        < datetime.fromisoformat(token.expires_at)
    ):
        return "承認票の有効期間外に交付されています。"
    if token.approver_id == event.operator_id:
        return "操作している職員本人の承認は認められません。"
    row = conn.execute(
        select(operators.c.roles, operators.c.active).where(
            operators.c.operator_id == token.approver_id
        )
    ).first()
    roles = tuple(r for r in (row.roles.split(",") if row is not None else []) if r)
    if row is None or not row.active or Permission.APPROVE not in permissions_of(roles):
        return f"承認者 {token.approver_id} には監督者の承認の権限がありません。"
    used = conn.execute(
        select(approvals_used.c.event_id).where(approvals_used.c.approval_id == token.approval_id)
    ).first()
    if used is not None:
        return "この承認票はすでに別の交付に使われています(1回の承認で交付できるのは1件です)。"
    return None


def mark_used(conn: Connection, event: Event, token: ApprovalToken, terminal_no: str) -> None:
    """In the event's savepoint: a parallel use of the same approval fails on the key."""
    conn.execute(
        insert(approvals_used).values(
            approval_id=token.approval_id,
            event_id=event.event_id,
            terminal_no=terminal_no,
            approver_id=token.approver_id,
            used_at=event.occurred_at,
        )
    )
