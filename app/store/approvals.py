"""Supervisor approvals as one-time tokens (issue 21): granted when the supervisor approves,
consumed in the issuance's transaction. A token this terminal did not grant, or one already
used, is refused by the service; the row is what makes "one approval, one certificate" hold.
"""

from __future__ import annotations

from app.sync.protocol import ApprovalToken

from .base import CacheBase
from .errors import StoreError


class ApprovalUsed(StoreError):
    def __init__(self) -> None:
        super().__init__(
            "この承認はすでに使われているか、この端末で受けたものではありません。"
            "もう一度監督者の承認を受けてください。"
        )


class ApprovalsMixin(CacheBase):
    def grant_approval(self, token: ApprovalToken, granted_at: str) -> None:
        """Keep a signed token as granted (not yet used)."""
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO approvals(approval_id, approver_id, operator_id, granted_at,"
                " expires_at, token) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    token.approval_id,
                    token.approver_id,
                    token.operator_id,
                    granted_at,
                    token.expires_at,
                    token.model_dump_json(),
                ),
            )

    def granted_approval(self, approval_id: str) -> ApprovalToken | None:
        """The token as granted here and not used yet, or None."""
        row = self._query_one(
            "SELECT token FROM approvals WHERE approval_id = ? AND consumed_at IS NULL",
            (approval_id,),
        )
        return None if row is None else ApprovalToken.model_validate_json(row[0])

    def consume_approval(self, approval_id: str, issuance_no: str, at: str) -> None:
        """Use the approval for this issuance (inside the issuance's transaction); ApprovalUsed
        when it was never granted here or is used already."""
        with self.transaction() as conn:
            cur = conn.execute(
                "UPDATE approvals SET consumed_at = ?, issuance_no = ?"
                " WHERE approval_id = ? AND consumed_at IS NULL",
                (at, issuance_no, approval_id),
            )
            if cur.rowcount != 1:
                raise ApprovalUsed()
