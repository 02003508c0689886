"""Ports every service may need beyond its unit of work."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection
from datetime import datetime

from shared.application.events import TokenRevocation
from shared.errors import CommonErrorCode


class InactiveUsers(ABC):
    """Accounts whose tokens are refused, as learnt from ``user-status`` events: deactivated
    users and disabled clients (every token), and accounts whose tokens issued before a moment
    were revoked (a password change, a client secret rotation; ADR 0021)."""

    @abstractmethod
    def is_inactive(self, user_id: str) -> bool: ...

    @abstractmethod
    def mark(self, user_id: str, inactive: bool, as_of: datetime | None = None) -> bool:
        """Refuse (or accept again) every token of the account. With ``as_of`` (when the change
        was made, a ``USER_STATUS_CHANGED``'s ``occurredAt``) a change older than the last one
        applied to the account is ignored — a replayed event must not undo a later change;
        without it the change is applied whatever came before (the state read from auth's
        database). Whether it was applied."""

    @abstractmethod
    def tokens_revoked(self, account: str, issued_at: int) -> bool:
        """Whether a token of ``account`` issued at ``issued_at`` (epoch seconds, the token's
        ``iat``) was issued before the account's latest revocation."""

    @abstractmethod
    def announce_change(self, account: str) -> None:
        """Tell every process following these flags that something about ``account`` changed
        (its flags as they are), so that what they keep about it is looked up afresh."""

    @abstractmethod
    def revoke_tokens(self, account: str, issued_before: int, until: int) -> None:
        """Refuse the account's tokens issued before ``issued_before`` (epoch seconds); the
        revocation is forgotten at ``until``, when every such token has expired. A later
        revocation replaces an earlier one, never the other way round."""

    def apply(self, revocation: TokenRevocation) -> None:
        """Refuse what a ``TOKENS_REVOKED`` names (:meth:`revoke_tokens`)."""
        self.revoke_tokens(revocation.account, revocation.issued_before, revocation.until)

    def refusal(self, account: str, issued_at: int | None) -> CommonErrorCode | None:
        """Why a token of ``account`` issued at ``issued_at`` (its ``iat``; None: it has none)
        is refused — the account is inactive, or the token was revoked — or None. The one
        check every way in (REST, sockets, gRPC, introspection) makes."""
        if self.is_inactive(account):
            return CommonErrorCode.ACCOUNT_INACTIVE
        if issued_at is not None and self.tokens_revoked(account, issued_at):
            return CommonErrorCode.TOKEN_REVOKED
        return None

    def inactive_among(self, user_ids: Collection[str]) -> set[str]:
        """Which of ``user_ids`` are inactive (adapters answer in one round trip)."""
        return {user_id for user_id in user_ids if self.is_inactive(user_id)}
