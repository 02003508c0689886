"""Administration: users (list, deactivate, reactivate), partner clients and signing keys."""

from __future__ import annotations

from typing import Any

from dependency_injector.wiring import Provide, inject
from flask.views import MethodView
from marshmallow import RAISE

from auth_service.application.commands import CreateClient, UpdateClient
from auth_service.application.services import (
    AccountService,
    ClientService,
    KeyService,
    SessionService,
)
from auth_service.container import Container
from auth_service.controllers.schemas import (
    ClientCreatedSchema,
    ClientCreateSchema,
    ClientPageSchema,
    ClientSchema,
    ClientSecretRotationSchema,
    ClientUpdateSchema,
    PasswordResetSchema,
    SigningKeySchema,
    UserPageSchema,
    UserQuerySchema,
    UserSchema,
)
from auth_service.domain.model import UserStatus
from auth_service.domain.ports import UserFilter
from shared.domain.principal import Role
from shared.observability.logging import get_logger
from shared.security.resource_server import authenticated, current_principal
from shared.web.blueprint import Blueprint
from shared.web.pagination import PageQuerySchema, page_request
from shared.web.schemas import BEARER_AUTH, errors

blp = Blueprint(
    "admin", __name__, url_prefix="/api/v1/auth", description="Users, clients and keys (staff)"
)
log = get_logger(__name__)
_ADMIN = [Role.ADMIN]
_STAFF = [Role.STAFF, Role.ADMIN]


@blp.route("/users")
class Users(MethodView):
    @authenticated(roles=_STAFF)
    @blp.arguments(UserQuerySchema, location="query", unknown=RAISE)
    @blp.response(200, UserPageSchema)
    @blp.doc(security=BEARER_AUTH)
    @errors(blp, 401, 403, 422)
    @inject
    def get(
        self, args: dict[str, Any], service: AccountService = Provide[Container.account_service]
    ) -> Any:
        """List user accounts (filter by role, status, text)."""
        page = page_request(args)
        filters = UserFilter(role=args.get("role"), status=args.get("status"), text=args.get("q"))
        return service.list(filters, page).to_dict()


@blp.route("/users/<uuid:user_id>")
class UserById(MethodView):
    @authenticated(roles=_STAFF)
    @blp.response(200, UserSchema)
    @blp.doc(security=BEARER_AUTH)
    @errors(blp, 401, 403, 404)
    @inject
    def get(
        self, user_id: Any, service: AccountService = Provide[Container.account_service]
    ) -> Any:
        """One user account."""
        return service.get(str(user_id))


@blp.route("/users/<uuid:user_id>/deactivate")
class Deactivate(MethodView):
    @authenticated(roles=_ADMIN)
    @blp.response(200, UserSchema)
    @blp.doc(security=BEARER_AUTH)
    @errors(blp, 401, 403, 404)
    @inject
    def post(
        self, user_id: Any, service: AccountService = Provide[Container.account_service]
    ) -> Any:
        """Deactivate an account.

        It can no longer log in or refresh, its sessions end, a pending password-reset code
        is cancelled, and the other services refuse its tokens within seconds
        (`USER_STATUS_CHANGED`)."""
        return service.set_status(str(user_id), UserStatus.INACTIVE, current_principal())


@blp.route("/users/<uuid:user_id>/reactivate")
class Reactivate(MethodView):
    @authenticated(roles=_ADMIN)
    @blp.response(200, UserSchema)
    @blp.doc(security=BEARER_AUTH)
    @errors(blp, 401, 403, 404)
    @inject
    def post(
        self, user_id: Any, service: AccountService = Provide[Container.account_service]
    ) -> Any:
        """Reactivate an account."""
        return service.set_status(str(user_id), UserStatus.ACTIVE, current_principal())


@blp.route("/users/<uuid:user_id>/password-reset")
class IssuePasswordReset(MethodView):
    @authenticated(roles=_STAFF)
    @blp.response(201, PasswordResetSchema)
    @blp.doc(security=BEARER_AUTH)
    @errors(blp, 401, 403, 404)
    @inject
    def post(
        self, user_id: Any, service: AccountService = Provide[Container.account_service]
    ) -> Any:
        """Issue a one-time password reset code for an account's owner who cannot log in.

        For the desk, once the owner's identity is checked: staff for players, administrators
        for players and staff (403 `AUTH_RESET_NOT_ALLOWED` otherwise, and for one's own
        account). The code, shown this once, works for 15 minutes at
        `POST /api/v1/auth/password-reset`; issuing another replaces it."""
        actor = current_principal()
        reset = service.issue_password_reset(str(user_id), actor)
        log.info("password_reset_issued", user_id=reset.user_id, issued_by=actor.subject)
        return reset


@blp.route("/users/<uuid:user_id>/sessions")
class UserSessions(MethodView):
    @authenticated(roles=[Role.PLAYER, *_STAFF])
    @blp.response(204)
    @blp.doc(security=BEARER_AUTH)
    @errors(blp, 401, 403, 404)
    @inject
    def delete(
        self, user_id: Any, service: SessionService = Provide[Container.session_service]
    ) -> None:
        """Sign an account's owner out everywhere (a phone lost on the floor).

        Staff for players, administrators for players and staff, anyone for themself (403
        otherwise: nobody ends an administrator's sessions but its owner). Every refresh
        token is revoked and every access token issued until now refused by every service
        within seconds; the password stays as it is."""
        actor = current_principal()
        service.end_sessions(str(user_id), actor)
        log.info("sessions_ended", user_id=str(user_id), ended_by=actor.subject)


@blp.route("/clients")
class Clients(MethodView):
    @authenticated(roles=_ADMIN)
    @blp.arguments(PageQuerySchema, location="query", unknown=RAISE)
    @blp.response(200, ClientPageSchema)
    @blp.doc(security=BEARER_AUTH)
    @errors(blp, 401, 403)
    @inject
    def get(
        self, args: dict[str, Any], service: ClientService = Provide[Container.client_service]
    ) -> Any:
        """List partner and internal clients (secrets are never shown again)."""
        return service.list(page_request(args)).to_dict()

    @authenticated(roles=_ADMIN)
    @blp.arguments(ClientCreateSchema)
    @blp.response(201, ClientCreatedSchema)
    @blp.doc(security=BEARER_AUTH)
    @errors(blp, 401, 403, 409, 422)
    @inject
    def post(
        self, body: dict[str, Any], service: ClientService = Provide[Container.client_service]
    ) -> Any:
        """Create a client; the response carries its secret, shown this once."""
        created = service.create(
            CreateClient(
                name=body["name"],
                scopes=frozenset(body["scopes"]),
                client_id=body.get("client_id"),
                event_sources=frozenset(body["event_sources"]),
                secret=body.get("client_secret"),
            ),
            actor=current_principal().subject,
        )
        return {**_client_fields(created.client), "client_secret": created.secret}


def _client_fields(client: Any) -> dict[str, Any]:
    return {
        "client_id": client.client_id,
        "name": client.name,
        "scopes": client.scopes,
        "event_sources": client.event_sources,
        "status": client.status.value,
        "created_at": client.created_at,
        "created_by": client.created_by,
        "updated_at": client.updated_at,
        "updated_by": client.updated_by,
        "disabled_at": client.disabled_at,
        "secret_rotated_at": client.secret_rotated_at,
        "previous_secret_expires_at": client.previous_secret_expires_at,
    }


@blp.route("/clients/<string:client_id>")
class Client(MethodView):
    @authenticated(roles=_ADMIN)
    @blp.response(200, ClientSchema)
    @blp.doc(security=BEARER_AUTH)
    @errors(blp, 401, 403, 404)
    @inject
    def get(
        self, client_id: str, service: ClientService = Provide[Container.client_service]
    ) -> Any:
        """One client (its secret is never shown again)."""
        return service.get_or_raise(client_id[:64])

    @authenticated(roles=_ADMIN)
    @blp.arguments(ClientUpdateSchema)
    @blp.response(200, ClientSchema)
    @blp.doc(security=BEARER_AUTH)
    @errors(blp, 401, 403, 404, 422)
    @inject
    def patch(
        self,
        body: dict[str, Any],
        client_id: str,
        service: ClientService = Provide[Container.client_service],
    ) -> Any:
        """Change a client's name, scopes or event sources.

        Tokens are issued with the new scopes and event sources from now on. When a scope or
        an event source is taken away, the tokens already issued are revoked (every service
        refuses them within seconds), so the client asks for a new one without it; renaming or
        adding leaves them as they are.
        """

        def given(name: str) -> frozenset[str] | None:
            return frozenset(body[name]) if name in body else None

        return service.update(
            client_id[:64],
            UpdateClient(
                name=body.get("name"),
                scopes=given("scopes"),
                event_sources=given("event_sources"),
            ),
            actor=current_principal().subject,
        )


@blp.route("/clients/<string:client_id>/secret")
class ClientSecret(MethodView):
    @authenticated(roles=_ADMIN)
    @blp.arguments(ClientSecretRotationSchema, required=False)
    @blp.response(200, ClientCreatedSchema)
    @blp.doc(security=BEARER_AUTH)
    @errors(blp, 401, 403, 404, 422)
    @inject
    def post(
        self,
        body: dict[str, Any],
        client_id: str,
        service: ClientService = Provide[Container.client_service],
    ) -> Any:
        """Rotate a client's secret; the response carries the new one, shown this once.

        Without a body (after a leak) the old secret gets no more tokens and every token
        issued with it is refused by every service within seconds. A planned rotation sends
        `previousSecretValidForSeconds` (up to a week): both secrets work until then
        (`previousSecretExpiresAt`), so the client's deployments switch without an outage, and
        no token is revoked.
        """
        rotated = service.rotate_secret(
            client_id[:64],
            actor=current_principal().subject,
            previous_valid_for_seconds=body.get("previous_secret_valid_for_seconds", 0),
        )
        return {**_client_fields(rotated.client), "client_secret": rotated.secret}


@blp.route("/clients/<string:client_id>/enable")
class EnableClient(MethodView):
    @authenticated(roles=_ADMIN)
    @blp.response(200, ClientSchema)
    @blp.doc(security=BEARER_AUTH)
    @errors(blp, 401, 403, 404)
    @inject
    def post(
        self, client_id: str, service: ClientService = Provide[Container.client_service]
    ) -> Any:
        """Enable a disabled client again.

        Every token issued before now is revoked (TOKENS_REVOKED, then USER_STATUS_CHANGED
        ACTIVE), so none of those it held when it was disabled, perhaps a thief's, becomes
        good again; rotate the secret too if it leaked. Every service accepts the client's new
        tokens within seconds.
        """
        return service.enable(client_id[:64], actor=current_principal().subject)


@blp.route("/clients/<string:client_id>/disable")
class DisableClient(MethodView):
    @authenticated(roles=_ADMIN)
    @blp.response(200, ClientSchema)
    @blp.doc(security=BEARER_AUTH)
    @errors(blp, 401, 403, 404)
    @inject
    def post(
        self, client_id: str, service: ClientService = Provide[Container.client_service]
    ) -> Any:
        """Disable a client: no new tokens, and the ones it holds refused.

        Every service refuses the client's tokens within seconds (USER_STATUS_CHANGED with
        role client), as it refuses a deactivated account's.
        """
        return service.disable(client_id[:64], actor=current_principal().subject)


@blp.route("/keys")
class Keys(MethodView):
    @authenticated(roles=_ADMIN)
    @blp.response(200, SigningKeySchema(many=True))
    @blp.doc(security=BEARER_AUTH)
    @errors(blp, 401, 403)
    @inject
    def get(self, service: KeyService = Provide[Container.key_service]) -> Any:
        """The published signing keys (the active one and those retiring)."""
        return service.published()


@blp.route("/keys/rotate")
class RotateKeys(MethodView):
    @authenticated(roles=_ADMIN)
    @blp.response(201, SigningKeySchema)
    @blp.doc(security=BEARER_AUTH)
    @errors(blp, 401, 403, 503)
    @inject
    def post(self, service: KeyService = Provide[Container.key_service]) -> Any:
        """Rotate the signing key; the previous key stays published until its tokens expire.

        503 ``AUTH_SIGNING_KEY_UNREADABLE``, nothing changed, when this process cannot decrypt
        the active key (see the key-rotation runbook).
        """
        return service.rotate()
