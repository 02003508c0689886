"""Alembic environment of the ``rewards`` database."""

from rewards_service.adapters.persistence.tables import metadata
from shared.persistence.migrations import run_env

run_env(metadata)
