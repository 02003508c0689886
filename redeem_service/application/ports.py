"""Ports the wallet use cases need; adapters implement them over PostgreSQL."""

from __future__ import annotations

from redeem_service.domain.ports import (
    RedemptionRepository,
    TransactionRepository,
    WalletRepository,
)
from shared.application.unit_of_work import UnitOfWork


class RedeemUnitOfWork(UnitOfWork):
    wallets: WalletRepository
    transactions: TransactionRepository
    redemptions: RedemptionRepository
