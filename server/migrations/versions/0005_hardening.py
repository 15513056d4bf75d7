"""Issue 21: forced password change, the sealed 個人番号 and its blind index.

- operators.must_change_password: set by an administrator's reset; every call but the change
  itself is refused until the operator has chosen a new password.
- persons.my_number_mac: HMAC of the 個人番号 under a key derived from the master key (the
  blind index); unique, so two persons can never hold the same number.
- register_keys: one row, a check value of the register key (a wrong master key fails at start,
  not in the middle of a feed page) and whether the numbers already stored were sealed (a
  register imported before this revision is sealed once, at the next start).

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("operators") as batch:
        batch.add_column(
            sa.Column(
                "must_change_password", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )
    with op.batch_alter_table("persons") as batch:
        batch.add_column(sa.Column("my_number_mac", sa.String(length=64), nullable=True))
        batch.create_index("uq_persons_my_number_mac", ["my_number_mac"], unique=True)
    op.create_table(
        "register_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("check_value", sa.String(length=64), nullable=False),
        sa.Column("sealed", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("register_keys")
    with op.batch_alter_table("persons") as batch:
        batch.drop_index("uq_persons_my_number_mac")
        batch.drop_column("my_number_mac")
    with op.batch_alter_table("operators") as batch:
        batch.drop_column("must_change_password")
