"""certificates: the requester as a person, the 請求事由, the article, the delivery (issue 19).

A certificate_issued event now carries who asked (protocol.RequesterInfo), why (PurposeInfo),
under which article, and whether the copy was handed over at the counter or mailed to the
subject's registered address (mail_to, frozen at issuance). Older rows are counter issuances
with no requester recorded.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("certificates") as batch:
        batch.add_column(sa.Column("requester", sa.Text(), nullable=True))
        batch.add_column(sa.Column("purpose", sa.Text(), nullable=True))
        batch.add_column(sa.Column("rule", sa.String(length=32), nullable=True))
        batch.add_column(
            sa.Column("delivery", sa.String(length=16), nullable=False, server_default="counter")
        )
        batch.add_column(sa.Column("mail_to", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("certificates") as batch:
        for column in ("mail_to", "delivery", "rule", "purpose", "requester"):
            batch.drop_column(column)
