"""Alembic environment of the ``redeem`` database."""

from redeem_service.adapters.persistence.tables import metadata
from shared.persistence.migrations import run_env

run_env(metadata)
