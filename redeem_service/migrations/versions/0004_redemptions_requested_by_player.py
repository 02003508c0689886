"""Redemptions asked by the player themself are marked, so that only they pass for a known
player: an event produced to `redeem-events` could name its player as its requester.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-08
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
        "redemptions",
        sa.Column(
            "requested_by_player", sa.Boolean, nullable=False, server_default=sa.text("false")
        ),
    )
    # Until now an API request whose requester was its player was the player's own: the API
    # records a player by their user id and a partner by its client id, and auth refuses client
    # ids that read as user ids. Only pending requests are still decided, so only they are
    # marked: the column is added under an exclusive lock, held while the update runs.
    op.execute(
        "UPDATE redemptions SET requested_by_player = true"
        " WHERE status = 'PENDING' AND channel = 'API' AND requested_by = player_id"
    )


def downgrade() -> None:
    op.drop_column("redemptions", "requested_by_player")
