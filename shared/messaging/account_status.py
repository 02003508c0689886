"""``user-status`` in the services that only need to refuse tokens (rewards, redeem)."""

from __future__ import annotations

from collections.abc import Sequence

from shared.application.events import TOKENS_REVOKED, TokenRevocation, status_account
from shared.application.ports import InactiveUsers
from shared.messaging.consumer import EventHandler, InboundEvent, Rejected, RejectEvent

USER_STATUS_CHANGED = "USER_STATUS_CHANGED"


def revocation_of(inbound: InboundEvent) -> TokenRevocation:
    """The revocation a ``TOKENS_REVOKED`` announces (``invalid_timestamp`` when unreadable:
    the schema's date-time format is not enforced by every validator)."""
    try:
        return TokenRevocation.of(inbound.event)
    except ValueError as exc:
        raise RejectEvent(
            "invalid_timestamp", f"issuedBefore or expiresAt is not a plausible timestamp: {exc}"
        ) from None


class AccountStatusChanges(EventHandler):
    """USER_STATUS_CHANGED → refuse (or accept again) every token of the account here within
    seconds; TOKENS_REVOKED → refuse its tokens issued before the revocation (ADR 0015, 0021).
    Both are idempotent (a revocation never moves back; a status change older than the last one
    applied is ignored, so a replayed record cannot undo a later change), and one account's
    events share a partition, so they are applied in the order they were made."""

    event_types = frozenset({USER_STATUS_CHANGED, TOKENS_REVOKED})

    def __init__(self, accounts: InactiveUsers) -> None:
        self._accounts = accounts

    def handle(self, events: Sequence[InboundEvent]) -> Sequence[Rejected]:
        rejected: list[Rejected] = []
        for inbound in events:
            event = inbound.event
            if event.event_type != TOKENS_REVOKED:
                inactive = event.data.get("status") == "INACTIVE"
                self._accounts.mark(status_account(event), inactive, as_of=event.occurred_at)
                continue
            try:
                self._accounts.apply(revocation_of(inbound))
            except RejectEvent as refused:
                rejected.append(Rejected(inbound, refused.reason, refused.message))
        return rejected
