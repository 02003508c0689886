"""Earning rules: a scheduled version can be withdrawn before it takes effect. Withdrawals take
their ids from the rules' own sequence, so the highest id of either table (the rules' revision)
grows with every withdrawal as with every version.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "earning_rule_withdrawals",
        sa.Column(
            "id",
            sa.BigInteger,
            primary_key=True,
            server_default=sa.text("nextval('earning_rules_id_seq')"),
        ),
        sa.Column("earning_type", sa.String(32), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("withdrawn_by", sa.String(64), nullable=True),
        sa.UniqueConstraint(
            "earning_type", "version", name="uq_earning_rule_withdrawals_type_version"
        ),
        sa.ForeignKeyConstraint(
            ["earning_type", "version"],
            ["earning_rules.earning_type", "earning_rules.version"],
            name="fk_earning_rule_withdrawals_rule",
        ),
    )


def downgrade() -> None:
    op.drop_table("earning_rule_withdrawals")
