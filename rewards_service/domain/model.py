"""Promotions, the players who can receive them, and the promotions assigned to players."""

from __future__ import annotations

import unicodedata
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from rewards_service.domain.exceptions import (
    InvalidPromotion,
    PromotionAlreadyClaimed,
    PromotionClaimLimitReached,
    PromotionNotAssignable,
    PromotionNotClaimable,
)
from rewards_service.domain.points import EARLIEST, LATEST
from shared.domain.text import first_control

MONEY_QUANTUM = Decimal("0.01")
MAX_AMOUNT = Decimal("1000000.00")
TITLE_MAX_LENGTH = 200
DESCRIPTION_MAX_LENGTH = 2000
MAX_CLAIMS_LIMIT = 10_000_000
MAX_CLAIMS_PER_PLAYER_LIMIT = 100
MAX_PLAYERS_PER_ASSIGNMENT = 500


class PromotionType(StrEnum):
    WELCOME_BONUS = "WELCOME_BONUS"
    DEPOSIT_MATCH = "DEPOSIT_MATCH"
    FREE_SPINS = "FREE_SPINS"
    CASHBACK = "CASHBACK"
    VIP = "VIP"
    BONUS = "BONUS"


#: Types of which only one active promotion may cover any moment. The database enforces it with
#: one exclusion constraint per type, so adding a type here needs a migration as well.
UNIQUE_PROMOTION_TYPES = frozenset({PromotionType.WELCOME_BONUS})


def to_money(value: Decimal) -> Decimal:
    """``value`` with exactly two decimals; refuses what would need rounding or is out of range."""
    try:
        if not value.is_finite() or not Decimal(0) <= value <= MAX_AMOUNT:
            raise InvalidPromotion(f"The amount must be between 0.00 and {MAX_AMOUNT}.")
        quantized = value.quantize(MONEY_QUANTUM)
    except InvalidOperation as exc:
        raise InvalidPromotion("The amount is not a valid number.") from exc
    if quantized != value:
        raise InvalidPromotion("The amount may have at most 2 decimal places.")
    return quantized


#: The control characters a description may hold: its line breaks and tabs.
_DESCRIPTION_LAYOUT = frozenset("\t\n\r")
#: Characters that show nothing by themselves: formatting (zero-width spaces and joiners, the
#: byte order mark, tags), spaces and controls. An emoji sequence joined by U+200D still shows.
_INVISIBLE_CATEGORIES = frozenset({"Cf", "Zs", "Cc"})
#: Letters and symbols drawn as blanks: the Hangul fillers, the Khmer inherent vowels (ignorable
#: by default in Unicode) and the empty Braille pattern, favourites for "blank" names.
_BLANK_GLYPHS = frozenset("\u115f\u1160\u17b4\u17b5\u2800\u3164\uffa0")


def _refuse_controls(text: str, name: str, layout: frozenset[str] = frozenset()) -> None:
    """Refuse control characters (terminal escapes, DEL) and bidi controls in text players see."""
    char = first_control(text, layout)
    if char is not None:
        raise InvalidPromotion(
            f"The {name} may not contain control or bidirectional formatting characters"
            f" (U+{ord(char):04X})."
        )


def _shows_something(text: str) -> bool:
    return any(
        not char.isspace()
        and char not in _BLANK_GLYPHS
        and unicodedata.category(char) not in _INVISIBLE_CATEGORIES
        for char in text
    )


def _utc(moment: datetime, name: str) -> datetime:
    """``moment`` in UTC, as the database gives it back: a promotion reads the same whether just
    created or revised, or read later. Between 2000-01-01 and 2100-01-01, as every date of the
    service: a window past that would keep every later welcome promotion out (ADR 0300)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidPromotion(f"The {name} must carry a time zone.")
    try:
        utc = moment.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00:00+05:00 has no UTC time
        utc = None
    if utc is None or not EARLIEST <= utc <= LATEST:
        raise InvalidPromotion(f"The {name} must be between 2000-01-01 and 2100-01-01 (UTC).")
    return utc


@dataclass(frozen=True, slots=True)
class Promotion:
    """A bonus players can be given. It runs over ``[start_date, end_date)`` while active."""

    id: str
    title: str
    description: str
    type: PromotionType
    amount: Decimal
    is_active: bool
    start_date: datetime
    end_date: datetime
    max_claims: int | None
    max_claims_per_player: int
    claims_count: int
    created_at: datetime
    updated_at: datetime
    created_by: str | None = None

    @classmethod
    def create(
        cls,
        *,
        title: str,
        description: str,
        type: PromotionType,
        amount: Decimal,
        start_date: datetime,
        end_date: datetime,
        now: datetime,
        is_active: bool = True,
        max_claims: int | None = None,
        max_claims_per_player: int = 1,
        created_by: str | None = None,
    ) -> Promotion:
        promotion = cls(
            id=str(uuid.uuid4()),
            title=title.strip(),
            description=description.strip(),
            type=type,
            amount=to_money(amount),
            is_active=is_active,
            start_date=_utc(start_date, "start date"),
            end_date=_utc(end_date, "end date"),
            max_claims=max_claims,
            max_claims_per_player=max_claims_per_player,
            claims_count=0,
            created_at=now,
            updated_at=now,
            created_by=created_by,
        )
        promotion._check_text()
        promotion._check()
        return promotion

    def _check_text(self) -> None:
        # On creation only: title and description never change afterwards, and a stored
        # promotion must stay revisable (deactivated above all) whatever its text.
        _refuse_controls(self.title, "title")
        _refuse_controls(self.description, "description", _DESCRIPTION_LAYOUT)
        if not _shows_something(self.title):
            raise InvalidPromotion("The title must have at least one visible character.")

    def _check(self) -> None:
        if not 1 <= len(self.title) <= TITLE_MAX_LENGTH:
            raise InvalidPromotion(f"The title must be 1 to {TITLE_MAX_LENGTH} characters long.")
        if len(self.description) > DESCRIPTION_MAX_LENGTH:
            raise InvalidPromotion(
                f"The description may be at most {DESCRIPTION_MAX_LENGTH} characters long."
            )
        to_money(self.amount)
        if self.end_date <= self.start_date:
            raise InvalidPromotion("The end date must be after the start date.")
        if self.max_claims is not None and not 1 <= self.max_claims <= MAX_CLAIMS_LIMIT:
            raise InvalidPromotion(f"The maximum number of claims must be 1 to {MAX_CLAIMS_LIMIT}.")
        if not 1 <= self.max_claims_per_player <= MAX_CLAIMS_PER_PLAYER_LIMIT:
            raise InvalidPromotion(
                f"The claims per player must be 1 to {MAX_CLAIMS_PER_PLAYER_LIMIT}."
            )

    @property
    def is_unique_type(self) -> bool:
        return self.type in UNIQUE_PROMOTION_TYPES

    def is_running(self, now: datetime) -> bool:
        """Active and inside its window (assigning and claiming also need claims left)."""
        return self.is_active and self.start_date <= now < self.end_date

    def has_started(self, now: datetime) -> bool:
        return now >= self.start_date

    def has_ended(self, now: datetime) -> bool:
        return now >= self.end_date

    @property
    def claims_used_up(self) -> bool:
        """Its total ``max_claims`` are all made: for good, as neither number ever goes down."""
        return self.max_claims is not None and self.claims_count >= self.max_claims

    def overlaps(self, other: Promotion) -> bool:
        return self.start_date < other.end_date and other.start_date < self.end_date

    def conflicts_with(self, other: Promotion) -> bool:
        """Both active, of the same unique type and overlapping: the database refuses the pair."""
        return (
            self.id != other.id
            and self.is_unique_type
            and self.type is other.type
            and self.is_active
            and other.is_active
            and self.overlaps(other)
        )

    def revise(
        self,
        now: datetime,
        *,
        is_active: bool | None = None,
        start_date: datetime | None = None,
        end_date: datetime | None = None,
    ) -> Promotion:
        """Deactivate, reactivate or move the window. Amount and type stay as players saw them."""
        revised = replace(
            self,
            is_active=self.is_active if is_active is None else is_active,
            start_date=self.start_date if start_date is None else _utc(start_date, "start date"),
            end_date=self.end_date if end_date is None else _utc(end_date, "end date"),
            updated_at=now,
        )
        revised._check()
        return revised

    def _refusal(self, now: datetime) -> str | None:
        if not self.is_active:
            return "The promotion is inactive."
        if not self.has_started(now):
            return "The promotion has not started yet."
        if self.has_ended(now):
            return "The promotion has ended."
        return None

    def assign_to(
        self,
        player_id: str,
        source: AssignmentSource,
        now: datetime,
        assigned_by: str | None = None,
    ) -> PlayerPromotion:
        """A new assignment of this promotion; only a running promotion with claims left can be
        assigned."""
        self.ensure_assignable(now)
        return PlayerPromotion(
            id=str(uuid.uuid4()),
            player_id=player_id,
            promotion_id=self.id,
            source=source,
            status=PlayerPromotionStatus.ASSIGNED,
            claim_count=0,
            assigned_at=now,
            assigned_by=assigned_by,
        )

    def _assignment_refusal(self, now: datetime) -> str | None:
        refusal = self._refusal(now)
        if refusal is None and self.claims_used_up:
            return "The promotion has reached its maximum number of claims."
        return refusal

    def is_assignable(self, now: datetime) -> bool:
        return self._assignment_refusal(now) is None

    def ensure_assignable(self, now: datetime) -> None:
        """Assign only what a claim would accept: active, inside its window and with claims left
        (the caller holds the promotion row, so the count cannot move meanwhile)."""
        refusal = self._assignment_refusal(now)
        if refusal:
            raise PromotionNotAssignable(refusal)

    def record_claim(self, now: datetime) -> Promotion:
        """Count one more claim, within the total limit (the caller holds the row lock)."""
        refusal = self._refusal(now)
        if refusal:
            raise PromotionNotClaimable(refusal)
        if self.claims_used_up:
            raise PromotionClaimLimitReached()
        return replace(self, claims_count=self.claims_count + 1)


class AssignmentSource(StrEnum):
    WELCOME = "WELCOME"
    STAFF = "STAFF"


class PlayerPromotionStatus(StrEnum):
    """ASSIGNED and CLAIMED are stored (an action changes them); EXPIRED is computed, because
    time and the promotion's own state (deactivated, window moved, total claims used up) change
    it (ADR 0301)."""

    ASSIGNED = "ASSIGNED"
    CLAIMED = "CLAIMED"
    EXPIRED = "EXPIRED"


@dataclass(frozen=True, slots=True)
class Player:
    """A registered player, as learnt from PLAYER_REGISTERED (rewards keeps no other profile)."""

    id: str
    registered_at: datetime


@dataclass(frozen=True, slots=True)
class PlayerPromotion:
    """A promotion assigned to one player (at most one per player and promotion)."""

    id: str
    player_id: str
    promotion_id: str
    source: AssignmentSource
    status: PlayerPromotionStatus
    claim_count: int
    assigned_at: datetime
    assigned_by: str | None = None
    last_claimed_at: datetime | None = None

    def status_at(self, promotion: Promotion, now: datetime) -> PlayerPromotionStatus:
        """EXPIRED: not fully claimed and the promotion inactive, ended or with its total claims
        used up (ADR 0301; ``_status_condition`` is the SQL twin). A promotion that has not
        started yet stays ASSIGNED, with no claims remaining until it starts."""
        if self.status is PlayerPromotionStatus.CLAIMED:
            return PlayerPromotionStatus.CLAIMED
        if not promotion.is_active or promotion.has_ended(now) or promotion.claims_used_up:
            return PlayerPromotionStatus.EXPIRED
        return PlayerPromotionStatus.ASSIGNED

    def claims_remaining(self, promotion: Promotion, now: datetime) -> int:
        """How many more times the player may claim, as of ``now``: none unless ASSIGNED and
        started, so the list never offers what a claim now would refuse."""
        status = self.status_at(promotion, now)
        if status is not PlayerPromotionStatus.ASSIGNED or not promotion.has_started(now):
            return 0
        remaining = promotion.max_claims_per_player - self.claim_count
        if promotion.max_claims is not None:
            # The promotion's total is shared by every holder.
            remaining = min(remaining, promotion.max_claims - promotion.claims_count)
        return max(0, remaining)

    def claim(self, promotion: Promotion, now: datetime) -> Claim:
        """Claim once more: not fully claimed, promotion running, within the total limit.

        ``max_claims_per_player`` is how many times one player may claim their assignment
        (1 unless the promotion is repeatable); the assignment is CLAIMED when none are left.
        """
        if promotion.id != self.promotion_id:
            raise ValueError("the promotion does not belong to this assignment")
        if self.status is PlayerPromotionStatus.CLAIMED:
            raise PromotionAlreadyClaimed()
        counted = promotion.record_claim(now)
        number = self.claim_count + 1
        status = (
            PlayerPromotionStatus.CLAIMED
            if number >= promotion.max_claims_per_player
            else PlayerPromotionStatus.ASSIGNED
        )
        assignment = replace(self, claim_count=number, status=status, last_claimed_at=now)
        return Claim(assignment=assignment, promotion=counted, number=number)

    def credited_claim(
        self, promotion: Promotion, number: int, amount: Decimal, credited_at: datetime
    ) -> Claim | None:
        """Claim ``number``, which the wallet credited (``amount`` at ``credited_at``) though
        the claim itself was never recorded (its transaction rolled back after the wallet
        call). The wallet's record is the fact: no rule is checked. None when the claim is
        recorded already."""
        if promotion.id != self.promotion_id:
            raise ValueError("the promotion does not belong to this assignment")
        if number <= self.claim_count:
            return None
        status = (
            PlayerPromotionStatus.CLAIMED
            if number >= promotion.max_claims_per_player
            else PlayerPromotionStatus.ASSIGNED
        )
        assignment = replace(self, claim_count=number, status=status, last_claimed_at=credited_at)
        counted = replace(promotion, claims_count=promotion.claims_count + 1, amount=amount)
        return Claim(assignment=assignment, promotion=counted, number=number)


@dataclass(frozen=True, slots=True)
class Claim:
    """The outcome of one claim: both records to store and what to credit."""

    assignment: PlayerPromotion
    promotion: Promotion
    number: int

    @property
    def amount(self) -> Decimal:
        return self.promotion.amount

    @property
    def idempotency_key(self) -> str:
        """Stable across retries of the same claim, distinct for each repeat of it."""
        return f"{self.assignment.id}:{self.number}"


@dataclass(frozen=True, slots=True)
class AssignedPromotion:
    """An assignment with its promotion, as a player's list shows it."""

    assignment: PlayerPromotion
    promotion: Promotion
