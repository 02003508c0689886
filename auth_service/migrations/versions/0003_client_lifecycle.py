"""Partner clients can be changed, have their secret rotated and be enabled again: when each
last happened, and who did it, is kept. Clients already disabled count as disabled now, so none
is enabled before the tokens it held have expired.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "partner_clients",
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )
    op.add_column("partner_clients", sa.Column("updated_by", sa.String(64), nullable=True))
    op.add_column(
        "partner_clients", sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column(
        "partner_clients",
        sa.Column("secret_rotated_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.execute("UPDATE partner_clients SET updated_at = created_at, updated_by = created_by")
    op.execute("UPDATE partner_clients SET disabled_at = now() WHERE status = 'DISABLED'")


def downgrade() -> None:
    op.drop_column("partner_clients", "secret_rotated_at")
    op.drop_column("partner_clients", "disabled_at")
    op.drop_column("partner_clients", "updated_by")
    op.drop_column("partner_clients", "updated_at")
