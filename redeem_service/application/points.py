"""Points earned and reversed: the rewards service's confirmed awards reach the wallet, in batches,
each source event exactly once."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from redeem_service.application.ports import RedeemUnitOfWork
from redeem_service.domain.exceptions import AwardConflict, BalanceChangedConcurrently
from redeem_service.domain.model import PointsAward, Wallet, WalletTransaction
from shared.domain.clock import Clock

UowFactory = Callable[[], RedeemUnitOfWork]


@dataclass(frozen=True, slots=True)
class AwardResult:
    """What a batch of awards did: log lines written, and awards that changed nothing."""

    earned: int = 0
    reversed: int = 0
    duplicates: int = 0
    zero: int = 0


class PointsService:
    """Credits (or, for reversals, debits) points balances from confirmed awards."""

    def __init__(self, uow: UowFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    def award(self, awards: Sequence[PointsAward]) -> AwardResult:
        """Record a batch of awards in one transaction: one log line per source event not
        recorded before (``reward:<sourceEventId>``), one balance update per player for the sum
        of the new lines. A redelivered or repeated award changes nothing; a reversal may take
        a balance below zero (see :meth:`Wallet.award`)."""
        now = self._clock.now()
        unique: dict[str, PointsAward] = {}
        for award in awards:
            first = unique.setdefault(award.source_event_id, award)
            if _award_of(first) != _award_of(award):
                raise AwardConflict(_conflict(award))
        changing = [a for a in unique.values() if a.changes_balance]
        zero = len(unique) - len(changing)
        repeated = len(awards) - len(unique)
        if not changing:
            return AwardResult(duplicates=repeated, zero=zero)
        players = sorted({a.player_id for a in changing})
        with self._uow() as uow:
            uow.wallets.create_missing(players, now)
            # Locked before the log is read: a concurrent consumer of the same events waits
            # here, then sees what the first one committed.
            wallets = uow.wallets.lock(players)
            recorded = uow.transactions.recorded_awards([a.idempotency_key for a in changing])
            for award in changing:
                if recorded.get(award.idempotency_key, _award_of(award)) != _award_of(award):
                    raise AwardConflict(_conflict(award))
            lines: list[WalletTransaction] = []
            changes: dict[str, int] = defaultdict(int)
            for award in changing:
                if award.idempotency_key in recorded:
                    continue
                line = award.record(wallets[award.player_id], now)
                wallets[award.player_id] = line.wallet_after
                changes[award.player_id] += award.points
                lines.append(line)
            if lines:
                applied = uow.wallets.add_points(changes, now, allow_negative=True)
                expect_balances(applied, wallets, changes)
                if uow.transactions.add_many(lines) != len(lines):
                    raise BalanceChangedConcurrently()
                uow.commit()
        return AwardResult(
            earned=sum(1 for line in lines if line.signed_value > 0),
            reversed=sum(1 for line in lines if line.signed_value < 0),
            duplicates=repeated + len(changing) - len(lines),
            zero=zero,
        )


def _award_of(award: PointsAward) -> tuple[str, int]:
    return award.player_id, award.points


def _conflict(award: PointsAward) -> str:
    return (
        f"Source event {award.source_event_id} was already awarded to another player or with "
        "other points; this award is not a repeat of it."
    )


def expect_balances(
    applied: Mapping[str, Wallet], expected: Mapping[str, Wallet], changes: Mapping[str, int]
) -> None:
    """The balances the database ended with are the ones the log lines were written with."""
    for player_id in changes:
        after = applied.get(player_id)
        if after is None or after.points != expected[player_id].points:
            raise BalanceChangedConcurrently()
