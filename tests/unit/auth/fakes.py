"""In-memory fakes of the identity service's ports (they subclass the same ABCs)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from auth_service.application.ports import (
    AccessTokenIssuer,
    AuthUnitOfWork,
    IssuedToken,
    LoginThrottle,
    PasswordHasher,
    RefreshGrant,
    RefreshTokenStore,
    SecretHasher,
)
from auth_service.domain.exceptions import (
    EmailAlreadyRegistered,
    InvalidRefreshToken,
    RefreshTokenReused,
    TooManyAttempts,
)
from auth_service.domain.model import PartnerClient, SigningKey, User
from auth_service.domain.ports import (
    PartnerClientRepository,
    SigningKeyRepository,
    UserFilter,
    UserRepository,
)
from shared.application.events import IntegrationEvent, Topic
from shared.application.unit_of_work import Outbox, ProcessedEvents
from shared.domain.pagination import Page, PageRequest
from tests.support.tokens import RevocationsInMemory


class FakeUsers(UserRepository):
    def __init__(self) -> None:
        self.rows: dict[str, User] = {}

    def add(self, user: User) -> None:
        if any(u.email == user.email for u in self.rows.values()):
            raise EmailAlreadyRegistered()
        self.rows[user.id] = user

    def get(self, user_id: str, for_update: bool = False) -> User | None:
        return self.rows.get(user_id)

    def get_by_email(self, email: str) -> User | None:
        return next((u for u in self.rows.values() if u.email == email), None)

    def update(self, user: User) -> None:
        self.rows[user.id] = user

    def list(self, filters: UserFilter, page: PageRequest) -> Page[User]:
        items = [u for u in self.rows.values() if filters.role in (None, u.role)]
        return Page(items[page.offset : page.offset + page.page_size], len(items), page)


class FakeClients(PartnerClientRepository):
    def __init__(self) -> None:
        self.rows: dict[str, PartnerClient] = {}

    def add(self, client: PartnerClient) -> None:
        self.rows[client.client_id] = client

    def get(self, client_id: str, for_update: bool = False) -> PartnerClient | None:
        return self.rows.get(client_id)

    def update(self, client: PartnerClient) -> None:
        self.rows[client.client_id] = client

    def list(self, page: PageRequest) -> Page[PartnerClient]:
        return Page(list(self.rows.values()), len(self.rows), page)


class FakeKeys(SigningKeyRepository):
    def __init__(self) -> None:
        self.rows: dict[str, SigningKey] = {}

    def lock(self) -> None:
        pass

    def add(self, key: SigningKey) -> None:
        self.rows[key.kid] = key

    def update(self, key: SigningKey) -> None:
        self.rows[key.kid] = key

    def all(self) -> Sequence[SigningKey]:
        return list(self.rows.values())


class FakeOutbox(Outbox):
    def __init__(self) -> None:
        self.events: list[tuple[Topic, IntegrationEvent]] = []

    def add(self, topic: Topic, event: IntegrationEvent, key: str | None = None) -> None:
        self.events.append((topic, event))

    def add_message(
        self, topic: str, key: str, message: Mapping[str, Any], headers: Mapping[str, str]
    ) -> None:
        raise AssertionError("auth publishes only its own events")


class FakeProcessed(ProcessedEvents):
    def add_new(self, consumer: str, event_ids: list[str]) -> set[str]:
        return set(event_ids)


class FakeUnitOfWork(AuthUnitOfWork):
    """Shared state across units of work; commit publishes the staged outbox events."""

    def __init__(self) -> None:
        self.users = FakeUsers()
        self.clients = FakeClients()
        self.signing_keys = FakeKeys()
        self.outbox: FakeOutbox = FakeOutbox()
        self.processed_events = FakeProcessed()
        self.committed: list[tuple[Topic, IntegrationEvent]] = []
        self.commits = 0

    def __call__(self) -> FakeUnitOfWork:
        self.outbox = FakeOutbox()
        return self

    def commit(self) -> None:
        self.commits += 1
        self.committed.extend(self.outbox.events)
        self.outbox.events = []

    def rollback(self) -> None:
        self.outbox.events = []


class PlainSecrets(SecretHasher):
    def hash(self, secret: str) -> str:
        return "plain$" + secret

    def verify(self, secret_hash: str, secret: str) -> bool:
        return secret_hash == "plain$" + secret


class PlainHasher(PasswordHasher):
    def hash(self, password: str) -> str:
        return "plain$" + password

    def verify(self, password_hash: str, password: str) -> bool:
        return password_hash == "plain$" + password

    def needs_rehash(self, password_hash: str) -> bool:
        return False

    def burn(self, password: str) -> None:
        pass


class FakeTokens(AccessTokenIssuer):
    def __init__(self) -> None:
        self.issued: list[tuple[str, Mapping[str, Any]]] = []
        self.not_before: list[int | None] = []

    def issue(
        self,
        subject: str,
        claims: Mapping[str, Any],
        lifetime_seconds: int,
        not_before: int | None = None,
    ) -> IssuedToken:
        self.issued.append((subject, claims))
        self.not_before.append(not_before)
        return IssuedToken(
            token=f"token-for-{subject}", token_id=uuid.uuid4().hex, expires_in=lifetime_seconds
        )

    def decode(self, token: str) -> Mapping[str, Any] | None:
        return None

    def invalidate_keys(self) -> None:
        pass

    def published(self) -> Sequence[SigningKey]:
        return []


class FakeRefreshTokens(RefreshTokenStore):
    def __init__(self) -> None:
        self.tokens: dict[str, dict[str, Any]] = {}
        self.live_families: set[str] = set()
        self.revoked_users: list[str] = []

    def issue(self, user_id: str, family_id: str | None = None) -> str:
        token = uuid.uuid4().hex
        family = family_id or uuid.uuid4().hex
        self.tokens[token] = {"user": user_id, "family": family, "used": False}
        if family_id is None:
            self.live_families.add(family)
        return token

    def holder(self, token: str) -> str | None:
        entry = self.tokens.get(token)
        return None if entry is None else str(entry["user"])

    def consume(self, token: str) -> RefreshGrant:
        entry = self.tokens.get(token)
        if entry is None or entry["family"] not in self.live_families:
            raise InvalidRefreshToken()
        if entry["used"]:
            self.live_families.discard(entry["family"])
            raise RefreshTokenReused()
        entry["used"] = True
        return RefreshGrant(entry["user"], entry["family"])

    def revoke(self, token: str) -> None:
        entry = self.tokens.pop(token, None)
        if entry:
            self.live_families.discard(entry["family"])

    def revoke_user(self, user_id: str) -> None:
        self.revoked_users.append(user_id)


class CountingThrottle(LoginThrottle):
    def __init__(self, limit: int = 3) -> None:
        self.failures: dict[str, int] = {}
        self.limit = limit

    def check(self, email: str, address: str | None) -> None:
        if self.failures.get(email, 0) >= self.limit:
            raise TooManyAttempts(60)
        self.failures[email] = self.failures.get(email, 0) + 1

    def record_failure(self, email: str, address: str | None) -> None:
        pass  # counted by check()

    def record_unknown(self, email: str, address: str | None) -> None:
        pass  # counted by check(), per email only

    def record_success(self, email: str, address: str | None) -> None:
        self.failures.pop(email, None)

    def unlock(self, email: str) -> None:
        self.failures.pop(email, None)


class FakeInactiveUsers(RevocationsInMemory):
    def __init__(self) -> None:
        super().__init__()
        self.inactive: set[str] = set()

    def is_inactive(self, user_id: str) -> bool:
        return user_id in self.inactive

    def mark(self, user_id: str, inactive: bool, as_of: datetime | None = None) -> bool:
        (self.inactive.add if inactive else self.inactive.discard)(user_id)
        return True


def deactivated(user: User) -> User:
    from auth_service.domain.model import UserStatus

    return replace(user, status=UserStatus.INACTIVE)
