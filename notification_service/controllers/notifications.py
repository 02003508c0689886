"""REST: a player's notifications — list, unread count, mark one or all read."""

from __future__ import annotations

from typing import Any

from dependency_injector.wiring import Provide, inject
from flask.views import MethodView
from marshmallow import RAISE

from notification_service.application.services import NotificationService
from notification_service.application.views import notification_view
from notification_service.container import Container
from notification_service.controllers.schemas import (
    MarkedReadSchema,
    NoBodySchema,
    NoQuerySchema,
    NotificationListSchema,
    NotificationQuerySchema,
    NotificationSchema,
    UnreadCountSchema,
    UserQuerySchema,
)
from shared.domain.principal import Role
from shared.security.resource_server import authenticated, current_principal
from shared.web.blueprint import Blueprint
from shared.web.pagination import page_request
from shared.web.schemas import BEARER_AUTH, errors

blp = Blueprint(
    "notifications",
    __name__,
    url_prefix="/api/v1/notifications",
    description="A player's notifications (staff may read a player's with ?userId=)",
)
_READERS = [Role.PLAYER, Role.STAFF, Role.ADMIN]


@blp.route("")
class Notifications(MethodView):
    @authenticated(roles=_READERS)
    @blp.arguments(NotificationQuerySchema, location="query", unknown=RAISE)
    @blp.response(200, NotificationListSchema)
    @blp.doc(security=BEARER_AUTH)
    @errors(blp, 401, 403, 422)
    @inject
    def get(
        self,
        args: dict[str, Any],
        service: NotificationService = Provide[Container.notification_service],
    ) -> Any:
        """List notifications, newest first.

        `unread=true` lists unread ones only. To read a long list page by page while
        notifications arrive (or are marked read), pass the previous answer's `nextBefore` as
        `before`: pages taken that way neither repeat nor skip any."""
        before = args.get("before")
        page = page_request(args)
        result = service.list(
            current_principal(), args.get("user_id"), args["unread"], page, before
        )
        items = result.page.items
        return {
            "user_id": result.user_id,
            "notifications": [notification_view(n) for n in items],
            "page": page.page,
            "page_size": page.page_size,
            "total": result.page.total,
            # Null after the last page, also when it happens to be full.
            "next_before": items[-1].id if items and result.page.has_more else None,
        }


@blp.route("/unread-count")
class UnreadCount(MethodView):
    @authenticated(roles=_READERS)
    @blp.arguments(UserQuerySchema, location="query", unknown=RAISE)
    @blp.response(200, UnreadCountSchema)
    @blp.doc(security=BEARER_AUTH)
    @errors(blp, 401, 403, 422)
    @inject
    def get(
        self,
        args: dict[str, Any],
        service: NotificationService = Provide[Container.notification_service],
    ) -> Any:
        """How many notifications are unread."""
        counted = service.unread_count(current_principal(), args.get("user_id"))
        return {"user_id": counted.user_id, "unread_count": counted.count}


@blp.route("/<string:notification_id>/read")
class MarkRead(MethodView):
    @authenticated(roles=_READERS)
    @blp.arguments(NoQuerySchema, location="query", unknown=RAISE)
    @blp.arguments(NoBodySchema, location="json", unknown=RAISE, required=False)
    @blp.response(200, NotificationSchema)
    @blp.doc(security=BEARER_AUTH)
    @errors(blp, 401, 403, 404, 422)
    @inject
    def patch(
        self,
        _query: dict[str, Any],
        _body: dict[str, Any],
        notification_id: str,
        service: NotificationService = Provide[Container.notification_service],
    ) -> Any:
        """Mark one of your notifications read (marking it again changes nothing)."""
        return notification_view(service.mark_read(current_principal(), notification_id[:64]))


@blp.route("/read-all")
class MarkAllRead(MethodView):
    @authenticated(roles=_READERS)
    @blp.arguments(NoQuerySchema, location="query", unknown=RAISE)
    @blp.arguments(NoBodySchema, location="json", unknown=RAISE, required=False)
    @blp.response(200, MarkedReadSchema)
    @blp.doc(security=BEARER_AUTH)
    @errors(blp, 401, 403, 422)
    @inject
    def post(
        self,
        _query: dict[str, Any],
        _body: dict[str, Any],
        service: NotificationService = Provide[Container.notification_service],
    ) -> Any:
        """Mark all your unread notifications read."""
        marked = service.mark_all_read(current_principal())
        return {"user_id": marked.user_id, "updated": marked.count}
