"""The published signing keys say what they are for with ``use`` only: PyJWT added
``key_ops`` beside it, which RFC 7517 §4.3 says should not be used together.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        "UPDATE signing_keys SET public_jwk = public_jwk - 'key_ops' WHERE public_jwk ? 'key_ops'"
    )


def downgrade() -> None:
    # Nothing to restore: key_ops repeated what use says, and no reader needs it.
    pass
