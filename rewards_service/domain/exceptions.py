"""Facts the rewards domain refuses with; each maps to one HTTP status and error code."""

from __future__ import annotations

from collections.abc import Sequence

from shared.domain.exceptions import (
    Conflict,
    DependencyUnavailable,
    InvalidInput,
    NotFound,
    PermissionDenied,
)


class PromotionNotFound(NotFound):
    default_message = "The promotion was not found."


class InvalidPromotion(InvalidInput):
    default_message = "The promotion is not valid."


class OverlappingPromotion(Conflict):
    """Another active promotion of a unique type (the welcome bonus) covers part of the period."""

    default_message = (
        "Another active promotion of this type overlaps the period; only one may run at a time."
    )


class PromotionNotAssignable(Conflict):
    default_message = "Only an active promotion inside its date window can be assigned."


class InactivePlayers(InvalidInput):
    """Some players' accounts are deactivated (closed, excluded): they are offered nothing."""

    default_message = "Some players' accounts are not active."

    def __init__(self, player_ids: Sequence[str]) -> None:
        super().__init__(f"{len(player_ids)} player(s) have an account that is not active.")
        self.player_ids = list(player_ids)
        self.details = {"inactivePlayerIds": self.player_ids}


class UnknownPlayers(InvalidInput):
    """Some player ids are not registered players (rewards learns players from registrations)."""

    default_message = "Some player ids are not registered players."

    def __init__(self, player_ids: Sequence[str]) -> None:
        super().__init__(f"{len(player_ids)} player id(s) are not registered players.")
        self.player_ids = list(player_ids)
        self.details = {"unknownPlayerIds": self.player_ids}


class TooManyPlayers(InvalidInput):
    default_message = "Too many players in one request."


class PromotionAlreadyClaimed(Conflict):
    default_message = "The promotion has already been claimed."


class PromotionNotClaimable(Conflict):
    """The promotion is inactive, not started yet or over."""

    default_message = "The promotion cannot be claimed now."


class PromotionNotAssigned(NotFound):
    """The player holds no such promotion (a player cannot tell it from one that does not exist)."""

    default_message = "You have no such promotion."


class PromotionClaimLimitReached(Conflict):
    default_message = "The promotion has reached its maximum number of claims."


class WalletUnavailable(DependencyUnavailable):
    """The wallet could not be reached: the claim was not recorded and can be made again."""

    default_message = (
        "Your wallet cannot be reached right now; the promotion was not claimed. Please try again."
    )


class WalletRefused(Conflict):
    """The wallet answered no (a conflicting transaction, a limit): nothing was credited."""

    default_message = "The wallet refused the credit; the promotion was not claimed."


class InvalidPartnerEvent(InvalidInput):
    """A partner event that can never be processed; ``reason`` is the stable dead-letter reason
    (``invalid_player_id``, ``occurred_in_future``, ``unknown_player``, ``reversal_mismatch``…)."""

    default_message = "The partner event is not valid."

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class InvalidPartnerEvents(InvalidInput):
    """Some events of a submission are not valid; none of them was accepted."""

    default_message = "Some events are not valid; none was accepted."

    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__(f"{len(problems)} event(s) are not valid; none was accepted.")
        self.details = {"events": problems}


class TooManyPartnerEvents(InvalidInput):
    default_message = "Too many events in one submission."


class PartnerMismatch(PermissionDenied):
    """A partner may only submit events in its own name (partnerId = its client id)."""

    default_message = "partnerId must be the client id of the calling partner."


class EventSourceNotAllowed(PermissionDenied):
    """A partner sends only the kinds of events its client is registered for (a hotel system
    stays, not wagers): the token's ``event_sources``."""

    default_message = "This client may not send these kinds of events."

    def __init__(self, refused: dict[str, str], allowed: frozenset[str]) -> None:
        kinds = ", ".join(sorted(allowed)) or "none"
        super().__init__(f"This client may send {kinds} events only.")
        self.details = {"events": refused, "allowedSources": sorted(allowed)}


class EventBrokerUnavailable(DependencyUnavailable):
    default_message = (
        "The broker did not confirm the events; some may still be recorded. Send them again"
        " with the same eventIds (details.eventIds): each event is recorded once."
    )

    def __init__(self, event_ids: Sequence[str] = ()) -> None:
        super().__init__()
        self.details = {"eventIds": list(event_ids)}


class InvalidEarningRule(InvalidInput):
    default_message = "The earning rule is not valid."


class EarningRuleScheduleConflict(Conflict):
    default_message = "A new rule version cannot start before the latest one."


class EarningRuleNotFound(NotFound):
    default_message = "The earning rule version was not found."


class EarningRuleInEffect(Conflict):
    """Only a version no event can have been priced under yet may be withdrawn."""

    default_message = "The rule version is in effect (or about to be) and cannot be withdrawn."


class PlayerNotFound(NotFound):
    default_message = "The player was not found."


class InvalidPointsWindow(InvalidInput):
    default_message = "The period is not valid."
