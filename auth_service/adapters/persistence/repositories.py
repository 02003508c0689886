"""SQLAlchemy repositories of users, partner clients and signing keys (rows ↔ domain objects)."""

from __future__ import annotations

import uuid
import zlib
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, func, insert, or_, select, text, update
from sqlalchemy.exc import IntegrityError

from auth_service.adapters.persistence.tables import partner_clients, signing_keys, users
from auth_service.domain.exceptions import ClientAlreadyExists, EmailAlreadyRegistered
from auth_service.domain.model import (
    ClientStatus,
    KeyStatus,
    PartnerClient,
    SigningKey,
    User,
    UserStatus,
)
from auth_service.domain.ports import (
    PartnerClientRepository,
    SigningKeyRepository,
    UserFilter,
    UserRepository,
)
from shared.domain.pagination import Page, PageRequest
from shared.domain.principal import Role


def _user(row: Any) -> User:
    return User(
        id=str(row.id),
        email=row.email,
        password_hash=row.password_hash,
        role=Role(row.role),
        status=UserStatus(row.status),
        first_name=row.first_name,
        last_name=row.last_name,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class SqlAlchemyUserRepository(UserRepository):
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def add(self, user: User) -> None:
        # A savepoint keeps the surrounding transaction usable after a duplicate email.
        try:
            with self._connection.begin_nested():
                self._connection.execute(
                    insert(users).values(
                        id=user.id,
                        email=user.email,
                        password_hash=user.password_hash,
                        role=user.role.value,
                        status=user.status.value,
                        first_name=user.first_name,
                        last_name=user.last_name,
                        created_at=user.created_at,
                        updated_at=user.updated_at,
                    )
                )
        except IntegrityError as exc:
            raise EmailAlreadyRegistered() from exc

    def get(self, user_id: str, for_update: bool = False) -> User | None:
        try:
            user_id = str(uuid.UUID(user_id))
        except ValueError:
            return None  # no user has it (the column would refuse the comparison)
        query = select(users).where(users.c.id == user_id)
        if for_update:
            query = query.with_for_update()
        row = self._connection.execute(query).first()
        return _user(row) if row else None

    def get_by_email(self, email: str) -> User | None:
        row = self._connection.execute(select(users).where(users.c.email == email)).first()
        return _user(row) if row else None

    def update(self, user: User) -> None:
        self._connection.execute(
            update(users)
            .where(users.c.id == user.id)
            .values(
                password_hash=user.password_hash,
                status=user.status.value,
                first_name=user.first_name,
                last_name=user.last_name,
                updated_at=user.updated_at,
            )
        )

    def list(self, filters: UserFilter, page: PageRequest) -> Page[User]:
        conditions = []
        if filters.role is not None:
            conditions.append(users.c.role == filters.role.value)
        if filters.status is not None:
            conditions.append(users.c.status == filters.status.value)
        if filters.text:
            pattern = f"%{_escape_like(filters.text.lower())}%"
            conditions.append(
                or_(
                    users.c.email.like(pattern, escape="\\"),
                    func.lower(users.c.first_name).like(pattern, escape="\\"),
                    func.lower(users.c.last_name).like(pattern, escape="\\"),
                )
            )
        total = self._connection.execute(
            select(func.count()).select_from(users).where(*conditions)
        ).scalar_one()
        rows = self._connection.execute(
            select(users)
            .where(*conditions)
            .order_by(users.c.created_at.desc(), users.c.id)
            .limit(page.page_size)
            .offset(page.offset)
        ).all()
        return Page(items=[_user(r) for r in rows], total=total, request=page)


def _client(row: Any) -> PartnerClient:
    return PartnerClient(
        client_id=row.client_id,
        name=row.name,
        secret_hash=row.secret_hash,
        scopes=frozenset(row.scopes),
        status=ClientStatus(row.status),
        created_at=row.created_at,
        created_by=row.created_by,
        event_sources=frozenset(row.event_sources or ()),
        updated_at=row.updated_at,
        updated_by=row.updated_by,
        disabled_at=row.disabled_at,
        secret_rotated_at=row.secret_rotated_at,
        previous_secret_hash=row.previous_secret_hash,
        previous_secret_expires_at=row.previous_secret_expires_at,
    )


class SqlAlchemyPartnerClientRepository(PartnerClientRepository):
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def add(self, client: PartnerClient) -> None:
        try:
            with self._connection.begin_nested():
                self._connection.execute(
                    insert(partner_clients).values(
                        client_id=client.client_id,
                        name=client.name,
                        secret_hash=client.secret_hash,
                        scopes=sorted(client.scopes),
                        event_sources=sorted(client.event_sources),
                        status=client.status.value,
                        created_by=client.created_by,
                        created_at=client.created_at,
                        updated_at=client.updated_at or client.created_at,
                        updated_by=client.updated_by or client.created_by,
                    )
                )
        except IntegrityError as exc:
            raise ClientAlreadyExists() from exc

    def get(self, client_id: str, for_update: bool = False) -> PartnerClient | None:
        query = select(partner_clients).where(partner_clients.c.client_id == client_id)
        row = self._connection.execute(query.with_for_update() if for_update else query).first()
        return _client(row) if row else None

    def update(self, client: PartnerClient) -> None:
        self._connection.execute(
            update(partner_clients)
            .where(partner_clients.c.client_id == client.client_id)
            .values(
                name=client.name,
                scopes=sorted(client.scopes),
                event_sources=sorted(client.event_sources),
                status=client.status.value,
                secret_hash=client.secret_hash,
                updated_at=client.updated_at,
                updated_by=client.updated_by,
                disabled_at=client.disabled_at,
                secret_rotated_at=client.secret_rotated_at,
                previous_secret_hash=client.previous_secret_hash,
                previous_secret_expires_at=client.previous_secret_expires_at,
            )
        )

    def list(self, page: PageRequest) -> Page[PartnerClient]:
        total = self._connection.execute(
            select(func.count()).select_from(partner_clients)
        ).scalar_one()
        rows = self._connection.execute(
            select(partner_clients)
            .order_by(partner_clients.c.created_at, partner_clients.c.client_id)
            .limit(page.page_size)
            .offset(page.offset)
        ).all()
        return Page(items=[_client(r) for r in rows], total=total, request=page)


def _key(row: Any) -> SigningKey:
    return SigningKey(
        kid=row.kid,
        private_key_pem=bytes(row.private_key_pem),
        public_jwk=dict(row.public_jwk),
        status=KeyStatus(row.status),
        created_at=row.created_at,
        retire_after=row.retire_after,
    )


_KEYS_LOCK = zlib.crc32(b"auth:signing-keys")


class SqlAlchemySigningKeyRepository(SigningKeyRepository):
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def lock(self) -> None:
        self._connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _KEYS_LOCK})

    def add(self, key: SigningKey) -> None:
        self._connection.execute(
            insert(signing_keys).values(
                kid=key.kid,
                private_key_pem=key.private_key_pem,
                public_jwk=key.public_jwk,
                status=key.status.value,
                created_at=key.created_at,
                retire_after=key.retire_after,
            )
        )

    def update(self, key: SigningKey) -> None:
        self._connection.execute(
            update(signing_keys)
            .where(signing_keys.c.kid == key.kid)
            .values(status=key.status.value, retire_after=key.retire_after)
        )

    def all(self) -> Sequence[SigningKey]:
        rows = self._connection.execute(
            select(signing_keys).order_by(signing_keys.c.created_at.desc())
        ).all()
        return [_key(r) for r in rows]
