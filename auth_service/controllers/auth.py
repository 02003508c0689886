"""Registration, login, refresh and logout for players and staff (first-party endpoints)."""

from __future__ import annotations

from typing import Any

from dependency_injector.wiring import Provide, inject
from flask import Response, after_this_request, current_app, request
from flask.views import MethodView
from flask_jwt_extended import get_jwt

from auth_service.application.commands import ChangePassword, LogIn, RegisterUser, ResetPassword
from auth_service.application.services import AccountService, Session, SessionService
from auth_service.container import Container
from auth_service.controllers.schemas import (
    AccessTokenSchema,
    LoginSchema,
    PasswordChangeSchema,
    PasswordResetWithCodeSchema,
    RegisterSchema,
    SessionSchema,
    StaffRegisterSchema,
    UserSchema,
)
from shared.domain.principal import Role
from shared.errors import CommonErrorCode
from shared.observability.logging import get_logger
from shared.security.resource_server import authenticated, current_principal
from shared.web.blueprint import Blueprint
from shared.web.errors import HttpError
from shared.web.schemas import BEARER_AUTH, errors

blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth", description="Accounts and sessions")
log = get_logger(__name__)


def _cookie_settings() -> dict[str, Any]:
    return dict(current_app.config["REFRESH_COOKIE"])


def _session_body(session: Session) -> dict[str, Any]:
    """Set the refresh cookie on the way out and return the access token body."""
    settings = _cookie_settings()

    @after_this_request
    def set_cookie(response: Response) -> Response:
        response.set_cookie(
            settings["name"],
            session.refresh_token,
            max_age=int(settings["max_age"]),
            path=settings["path"],
            secure=bool(settings["secure"]),
            httponly=True,
            samesite=settings["samesite"],
        )
        return response

    return {
        "access_token": session.access.token,
        "token_type": "Bearer",
        "expires_in": session.access.expires_in,
        "user": session.user,
    }


def _refresh_cookie() -> str:
    token = request.cookies.get(_cookie_settings()["name"], "")
    if not token or len(token) > 200:
        raise HttpError(401, CommonErrorCode.UNAUTHENTICATED, "No session. Please log in.")
    return token


@blp.route("/register")
class Register(MethodView):
    @blp.arguments(RegisterSchema)
    @blp.response(201, UserSchema)
    @errors(blp, 409, 422, 429)
    @inject
    def post(
        self, body: dict[str, Any], service: AccountService = Provide[Container.account_service]
    ) -> Any:
        """Register a player account (publishes PLAYER_REGISTERED)."""
        return service.register(RegisterUser(**body, role=Role.PLAYER))


@blp.route("/register-staff")
class RegisterStaff(MethodView):
    @authenticated(roles=[Role.ADMIN])
    @blp.arguments(StaffRegisterSchema)
    @blp.response(201, UserSchema)
    @blp.doc(security=BEARER_AUTH)
    @errors(blp, 401, 403, 409, 422)
    @inject
    def post(
        self, body: dict[str, Any], service: AccountService = Provide[Container.account_service]
    ) -> Any:
        """Register a staff or admin account (admins only)."""
        return service.register(RegisterUser(**body))


@blp.route("/login")
class Login(MethodView):
    @blp.arguments(LoginSchema)
    @blp.response(200, AccessTokenSchema)
    @errors(blp, 401, 403, 422, 429)
    @inject
    def post(
        self, body: dict[str, Any], service: SessionService = Provide[Container.session_service]
    ) -> Any:
        """Log in with email and password: an access token, and the refresh token as an
        HttpOnly cookie."""
        session = service.login(LogIn(**body, address=request.remote_addr))
        return _session_body(session)


@blp.route("/refresh")
class Refresh(MethodView):
    @blp.response(200, AccessTokenSchema)
    @errors(blp, 401)
    @inject
    def post(self, service: SessionService = Provide[Container.session_service]) -> Any:
        """Rotate the refresh cookie and get a new access token.

        Replaying an old refresh token revokes the whole session."""
        return _session_body(service.refresh(_refresh_cookie()))


@blp.route("/logout")
class Logout(MethodView):
    @blp.response(204)
    @inject
    def post(self, service: SessionService = Provide[Container.session_service]) -> None:
        """End the session: the refresh token is deleted and the cookie cleared."""
        token = request.cookies.get(_cookie_settings()["name"])
        if token and len(token) <= 200:
            service.logout(token)
        _clear_refresh_cookie()


def _clear_refresh_cookie() -> None:
    settings = _cookie_settings()

    @after_this_request
    def clear_cookie(response: Response) -> Response:
        response.delete_cookie(
            settings["name"],
            path=settings["path"],
            secure=bool(settings["secure"]),
            httponly=True,
            samesite=settings["samesite"],
        )
        return response


@blp.route("/session")
class CurrentSession(MethodView):
    @authenticated()
    @blp.response(200, SessionSchema)
    @blp.doc(security=BEARER_AUTH)
    @errors(blp, 401)
    def get(self) -> Any:
        """The caller as its access token states it.

        Subject, role or scopes, and expiry, verified locally from the signing keys without
        reading the database."""
        principal = current_principal()
        claims = get_jwt()
        return {
            "subject": principal.subject,
            "role": principal.role,
            "scopes": sorted(principal.scopes),
            "client_id": principal.client_id,
            "expires_at": claims["exp"],
        }


@blp.route("/me")
class Me(MethodView):
    @authenticated(roles=list(Role))
    @blp.response(200, UserSchema)
    @blp.doc(security=BEARER_AUTH)
    @errors(blp, 401, 403)
    @inject
    def get(self, service: AccountService = Provide[Container.account_service]) -> Any:
        """The account of the logged-in user."""
        user = service.get(current_principal().subject)
        user.ensure_active()
        return user


@blp.route("/me/password")
class MyPassword(MethodView):
    @authenticated(roles=list(Role))
    @blp.arguments(PasswordChangeSchema)
    @blp.response(200, AccessTokenSchema)
    @blp.doc(security=BEARER_AUTH)
    @errors(blp, 401, 403, 422, 429)
    @inject
    def post(
        self, body: dict[str, Any], service: SessionService = Provide[Container.session_service]
    ) -> Any:
        """Change the logged-in user's password, giving the current one.

        Every session of the account ends (their refresh tokens are revoked) and this one
        continues with a new access token and refresh cookie; access tokens issued before are
        refused by every service within seconds. A wrong current password is 403
        `AUTH_CURRENT_PASSWORD_WRONG` and counts as a failed login: five lock the account for
        15 minutes (429)."""
        session = service.change_password(
            ChangePassword(
                user_id=current_principal().subject,
                current_password=body["current_password"],
                new_password=body["new_password"],
            )
        )
        return _session_body(session)


@blp.route("/me/sessions")
class MySessions(MethodView):
    @authenticated(roles=list(Role))
    @blp.response(204)
    @blp.doc(security=BEARER_AUTH)
    @errors(blp, 401)
    @inject
    def delete(self, service: SessionService = Provide[Container.session_service]) -> None:
        """Sign out everywhere, this device included.

        Every refresh token of the account is revoked, and every access token issued until
        now (this one too) is refused by every service within seconds; open notification
        sockets close with 4401. Log in again to continue."""
        principal = current_principal()
        service.end_sessions(principal.subject, principal)
        log.info("sessions_ended", user_id=principal.subject, ended_by=principal.subject)
        _clear_refresh_cookie()


@blp.route("/password-reset")
class PasswordResetWithCode(MethodView):
    @blp.arguments(PasswordResetWithCodeSchema)
    @blp.response(200, AccessTokenSchema)
    @errors(blp, 401, 422, 429)
    @inject
    def post(
        self, body: dict[str, Any], service: SessionService = Provide[Container.session_service]
    ) -> Any:
        """Set a new password with the reset code staff gave at the desk, and log in.

        The code works once, for 15 minutes. A wrong code, an unknown address or an expired
        code all answer 401 `AUTH_INVALID_RESET_CODE` and count as failed logins (five lock the
        account for 15 minutes, 429). Every other session of the account ends and its owner is
        notified (`PASSWORD_CHANGED`)."""
        session = service.reset_password(
            ResetPassword(
                email=body["email"],
                reset_code=body["reset_code"],
                new_password=body["new_password"],
            )
        )
        log.info("password_reset_used", user_id=session.user.id)
        return _session_body(session)
