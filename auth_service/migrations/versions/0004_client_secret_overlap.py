"""A planned secret rotation may leave the previous secret working for a while, so the client's
deployments can switch without an outage: its hash and until when it is accepted.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "partner_clients", sa.Column("previous_secret_hash", sa.String(255), nullable=True)
    )
    op.add_column(
        "partner_clients",
        sa.Column("previous_secret_expires_at", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_column("partner_clients", "previous_secret_expires_at")
    op.drop_column("partner_clients", "previous_secret_hash")
