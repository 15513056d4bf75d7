"""Issue 21 (second pass): audit chain heads and findings, used approvals, login events.

- audit_heads: per terminal, the last signed head of its audit chain and the highest one seen
  (a chain must never end lower than a head the server has seen).
- audit_findings: what was found when a head arrived (a chain that ended lower, or was
  rewritten, or a head that was not the terminal's).
- approvals_used: each supervisor approval's id once (one approval, one certificate).
- login_events: failed logins and lockouts as the server saw them (for the audit report).

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_heads",
        sa.Column("terminal_no", sa.String(length=8), primary_key=True),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_hash", sa.String(length=64), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("signature", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("max_seq", sa.BigInteger(), nullable=False),
        sa.Column("max_hash", sa.String(length=64), nullable=False),
    )
    op.create_table(
        "audit_findings",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("terminal_no", sa.String(length=8), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("found_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_audit_findings_terminal_no", "audit_findings", ["terminal_no"])
    op.create_index("ix_audit_findings_found_at", "audit_findings", ["found_at"])
    op.create_table(
        "approvals_used",
        sa.Column("approval_id", sa.String(length=36), primary_key=True),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("terminal_no", sa.String(length=8), nullable=False),
        sa.Column("approver_id", sa.String(length=64), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "login_events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("operator_id", sa.String(length=64), nullable=False),
        sa.Column("terminal_no", sa.String(length=8), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
    )
    op.create_index("ix_login_events_at", "login_events", ["at"])


def downgrade() -> None:
    op.drop_index("ix_login_events_at", "login_events")
    op.drop_table("login_events")
    op.drop_table("approvals_used")
    op.drop_index("ix_audit_findings_found_at", "audit_findings")
    op.drop_index("ix_audit_findings_terminal_no", "audit_findings")
    op.drop_table("audit_findings")
    op.drop_table("audit_heads")
