"""Rewards error codes and the one mapping of domain exceptions to HTTP statuses."""

from __future__ import annotations

from rewards_service.domain import exceptions as e
from shared.errors import AppErrorCode
from shared.web.errors import ErrorMap, ErrorSpec


class RewardsErrorCode(AppErrorCode):
    PROMOTION_NOT_FOUND = "REWARDS_PROMOTION_NOT_FOUND"
    INVALID_PROMOTION = "REWARDS_INVALID_PROMOTION"
    PROMOTION_OVERLAP = "REWARDS_PROMOTION_OVERLAP"
    PROMOTION_NOT_ASSIGNABLE = "REWARDS_PROMOTION_NOT_ASSIGNABLE"
    UNKNOWN_PLAYERS = "REWARDS_UNKNOWN_PLAYERS"
    INACTIVE_PLAYERS = "REWARDS_INACTIVE_PLAYERS"
    TOO_MANY_PLAYERS = "REWARDS_TOO_MANY_PLAYERS"
    PROMOTION_ALREADY_CLAIMED = "REWARDS_PROMOTION_ALREADY_CLAIMED"
    PROMOTION_NOT_CLAIMABLE = "REWARDS_PROMOTION_NOT_CLAIMABLE"
    CLAIM_LIMIT_REACHED = "REWARDS_CLAIM_LIMIT_REACHED"
    PROMOTION_NOT_ASSIGNED = "REWARDS_PROMOTION_NOT_ASSIGNED"
    WALLET_UNAVAILABLE = "REWARDS_WALLET_UNAVAILABLE"
    WALLET_REFUSED = "REWARDS_WALLET_REFUSED"
    INVALID_EVENTS = "REWARDS_INVALID_EVENTS"
    TOO_MANY_EVENTS = "REWARDS_TOO_MANY_EVENTS"
    PARTNER_MISMATCH = "REWARDS_PARTNER_MISMATCH"
    EVENT_SOURCE_NOT_ALLOWED = "REWARDS_EVENT_SOURCE_NOT_ALLOWED"
    BROKER_UNAVAILABLE = "REWARDS_BROKER_UNAVAILABLE"
    INVALID_EARNING_RULE = "REWARDS_INVALID_EARNING_RULE"
    EARNING_RULE_SCHEDULE_CONFLICT = "REWARDS_EARNING_RULE_SCHEDULE_CONFLICT"
    EARNING_RULE_NOT_FOUND = "REWARDS_EARNING_RULE_NOT_FOUND"
    EARNING_RULE_IN_EFFECT = "REWARDS_EARNING_RULE_IN_EFFECT"
    PLAYER_NOT_FOUND = "REWARDS_PLAYER_NOT_FOUND"
    INVALID_PERIOD = "REWARDS_INVALID_PERIOD"


ERRORS: ErrorMap = {
    e.PromotionNotFound: ErrorSpec(404, RewardsErrorCode.PROMOTION_NOT_FOUND),
    e.InvalidPromotion: ErrorSpec(422, RewardsErrorCode.INVALID_PROMOTION),
    e.OverlappingPromotion: ErrorSpec(409, RewardsErrorCode.PROMOTION_OVERLAP),
    e.PromotionNotAssignable: ErrorSpec(409, RewardsErrorCode.PROMOTION_NOT_ASSIGNABLE),
    e.UnknownPlayers: ErrorSpec(422, RewardsErrorCode.UNKNOWN_PLAYERS),
    e.InactivePlayers: ErrorSpec(422, RewardsErrorCode.INACTIVE_PLAYERS),
    e.TooManyPlayers: ErrorSpec(422, RewardsErrorCode.TOO_MANY_PLAYERS),
    e.PromotionAlreadyClaimed: ErrorSpec(409, RewardsErrorCode.PROMOTION_ALREADY_CLAIMED),
    e.PromotionNotClaimable: ErrorSpec(409, RewardsErrorCode.PROMOTION_NOT_CLAIMABLE),
    e.PromotionClaimLimitReached: ErrorSpec(409, RewardsErrorCode.CLAIM_LIMIT_REACHED),
    e.PromotionNotAssigned: ErrorSpec(404, RewardsErrorCode.PROMOTION_NOT_ASSIGNED),
    e.WalletUnavailable: ErrorSpec(503, RewardsErrorCode.WALLET_UNAVAILABLE),
    e.WalletRefused: ErrorSpec(409, RewardsErrorCode.WALLET_REFUSED),
    e.InvalidPartnerEvents: ErrorSpec(422, RewardsErrorCode.INVALID_EVENTS),
    e.TooManyPartnerEvents: ErrorSpec(422, RewardsErrorCode.TOO_MANY_EVENTS),
    e.PartnerMismatch: ErrorSpec(403, RewardsErrorCode.PARTNER_MISMATCH),
    e.EventSourceNotAllowed: ErrorSpec(403, RewardsErrorCode.EVENT_SOURCE_NOT_ALLOWED),
    e.EventBrokerUnavailable: ErrorSpec(503, RewardsErrorCode.BROKER_UNAVAILABLE),
    e.InvalidEarningRule: ErrorSpec(422, RewardsErrorCode.INVALID_EARNING_RULE),
    e.EarningRuleScheduleConflict: ErrorSpec(409, RewardsErrorCode.EARNING_RULE_SCHEDULE_CONFLICT),
    e.EarningRuleNotFound: ErrorSpec(404, RewardsErrorCode.EARNING_RULE_NOT_FOUND),
    e.EarningRuleInEffect: ErrorSpec(409, RewardsErrorCode.EARNING_RULE_IN_EFFECT),
    e.PlayerNotFound: ErrorSpec(404, RewardsErrorCode.PLAYER_NOT_FOUND),
    e.InvalidPointsWindow: ErrorSpec(422, RewardsErrorCode.INVALID_PERIOD),
}
