"""Redemptions over REST: players (and partners with ``rewards.redeem``) ask to spend points; the
worker decides; the player, the requesting partner and staff read the outcome."""

from __future__ import annotations

import uuid
from typing import Any

from dependency_injector.wiring import Provide, inject
from flask.views import MethodView
from marshmallow import RAISE

from redeem_service.application.commands import RequestRedemption
from redeem_service.application.redemptions import RedemptionService
from redeem_service.container import Container
from redeem_service.controllers.errors import required_idempotency_key
from redeem_service.controllers.metrics import REDEMPTIONS_REQUESTED
from redeem_service.controllers.schemas import (
    IdempotencyHeaderSchema,
    RedemptionAcceptedSchema,
    RedemptionCreateSchema,
    RedemptionPageSchema,
    RedemptionQuerySchema,
    RedemptionSchema,
)
from redeem_service.domain.redemption import RedemptionStatus
from shared.domain.principal import Role, Scope
from shared.security.resource_server import authenticated, current_principal
from shared.web.blueprint import Blueprint
from shared.web.pagination import page_request
from shared.web.schemas import BEARER_AUTH, errors

blp = Blueprint(
    "redemptions",
    __name__,
    url_prefix="/api/v1/redemptions",
    description="Spend points on rewards: requested here, decided asynchronously",
)
_READERS = [Role.PLAYER, Role.STAFF, Role.ADMIN]
_PARTNER_SCOPES = [Scope.REWARDS_REDEEM, Scope.REWARDS_READ]


@blp.route("")
class Redemptions(MethodView):
    @authenticated(roles=[Role.PLAYER], scopes=[Scope.REWARDS_REDEEM])
    @blp.arguments(IdempotencyHeaderSchema, location="headers")
    @blp.arguments(RedemptionCreateSchema)
    @blp.response(202, RedemptionAcceptedSchema)
    @blp.doc(security=BEARER_AUTH)
    @errors(blp, 400, 401, 403, 413, 422)
    @inject
    def post(
        self,
        headers: dict[str, Any],
        body: dict[str, Any],
        service: RedemptionService = Provide[Container.redemption_service],
    ) -> Any:
        """Ask to spend points on a reward.

        A player redeems for themself; a partner with `rewards.redeem` names the player.
        Answered 202 PENDING at once; the outcome (CONFIRMED, or REJECTED with a reason)
        follows on `redeem-confirmed`, in the player's notifications and at the `Location`
        returned. `Idempotency-Key` is required: the same key and body return the first
        answer, the same key with another body is refused (422)."""
        key = required_idempotency_key(headers, "redeems")
        receipt = service.request(
            RequestRedemption(
                points=body["points"],
                reward_description=body["reward_description"],
                idempotency_key=key,
                player_id=body.get("player_id"),
                merchant=body.get("merchant"),
            ),
            current_principal(),
        )
        REDEMPTIONS_REQUESTED.labels("replayed" if receipt.replayed else "created").inc()
        redemption_id = receipt.redemption.id
        response_headers = {"Location": f"{blp.url_prefix}/{redemption_id}"}
        if receipt.replayed:
            response_headers["Idempotent-Replayed"] = "true"
        # The first answer, also for a retry: the request was accepted, still to be decided.
        accepted = {"redeem_request_id": redemption_id, "status": RedemptionStatus.PENDING}
        return accepted, response_headers

    @authenticated(roles=_READERS, scopes=_PARTNER_SCOPES)
    @blp.arguments(RedemptionQuerySchema, location="query", unknown=RAISE)
    @blp.response(200, RedemptionPageSchema)
    @blp.doc(security=BEARER_AUTH)
    @errors(blp, 401, 403, 422)
    @inject
    def get(
        self,
        args: dict[str, Any],
        service: RedemptionService = Provide[Container.redemption_service],
    ) -> Any:
        """A player's redemptions, newest first.

        Filter with `status`. Players see their own; staff name any player; partners see the
        ones they requested."""
        page = page_request(args)
        found = service.list(current_principal(), args.get("player_id"), args.get("status"), page)
        return found.to_dict()


@blp.route("/<uuid:redeem_request_id>")
class RedemptionById(MethodView):
    @authenticated(roles=_READERS, scopes=_PARTNER_SCOPES)
    @blp.response(200, RedemptionSchema)
    @blp.doc(security=BEARER_AUTH)
    @errors(blp, 401, 403, 404)
    @inject
    def get(
        self,
        redeem_request_id: uuid.UUID,
        service: RedemptionService = Provide[Container.redemption_service],
    ) -> Any:
        """One redemption and its outcome.

        The player's own, the requesting partner's, or any for staff; someone else's reads as
        404."""
        return service.get(str(redeem_request_id), current_principal())
