"""Repository ports of the identity domain; adapters implement them over PostgreSQL."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

from auth_service.domain.model import PartnerClient, SigningKey, User, UserStatus
from shared.domain.pagination import Page, PageRequest
from shared.domain.principal import Role


@dataclass(frozen=True, slots=True)
class UserFilter:
    role: Role | None = None
    status: UserStatus | None = None
    text: str | None = None


class UserRepository(ABC):
    @abstractmethod
    def add(self, user: User) -> None:
        """Insert; raises EmailAlreadyRegistered when the email is taken."""

    @abstractmethod
    def get(self, user_id: str, for_update: bool = False) -> User | None: ...

    @abstractmethod
    def get_by_email(self, email: str) -> User | None: ...

    @abstractmethod
    def update(self, user: User) -> None: ...

    @abstractmethod
    def list(self, filters: UserFilter, page: PageRequest) -> Page[User]: ...


class PartnerClientRepository(ABC):
    @abstractmethod
    def add(self, client: PartnerClient) -> None: ...

    @abstractmethod
    def get(self, client_id: str, for_update: bool = False) -> PartnerClient | None:
        """The client; ``for_update`` locks it until the transaction ends, so changes made
        from several processes apply one after another."""

    @abstractmethod
    def update(self, client: PartnerClient) -> None: ...

    @abstractmethod
    def list(self, page: PageRequest) -> Page[PartnerClient]: ...


class SigningKeyRepository(ABC):
    @abstractmethod
    def lock(self) -> None:
        """Serialise key changes across processes for the rest of the transaction."""

    @abstractmethod
    def add(self, key: SigningKey) -> None: ...

    @abstractmethod
    def update(self, key: SigningKey) -> None: ...

    @abstractmethod
    def all(self) -> Sequence[SigningKey]: ...
