"""Promotions: staff manage and assign them; players read the ones they hold."""

from __future__ import annotations

from typing import Any

from dependency_injector.wiring import Provide, inject
from flask import jsonify
from flask.views import MethodView
from marshmallow import RAISE

from rewards_service.application.commands import CreatePromotion, RevisePromotion
from rewards_service.application.services import ClaimService, PromotionService
from rewards_service.container import Container
from rewards_service.controllers.schemas import (
    AssignmentResultSchema,
    AssignSchema,
    ClaimResultSchema,
    ClaimSchema,
    PlayerPromotionPageSchema,
    PlayerPromotionQuerySchema,
    PromotionCreateSchema,
    PromotionPageSchema,
    PromotionQuerySchema,
    PromotionSchema,
    PromotionSummarySchema,
    PromotionUpdateSchema,
)
from rewards_service.domain.ports import PlayerPromotionFilter, PromotionFilter
from shared.domain.principal import Role
from shared.security.resource_server import authenticated, current_principal
from shared.web.blueprint import Blueprint
from shared.web.pagination import page_request
from shared.web.schemas import BEARER_AUTH, errors

blp = Blueprint(
    "promotions",
    __name__,
    url_prefix="/api/v1/promotions",
    description="Promotions: managed and assigned by staff, held and read by players",
)
_STAFF = [Role.STAFF, Role.ADMIN]
_USERS = [Role.PLAYER, Role.STAFF, Role.ADMIN]
_FULL_VIEW = PromotionSchema()
_HOLDER_VIEW = PromotionSummarySchema()


@blp.route("")
class Promotions(MethodView):
    @authenticated(roles=_STAFF)
    @blp.arguments(PromotionQuerySchema, location="query", unknown=RAISE)
    @blp.response(200, PromotionPageSchema)
    @blp.doc(security=BEARER_AUTH)
    @errors(blp, 401, 403, 422)
    @inject
    def get(
        self,
        args: dict[str, Any],
        service: PromotionService = Provide[Container.promotion_service],
    ) -> Any:
        """List promotions (filter by type, active flag, date window, text; newest first)."""
        page = page_request(args)
        filters = PromotionFilter(
            type=args.get("type"),
            active=args.get("active"),
            window_from=args.get("window_from"),
            window_to=args.get("window_to"),
            text=args.get("q"),
        )
        return service.list(filters, page).to_dict()

    @authenticated(roles=_STAFF)
    @blp.arguments(PromotionCreateSchema)
    @blp.response(201, PromotionSchema)
    @blp.doc(security=BEARER_AUTH)
    @errors(blp, 401, 403, 409, 413, 422)
    @inject
    def post(
        self,
        body: dict[str, Any],
        service: PromotionService = Provide[Container.promotion_service],
    ) -> Any:
        """Create a promotion.

        Only one active WELCOME_BONUS may cover any moment: an overlapping one is refused with
        409 REWARDS_PROMOTION_OVERLAP (enforced by the database).
        """
        return service.create(CreatePromotion(**body), current_principal())


@blp.route("/<uuid:promotion_id>")
class PromotionById(MethodView):
    @authenticated(roles=_USERS)
    @blp.response(
        200,
        {"oneOf": [PromotionSchema, PromotionSummarySchema]},
        description="Staff: the promotion (Promotion). A player: the promotion as its holder"
        " sees it (PromotionSummary).",
    )
    @blp.doc(security=BEARER_AUTH)
    @errors(blp, 401, 403, 404)
    @inject
    def get(
        self, promotion_id: Any, service: PromotionService = Provide[Container.promotion_service]
    ) -> Any:
        """One promotion (staff: any; a player: one assigned to them).

        Staff get every field; a player gets the promotion as their list shows it, without
        maxClaims, maxClaimsPerPlayer, claimsCount, createdBy, createdAt and updatedAt.
        """
        viewer = current_principal()
        promotion = service.get(str(promotion_id), viewer)
        # Two shapes, so the view serialises: the decorator's schema only documents them.
        view = _FULL_VIEW if viewer.is_staff else _HOLDER_VIEW
        return jsonify(view.dump(promotion))

    @authenticated(roles=_STAFF)
    @blp.arguments(PromotionUpdateSchema)
    @blp.response(200, PromotionSchema)
    @blp.doc(security=BEARER_AUTH)
    @errors(blp, 401, 403, 404, 409, 422)
    @inject
    def patch(
        self,
        body: dict[str, Any],
        promotion_id: Any,
        service: PromotionService = Provide[Container.promotion_service],
    ) -> Any:
        """Deactivate or reactivate a promotion, or move its window.

        Amount and type cannot change. Unclaimed assignments of a deactivated or ended
        promotion read as EXPIRED; reactivating or moving into an overlap of welcome
        promotions is refused with 409 REWARDS_PROMOTION_OVERLAP.
        """
        return service.revise(str(promotion_id), RevisePromotion(**body))


@blp.route("/claim")
class ClaimPromotion(MethodView):
    @authenticated(roles=[Role.PLAYER])
    @blp.arguments(ClaimSchema)
    @blp.response(200, ClaimResultSchema)
    @blp.doc(security=BEARER_AUTH)
    @errors(blp, 401, 403, 404, 409, 422, 503)
    @inject
    def post(
        self, body: dict[str, Any], service: ClaimService = Provide[Container.claim_service]
    ) -> Any:
        """Claim a promotion you hold: its bonus is credited to your wallet.

        409 REWARDS_PROMOTION_ALREADY_CLAIMED, REWARDS_PROMOTION_NOT_CLAIMABLE (inactive, not
        started, over) or REWARDS_CLAIM_LIMIT_REACHED; 404 REWARDS_PROMOTION_NOT_ASSIGNED when
        you do not hold it; 503 REWARDS_WALLET_UNAVAILABLE when the wallet cannot be reached —
        nothing was claimed and you can try again.
        """
        result = service.claim(current_principal().subject, str(body["promotion_id"]))
        return {
            "player_promotion_id": result.assignment.id,
            "promotion_id": result.promotion.id,
            "status": result.assignment.status,
            "claim_count": result.assignment.claim_count,
            "amount": result.amount,
            "transaction_id": result.credit.transaction_id if result.credit else None,
            "bonus_balance": result.credit.bonus_balance if result.credit else None,
        }


@blp.route("/<uuid:promotion_id>/assign")
class AssignPromotion(MethodView):
    @authenticated(roles=_STAFF)
    @blp.arguments(AssignSchema)
    @blp.response(200, AssignmentResultSchema)
    @blp.doc(security=BEARER_AUTH)
    @errors(blp, 401, 403, 404, 409, 413, 422)
    @inject
    def post(
        self,
        body: dict[str, Any],
        promotion_id: Any,
        service: PromotionService = Provide[Container.promotion_service],
    ) -> Any:
        """Assign a promotion to players.

        Only an active promotion inside its window with claims left (409
        REWARDS_PROMOTION_NOT_ASSIGNABLE otherwise), to at most 500 registered players. Each
        newly assigned player gets a PROMOTION notification; players who hold it already are
        listed in alreadyAssigned.
        Unknown player ids refuse the whole request (422 REWARDS_UNKNOWN_PLAYERS, the ids in
        details.unknownPlayerIds).
        """
        return service.assign(
            str(promotion_id), [str(p) for p in body["player_ids"]], current_principal()
        )


@blp.route("/players/<uuid:player_id>")
class PlayerPromotions(MethodView):
    @authenticated(roles=_USERS)
    @blp.arguments(PlayerPromotionQuerySchema, location="query", unknown=RAISE)
    @blp.response(200, PlayerPromotionPageSchema)
    @blp.doc(security=BEARER_AUTH)
    @errors(blp, 401, 403, 404, 422)
    @inject
    def get(
        self,
        args: dict[str, Any],
        player_id: Any,
        service: PromotionService = Provide[Container.promotion_service],
    ) -> Any:
        """A player's promotions: assigned, claimed, expired.

        A player may read only their own (403 otherwise); staff read anyone's. EXPIRED: not
        claimed and the promotion inactive, ended or out of claims (maxClaims reached);
        claimsRemaining is 0 unless ASSIGNED and started.
        """
        page = page_request(args)
        filters = PlayerPromotionFilter(status=args.get("status"), type=args.get("type"))
        return service.list_for_player(str(player_id), filters, page, current_principal()).to_dict()
