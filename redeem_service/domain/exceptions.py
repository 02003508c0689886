"""Facts the wallet refuses with; each maps to one HTTP status, one gRPC status and one code."""

from __future__ import annotations

from shared.domain.exceptions import Conflict, DomainError, InvalidInput, NotFound


class InvalidAmount(InvalidInput):
    default_message = "The amount is not valid."


class InvalidPlayerId(InvalidInput):
    default_message = "The player id is not valid."


class InvalidIdempotencyKey(InvalidInput):
    default_message = "The idempotency key is not valid."


class InvalidTransactionDetails(InvalidInput):
    default_message = "The transaction details are not valid."


class InsufficientBalance(DomainError):
    """A debit larger than the balance: nothing is recorded."""

    default_message = "The balance is too low for this debit."


class BalanceLimitExceeded(DomainError):
    """A credit that would take the balance past what the wallet can hold."""

    default_message = "The credit would exceed the maximum balance."


class IdempotencyKeyReused(Conflict):
    """The key was already used for a transaction with a different content."""

    default_message = (
        "This idempotency key was already used for a different transaction "
        "(its player, amount, currency, type, reason or caller differ)."
    )


class InvalidRedemption(InvalidInput):
    default_message = "The redemption request is not valid."


class PlayerNotFound(NotFound):
    """No registered player has this id (nor a wallet): nothing is adjusted for nobody."""

    default_message = (
        "No player has this id. A player who registered a moment ago is known within seconds."
    )


class TransactionNotFound(NotFound):
    """No transaction of this caller has the idempotency key (another caller's are never shown)."""

    default_message = "No transaction of yours has this idempotency key."


class RedemptionNotFound(NotFound):
    """Also what a caller is told about someone else's redemption: its existence is private."""

    default_message = "The redemption was not found."


class RedemptionKeyReused(IdempotencyKeyReused):
    """The caller's idempotency key was already used for a redemption with another content."""

    default_message = (
        "This idempotency key was already used for a different redemption "
        "(player, points, reward or merchant differ)."
    )


class RedemptionConflict(Conflict):
    """A redeem request id that already names another request (player, points or reward)."""

    default_message = "The redeem request id is already used by a different request."


class AwardConflict(Conflict):
    """A source event id already awarded (or earlier in the batch) to another player or with
    other points: not a repeat, and never dropped unseen."""

    default_message = "The source event was already awarded to another player or other points."


class RedemptionAlreadyDecided(Conflict):
    default_message = "The redemption was already decided."


class BalanceChangedConcurrently(Conflict):
    """A locked balance moved, or a guarded update refused a change the rules allowed: never
    expected; nothing is committed and the work is retried."""

    default_message = "The balance changed while it was being updated. Please retry."
