"""Alembic environment of the ``auth`` database."""

from auth_service.adapters.persistence.tables import metadata
from shared.persistence.migrations import run_env

run_env(metadata)
