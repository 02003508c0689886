"""The wallet over REST: a player's own wallet, any wallet for staff, adjustments for admins."""

from __future__ import annotations

from typing import Any

from dependency_injector.wiring import Provide, inject
from flask.views import MethodView
from marshmallow import RAISE

from redeem_service.application.commands import AdjustBalance
from redeem_service.application.services import WalletService, WalletStatement
from redeem_service.container import Container
from redeem_service.controllers.errors import required_idempotency_key
from redeem_service.controllers.schemas import (
    AdjustmentCreateSchema,
    AdjustmentSchema,
    IdempotencyHeaderSchema,
    PointsBalanceSchema,
    WalletQuerySchema,
    WalletSchema,
)
from redeem_service.domain.model import Currency, Wallet, WalletTransaction, format_amount
from redeem_service.domain.ports import TransactionFilter
from shared.domain.principal import Role, Scope
from shared.security.resource_server import authenticated, current_principal
from shared.web.blueprint import Blueprint
from shared.web.pagination import page_request
from shared.web.schemas import BEARER_AUTH, errors

blp = Blueprint(
    "wallet", __name__, url_prefix="/api/v1/wallet", description="Balances and transactions"
)
_STAFF = [Role.STAFF, Role.ADMIN]
# Query strings are parsed with RAISE: a misspelt filter is an error, not an unfiltered list.


def balances_body(wallet: Wallet) -> dict[str, Any]:
    return {"bonus": format_amount(Currency.BONUS, wallet.bonus), "points": wallet.points}


def transaction_body(transaction: WalletTransaction) -> dict[str, Any]:
    return {
        "id": transaction.id,
        "amount": str(transaction.amount),
        "currency": transaction.currency,
        "type": transaction.kind,
        "description": transaction.description,
        "additional_data": dict(transaction.additional_data),
        "actor": transaction.actor,
        "source": transaction.source,
        "balance_after": format_amount(transaction.currency, transaction.balance_after),
        "created_at": transaction.created_at,
    }


def statement_body(statement: WalletStatement) -> dict[str, Any]:
    page = statement.transactions
    return {
        "player_id": statement.wallet.player_id,
        "balances": balances_body(statement.wallet),
        "transactions": {
            **page.to_dict(),
            "items": [transaction_body(t) for t in page.items],
        },
    }


def _statement(
    service: WalletService, player_id: str, args: dict[str, Any], known_only: bool = False
) -> dict[str, Any]:
    page = page_request(args)
    filters = TransactionFilter(currency=args.get("currency"), kind=args.get("type"))
    return statement_body(service.statement(player_id, filters, page, known_only=known_only))


@blp.route("/me")
class MyWallet(MethodView):
    @authenticated(roles=[Role.PLAYER])
    @blp.arguments(WalletQuerySchema, location="query", unknown=RAISE)
    @blp.response(200, WalletSchema)
    @blp.doc(security=BEARER_AUTH)
    @errors(blp, 401, 403, 422)
    @inject
    def get(
        self, args: dict[str, Any], service: WalletService = Provide[Container.wallet_service]
    ) -> Any:
        """The logged-in player's balances and transactions (newest first; filter by currency
        and type)."""
        return _statement(service, current_principal().subject, args)


@blp.route("/players/<string:player_id>")
class PlayerWallet(MethodView):
    @authenticated(roles=_STAFF)
    @blp.arguments(WalletQuerySchema, location="query", unknown=RAISE)
    @blp.response(200, WalletSchema)
    @blp.doc(security=BEARER_AUTH)
    @errors(blp, 401, 403, 404, 422)
    @inject
    def get(
        self,
        args: dict[str, Any],
        player_id: str,
        service: WalletService = Provide[Container.wallet_service],
    ) -> Any:
        """A player's balances and transactions (staff).

        404 `REDEEM_PLAYER_NOT_FOUND` for an id that is no registered player's and has no
        wallet (a player registered a moment ago is known within seconds)."""
        return _statement(service, player_id, args, known_only=True)


@blp.route("/players/<string:player_id>/balance")
class PlayerPointsBalance(MethodView):
    @authenticated(roles=_STAFF, scopes=[Scope.REWARDS_READ, Scope.REWARDS_REDEEM])
    @blp.response(200, PointsBalanceSchema)
    @blp.doc(security=BEARER_AUTH)
    @errors(blp, 401, 403, 404, 422)
    @inject
    def get(
        self, player_id: str, service: WalletService = Provide[Container.wallet_service]
    ) -> Any:
        """A player's points balance: what they can redeem now (staff, partners).

        For staff and partner clients with rewards.read or rewards.redeem, e.g. before
        offering a reward. Not the points earned (GET /api/v1/rewards/{playerId}), which
        redemptions do not lower; bonus money and transactions are not shown here.

        404 `REDEEM_PLAYER_NOT_FOUND` for an id that is no registered player's."""
        wallet = service.known_wallet(player_id)
        return {"player_id": wallet.player_id, "points": wallet.points}


@blp.route("/players/<string:player_id>/adjustments")
class Adjustments(MethodView):
    @authenticated(roles=[Role.ADMIN])
    @blp.arguments(IdempotencyHeaderSchema, location="headers")
    @blp.arguments(AdjustmentCreateSchema)
    @blp.response(201, AdjustmentSchema)
    @blp.doc(security=BEARER_AUTH)
    @errors(blp, 400, 401, 403, 404, 409, 422)
    @inject
    def post(
        self,
        headers: dict[str, Any],
        body: dict[str, Any],
        player_id: str,
        service: WalletService = Provide[Container.wallet_service],
    ) -> Any:
        """Credit or debit a balance by hand (admin).

        A reason is required; the adjustment is recorded with the admin as actor and notified
        to the player. `Idempotency-Key` is required (400 `REDEEM_IDEMPOTENCY_KEY_REQUIRED`
        without one): a retry with the same key returns the first result (`replayed`: true),
        never a second adjustment."""
        key = required_idempotency_key(headers, "adjusts")
        result = service.adjust(
            AdjustBalance(
                player_id=player_id,
                currency=body["currency"],
                kind=body["type"],
                amount=body["amount"],
                reason=body["reason"],
                idempotency_key=key,
            ),
            actor=current_principal(),
        )
        return {
            "transaction": transaction_body(result.transaction),
            "balances": balances_body(result.wallet),
            "replayed": result.replayed,
        }
