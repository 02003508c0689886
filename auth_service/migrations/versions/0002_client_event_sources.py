"""Partner clients name the kinds of events they send (HOTEL, CASINO, DINING). Clients that could
already send events (rewards.write) keep every kind until an administrator narrows them.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "partner_clients",
        sa.Column(
            "event_sources",
            postgresql.ARRAY(sa.String(16)),
            nullable=False,
            server_default="{}",
        ),
    )
    op.execute(
        "UPDATE partner_clients SET event_sources = '{CASINO,DINING,HOTEL}' "
        "WHERE 'rewards.write' = ANY(scopes)"
    )
    op.create_check_constraint(
        "ck_partner_clients_event_sources",
        "partner_clients",
        "event_sources <@ ARRAY['HOTEL', 'CASINO', 'DINING']::varchar[]",
    )


def downgrade() -> None:
    op.drop_constraint("ck_partner_clients_event_sources", "partner_clients")
    op.drop_column("partner_clients", "event_sources")
