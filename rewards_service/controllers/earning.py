"""Earning over REST: partners submit events, staff manage the earning rules, and players,
staff and partners read a player's points."""

from __future__ import annotations

from typing import Any

from dependency_injector.wiring import Provide, inject
from flask.views import MethodView
from marshmallow import RAISE

from rewards_service.application.commands import ScheduleEarningRule
from rewards_service.application.earning import (
    EarningRuleService,
    PartnerEventIngestion,
    PointsService,
)
from rewards_service.container import Container
from rewards_service.controllers.earning_schemas import (
    PARTNER_EVENT_SUBMISSION_DOC,
    AcceptedEventsSchema,
    EarningRuleCreateSchema,
    EarningRuleListSchema,
    EarningRuleQuerySchema,
    EarningRuleSchema,
    PartnerEventSubmissionSchema,
    PointsQuerySchema,
    PointsSchema,
)
from rewards_service.domain.earning import EarningParameters, EarningRule, EarningType
from shared.domain.principal import Role, Scope
from shared.observability import context
from shared.security.resource_server import authenticated, current_principal
from shared.web.blueprint import Blueprint
from shared.web.schemas import BEARER_AUTH, errors

blp = Blueprint(
    "rewards",
    __name__,
    url_prefix="/api/v1/rewards",
    description="Earning points: partner events, earning rules, a player's points",
)
_STAFF = [Role.STAFF, Role.ADMIN]
_USERS = [Role.PLAYER, Role.STAFF, Role.ADMIN]

_EVENT_EXAMPLE = {
    "eventId": "0b6f4c6e-6a0e-4d1c-9a43-3f1c3f9b2d11",
    "eventType": "CASINO_SPEND",
    "user_id": "8d7f2a4e-1c3b-4e5f-9a6b-7c8d9e0f1a2b",
    "occurredAt": "2026-01-01T21:30:00Z",
    "reference": "SESSION-4711",
    "amountWagered": "250.00",
}
_SUBMISSION_EXAMPLES = {
    "one": {"summary": "One event on its own", "value": _EVENT_EXAMPLE},
    "several": {"summary": "Up to 500 events", "value": {"events": [_EVENT_EXAMPLE]}},
}


def _rule(rule: EarningRule, status: str) -> dict[str, Any]:
    return {
        "earning_type": rule.earning_type,
        "version": rule.version,
        "effective_from": rule.effective_from,
        "parameters": rule.parameters,
        "status": status,
        "created_at": rule.created_at,
        "created_by": rule.created_by,
        "withdrawn_at": rule.withdrawn_at,
        "withdrawn_by": rule.withdrawn_by,
    }


@blp.route("/events")
class PartnerEventSubmissions(MethodView):
    @authenticated(scopes=[Scope.REWARDS_WRITE])
    @blp.arguments(PartnerEventSubmissionSchema, examples=_SUBMISSION_EXAMPLES)
    @blp.response(202, AcceptedEventsSchema)
    @blp.doc(security=BEARER_AUTH, requestBody=PARTNER_EVENT_SUBMISSION_DOC)
    @errors(blp, 401, 403, 413, 422, 503)
    @inject
    def post(
        self,
        body: dict[str, Any],
        ingestion: PartnerEventIngestion = Provide[Container.partner_event_ingestion],
    ) -> Any:
        """Submit partner events (one, or up to 500 as {"events": [...]}).

        Partner clients with scope rewards.write. Every event is checked against its schema
        (docs/events) first; if any is invalid, none is accepted (422 REWARDS_INVALID_EVENTS,
        the problems by index in details.events). The accepted ones are on `reward-events`
        (key = player id, acknowledged by the broker) when this answers 202; points are
        awarded asynchronously and confirmed on `reward-confirmed`. A resent event with the
        same eventId is recorded once; without one, the eventId is derived from partner,
        eventType, user_id and reference (for a reversal without one, originalEventId), so
        keep a reference per stay, check or wager. A resend that changes an event whose first
        submission is still on its way is accepted here but dead-lettered (event_id_conflict)
        by the consumer: correct a sent event with a reversal and a new event, not a resend.
        eventIds come back in lower case, as they are recorded.
        partnerId is your client id (403 REWARDS_PARTNER_MISMATCH otherwise), and each
        event is of a kind your client is registered for, e.g. stays for a hotel system
        (403 REWARDS_EVENT_SOURCE_NOT_ALLOWED otherwise, the refused types by index in
        details.events; none accepted); occurredAt defaults to now.
        503 REWARDS_BROKER_UNAVAILABLE: nothing is guaranteed accepted; resend with the
        same eventIds.
        """
        accepted = ingestion.submit(
            body["events"], current_principal(), context.current_correlation_id()
        )
        return {
            "accepted": accepted.event_ids,
            "unregistered_players": accepted.unregistered_players,
        }


@blp.route("/rules")
class EarningRules(MethodView):
    @authenticated(roles=_STAFF)
    @blp.arguments(EarningRuleQuerySchema, location="query", unknown=RAISE)
    @blp.response(200, EarningRuleListSchema)
    @blp.doc(security=BEARER_AUTH)
    @errors(blp, 401, 403, 422)
    @inject
    def get(
        self,
        args: dict[str, Any],
        service: EarningRuleService = Provide[Container.earning_rule_service],
    ) -> Any:
        """The earning rules: every version of each type, newest first, with its status."""
        views = service.list(args.get("earning_type"))
        return {"items": [_rule(v.rule, v.status.value) for v in views]}

    @authenticated(roles=_STAFF)
    @blp.arguments(EarningRuleCreateSchema)
    @blp.response(201, EarningRuleSchema)
    @blp.doc(security=BEARER_AUTH)
    @errors(blp, 401, 403, 409, 422)
    @inject
    def post(
        self,
        body: dict[str, Any],
        service: EarningRuleService = Provide[Container.earning_rule_service],
    ) -> Any:
        """Schedule a new version of an earning rule.

        points = pointsPerEvent + pointsPerNight * nights + pointsPerUnit * floor(amount /
        unitAmount). effectiveFrom must be at least the lead (300 s by default) ahead, so points
        already awarded never change (422 REWARDS_INVALID_EARNING_RULE), and not before the
        latest version's (409 REWARDS_EARNING_RULE_SCHEDULE_CONFLICT; withdraw that one first
        if it was a mistake).
        """
        command = ScheduleEarningRule(
            earning_type=body["earning_type"],
            effective_from=body["effective_from"],
            parameters=EarningParameters(**body["parameters"]),
        )
        rule = service.schedule(command, current_principal())
        return _rule(rule, "SCHEDULED")


_RULE_TYPES = ", ".join(t.value for t in EarningType)


@blp.route(f"/rules/<any({_RULE_TYPES}):rule_type>/<int:version>/withdraw")
class EarningRuleWithdrawal(MethodView):
    @authenticated(roles=_STAFF)
    @blp.response(200, EarningRuleSchema)
    @blp.doc(security=BEARER_AUTH)
    @errors(blp, 401, 403, 404, 409)
    @inject
    def post(
        self,
        rule_type: str,
        version: int,
        service: EarningRuleService = Provide[Container.earning_rule_service],
    ) -> Any:
        """Withdraw a scheduled version before it takes effect.

        Only a version starting more than the lead (300 s by default) from now, so no event was
        priced under it (409 REWARDS_EARNING_RULE_IN_EFFECT otherwise; 404
        REWARDS_EARNING_RULE_NOT_FOUND for an unknown version). It stays listed as WITHDRAWN
        and never prices anything; the version before it applies again. Withdrawing it again
        returns it unchanged.
        """
        rule = service.withdraw(EarningType(rule_type), version, current_principal())
        return _rule(rule, "WITHDRAWN")


@blp.route("/<uuid:player_id>")
class PlayerPoints(MethodView):
    @authenticated(roles=_USERS, scopes=[Scope.REWARDS_READ])
    @blp.arguments(PointsQuerySchema, location="query", unknown=RAISE)
    @blp.response(200, PointsSchema)
    @blp.doc(security=BEARER_AUTH)
    @errors(blp, 401, 403, 404, 422)
    @inject
    def get(
        self,
        args: dict[str, Any],
        player_id: Any,
        service: PointsService = Provide[Container.points_service],
    ) -> Any:
        """A player's points over [from, to) (all time without them), optionally by source.

        The player themself, staff, or a partner with rewards.read (403 otherwise). Computed
        from the recorded events and cached for a few seconds; an event recorded for the
        player invalidates the cache at once. calculationTimestamp tells when it was computed.
        """
        summary = service.summary(
            str(player_id), args.get("start"), args.get("end"), current_principal()
        )
        body: dict[str, Any] = {
            "player_id": summary.player_id,
            "total_points": summary.total_points,
            "start": summary.start,
            "end": summary.end,
            "calculation_timestamp": summary.calculated_at,
        }
        if args["breakdown"]:
            body["breakdown"] = {
                source: {"points": total.points, "events": total.events}
                for source, total in summary.breakdown.items()
            }
        return body
