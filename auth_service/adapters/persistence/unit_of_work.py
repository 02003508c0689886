"""The identity service's unit of work: one PostgreSQL transaction, its repositories, its outbox."""

from __future__ import annotations

from sqlalchemy import Connection

from auth_service.adapters.persistence.repositories import (
    SqlAlchemyPartnerClientRepository,
    SqlAlchemySigningKeyRepository,
    SqlAlchemyUserRepository,
)
from auth_service.application.ports import AuthUnitOfWork
from shared.persistence.database import SqlAlchemyUnitOfWork


class SqlAlchemyAuthUnitOfWork(SqlAlchemyUnitOfWork, AuthUnitOfWork):
    def _bind(self, connection: Connection) -> None:
        self.users = SqlAlchemyUserRepository(connection)
        self.clients = SqlAlchemyPartnerClientRepository(connection)
        self.signing_keys = SqlAlchemySigningKeyRepository(connection)
