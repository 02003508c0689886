"""Identity use cases: accounts, sessions, partner clients, signing keys and client tokens."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from auth_service.application.commands import (
    ChangePassword,
    CreateClient,
    LogIn,
    RegisterUser,
    ResetPassword,
    UpdateClient,
)
from auth_service.application.events import (
    client_status_changed,
    password_changed,
    player_registered,
    tokens_revoked,
    user_status_changed,
)
from auth_service.application.ports import (
    AccessTokenIssuer,
    AuthUnitOfWork,
    IssuedToken,
    LoginThrottle,
    PasswordHasher,
    PasswordResetCodes,
    RefreshTokenStore,
    RevokedTokens,
    SecretHasher,
    SigningKeyFactory,
)
from auth_service.domain.exceptions import (
    AccountInactive,
    CannotChangeOwnStatus,
    ClientNotFound,
    CurrentPasswordWrong,
    InvalidCredentials,
    InvalidPassword,
    InvalidRefreshToken,
    InvalidResetCode,
    SigningKeyUnreadable,
    UserNotFound,
)
from auth_service.domain.model import (
    ClientStatus,
    KeyStatus,
    PartnerClient,
    SigningKey,
    User,
    UserStatus,
    check_client_id,
    check_event_sources,
    check_password_policy,
    check_provisioned_secret,
    check_scopes,
    new_reset_code,
    normalise_email,
    normalise_reset_code,
)
from auth_service.domain.ports import UserFilter
from shared.application.cache import ExpiringCache
from shared.application.events import IntegrationEvent, TokenRevocation, Topic
from shared.application.ports import InactiveUsers
from shared.domain.clock import Clock
from shared.domain.exceptions import PermissionDenied
from shared.domain.pagination import Page, PageRequest
from shared.domain.principal import CLIENT_ROLE, Principal, Role, Scope, account_key

UowFactory = Callable[[], AuthUnitOfWork]
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Session:
    """What a successful login or refresh hands back."""

    access: IssuedToken
    refresh_token: str
    user: User


@dataclass(frozen=True, slots=True)
class PasswordReset:
    """A reset code to hand to the account's owner, shown this once."""

    user_id: str
    code: str
    expires_at: datetime


def user_claims(user: User) -> dict[str, Any]:
    return {"role": user.role.value}


def after_commit(action: Callable[[], object], deferred: str, account: str) -> None:
    """Apply a committed change of ``account`` to this service's Redis at once (the other
    services follow its event). Should Redis fail now, the change still stands: log
    ``deferred`` and carry on — the worker applies it when it reads the event back
    (``auth-user-status``), and an announcement is only a hint (lookups expire anyway)."""
    try:
        action()
    except Exception:
        log.warning(deferred, extra={"account": account}, exc_info=True)


class OwnAccountEvents:
    """Auth's own ``user-status`` events, applied again by its worker: a revocation as it
    says, a status change as the database says now (a late replay of an old change must not
    flip an account that changed since)."""

    def __init__(self, uow: UowFactory, accounts: InactiveUsers) -> None:
        self._uow = uow
        self._accounts = accounts

    def follow_status(self, account_id: str, client: bool) -> None:
        with self._uow() as uow:
            found = uow.clients.get(account_id) if client else uow.users.get(account_id)
        if found is not None:  # an id auth does not know is nobody's to refuse
            self._accounts.mark(account_key(account_id, client=client), not found.is_active)

    def follow_revocation(self, revocation: TokenRevocation) -> None:
        self._accounts.apply(revocation)


def first_unrevoked_second(accounts: InactiveUsers | None, account: str, now: datetime) -> int:
    """The ``iat`` for a token of ``account`` issued ``now``: this second, or the next when the
    account's tokens of this second were revoked a moment ago (a password change, a secret
    rotation; :func:`tokens_revoked` takes the whole second), so that the session opened right
    after the change is not refused with the ones it ended."""
    second = int(now.timestamp())
    if accounts is None:
        return second
    try:
        return second + 1 if accounts.tokens_revoked(account, second) else second
    except Exception:  # the check is a courtesy to a session opened in the change's second
        log.warning("revocation_check_failed", extra={"account": account}, exc_info=True)
        return second


def revoke_here(accounts: InactiveUsers, event: IntegrationEvent) -> None:
    """Refuse the tokens a committed ``TOKENS_REVOKED`` names in this service at once (its
    processes share the mirror); the other services follow the event within seconds."""
    revocation = TokenRevocation.of(event)
    after_commit(
        lambda: accounts.apply(revocation), "revocation_deferred_to_worker", revocation.account
    )


class AccountService:
    """Registration and administration of user accounts."""

    def __init__(
        self,
        uow: UowFactory,
        hasher: PasswordHasher,
        refresh_tokens: RefreshTokenStore,
        inactive_users: InactiveUsers,
        clock: Clock,
        reset_codes: PasswordResetCodes | None = None,
        reset_code_ttl_seconds: int = 900,
        throttle: LoginThrottle | None = None,
    ) -> None:
        self._uow = uow
        self._hasher = hasher
        self._refresh_tokens = refresh_tokens
        self._inactive_users = inactive_users
        self._clock = clock
        self._reset_codes = reset_codes
        self._reset_code_ttl = timedelta(seconds=reset_code_ttl_seconds)
        self._throttle = throttle

    def register(self, command: RegisterUser) -> User:
        """Create an account; a player registration publishes PLAYER_REGISTERED."""
        check_password_policy(command.password, command.email)
        user = User.register(
            email=command.email,
            password_hash=self._hasher.hash(command.password),
            role=command.role,
            first_name=command.first_name,
            last_name=command.last_name,
            now=self._clock.now(),
        )
        with self._uow() as uow:
            uow.users.add(user)
            if user.role is Role.PLAYER:
                uow.outbox.add(Topic.PLAYERS, player_registered(user))
            uow.commit()
        return user

    def get(self, user_id: str) -> User:
        with self._uow() as uow:
            user = uow.users.get(user_id)
        if user is None:
            raise UserNotFound()
        return user

    def list(self, filters: UserFilter, page: PageRequest) -> Page[User]:
        with self._uow() as uow:
            return uow.users.list(filters, page)

    def issue_password_reset(self, user_id: str, actor: Principal) -> PasswordReset:
        """A one-time code with which the account's owner sets a new password
        (:meth:`SessionService.reset_password`), for staff who checked who they are at the
        desk. It replaces an earlier code and expires after ``password_reset.code_ttl_seconds``.
        The account's login lockout is lifted: the owner usually comes to the desk because
        their attempts locked it, and a wrong code counts toward the account's lockout (a locked
        client address does not stop the code: ADR 0023).
        """
        if self._reset_codes is None:
            raise RuntimeError("password reset codes are not configured")
        user = self.get(user_id)
        user.ensure_reset_allowed(actor.subject, actor.role)
        code = new_reset_code()
        self._reset_codes.store(user.id, normalise_reset_code(code))
        if self._throttle is not None:
            self._throttle.unlock(user.email)
        return PasswordReset(user.id, code, self._clock.now() + self._reset_code_ttl)

    def set_status(self, user_id: str, status: UserStatus, actor: Principal) -> User:
        """Deactivate or reactivate an account; publishes USER_STATUS_CHANGED. Deactivation
        ends the account's sessions and discards its pending password-reset code."""
        if actor.subject == user_id:
            raise CannotChangeOwnStatus()
        with self._uow() as uow:
            user = uow.users.get(user_id, for_update=True)
            if user is None:
                raise UserNotFound()
            changed = user.status is not status
            if changed:
                user = user.with_status(status, self._clock.now())
                uow.users.update(user)
                uow.outbox.add(Topic.USER_STATUS, user_status_changed(user, actor.subject))
                uow.commit()
        inactive = status is UserStatus.INACTIVE
        if changed:
            # Our own refusal is immediate; the other services follow the event within seconds.
            after_commit(
                lambda: self._inactive_users.mark(user.id, inactive, as_of=user.updated_at),
                "status_deferred_to_worker",
                user.id,
            )
        if inactive:
            # Again when the account was inactive already: a deactivation answered 500 after
            # its commit (Redis gone at that moment) finishes here when it is retried.
            self._refresh_tokens.revoke_user(user.id)
            # A code handed out before (perhaps to an impostor: a reason to deactivate) must
            # not open the account once it is reactivated.
            if self._reset_codes is not None:
                self._reset_codes.discard(user.id)
        return user


class SessionService:
    """First-party login for players and staff, refresh rotation and logout."""

    def __init__(
        self,
        uow: UowFactory,
        hasher: PasswordHasher,
        tokens: AccessTokenIssuer,
        refresh_tokens: RefreshTokenStore,
        throttle: LoginThrottle,
        access_lifetime_seconds: int,
        clock: Clock,
        inactive_users: InactiveUsers,
        reset_codes: PasswordResetCodes | None = None,
    ) -> None:
        self._uow = uow
        self._hasher = hasher
        self._tokens = tokens
        self._refresh_tokens = refresh_tokens
        self._throttle = throttle
        self._lifetime = access_lifetime_seconds
        self._clock = clock
        self._inactive_users = inactive_users
        self._reset_codes = reset_codes

    def login(self, command: LogIn) -> Session:
        email = normalise_email(command.email)
        self._throttle.check(email, command.address)
        with self._uow() as uow:
            user = uow.users.get_by_email(email)
        if user is None:
            self._hasher.burn(command.password)
            self._throttle.record_unknown(email, command.address)
            raise InvalidCredentials()
        if not self._hasher.verify(user.password_hash, command.password):
            self._throttle.record_failure(email, command.address)
            raise InvalidCredentials()
        self._throttle.record_success(email, command.address)
        if not user.is_active:
            raise AccountInactive()
        if self._hasher.needs_rehash(user.password_hash):
            self._rehash(user, command.password)
        return self._open(user, family_id=None)

    def refresh(self, refresh_token: str) -> Session:
        # The account is read and the access token signed before the refresh token is used
        # up: a database outage or a signing key that cannot be read, answered 503 ("retry"),
        # must leave the token usable, not make the retry look like a replay.
        holder = self._refresh_tokens.holder(refresh_token)
        user = None
        if holder is not None:
            with self._uow() as uow:
                user = uow.users.get(holder)
        access = self._access(user) if user is not None and user.is_active else None
        grant = self._refresh_tokens.consume(refresh_token)
        if user is None or access is None or user.id != grant.user_id:
            self._refresh_tokens.revoke(refresh_token)
            raise InvalidRefreshToken()
        refresh = self._refresh_tokens.issue(user.id, grant.family_id)
        return Session(access=access, refresh_token=refresh, user=user)

    def logout(self, refresh_token: str) -> None:
        self._refresh_tokens.revoke(refresh_token)

    def end_sessions(self, user_id: str, actor: Principal) -> None:
        """Sign the account out everywhere: every refresh token revoked and every access
        token issued until now refused by every service within seconds (ADR 0021). The owner
        does it for themself (a device they no longer trust), staff at the desk for a player
        (a phone lost on the floor: no new password needed, the thief never knew it)."""
        if actor.role is Role.PLAYER and actor.subject != user_id:
            # Before the lookup: a player learns nothing of other accounts, not even that
            # they exist.
            raise PermissionDenied("End your own sessions only.")
        with self._uow() as uow:
            user = uow.users.get(user_id)
            if user is None:
                raise UserNotFound()
            own = actor.subject == user.id
            if not own:
                user.ensure_sessions_endable_by(actor.subject, actor.role)
            reason = "SIGNED_OUT_EVERYWHERE" if own else "SESSIONS_ENDED"
            revoked = self._revocation(user, self._clock.now(), reason, actor.subject)
            uow.outbox.add(Topic.USER_STATUS, revoked)
            uow.commit()
        revoke_here(self._inactive_users, revoked)
        self._refresh_tokens.revoke_user(user.id)
        self._discard_reset_code(user.id)

    def change_password(self, command: ChangePassword) -> Session:
        """Replace the caller's password, knowing the current one (counted as a login attempt
        of the account, so a stolen access token cannot guess it). Every session of the account
        ends and its access tokens are refused everywhere within seconds; the caller gets a new
        session."""
        with self._uow() as uow:
            user = uow.users.get(command.user_id)
        if user is None:
            raise UserNotFound()
        user.ensure_active()
        # The account's limit only (ADR 0023): the caller holds the account's own token, so
        # no address tries many accounts' passwords here, and other guests' failures behind
        # a shared address must not stop it.
        self._throttle.check(user.email, None)
        if not self._hasher.verify(user.password_hash, command.current_password):
            self._throttle.record_failure(user.email, None)
            raise CurrentPasswordWrong()
        self._throttle.record_success(user.email, None)
        check_password_policy(command.new_password, user.email)
        if command.new_password == command.current_password:
            raise InvalidPassword("The new password must differ from the current one.")
        # Changed meanwhile (another device): the current password checked is stale.
        return self._replace_password(
            user, command.new_password, expected_hash=user.password_hash, reason="PASSWORD_CHANGED"
        )

    def reset_password(self, command: ResetPassword) -> Session:
        """Set a new password with a reset code from the desk (a wrong code counts as a failed
        login of the account: five lock it). Every session ends; the caller gets a new one."""
        if self._reset_codes is None:
            raise RuntimeError("password reset codes are not configured")
        email = normalise_email(command.email)
        # Before the code is used up or the attempt counted: a weak password must not cost the
        # owner their code, nor an attempt toward the lockout.
        check_password_policy(command.new_password, email)
        # The account's limit only (ADR 0023): a code is a secret of ~59 bits bound to one
        # account, five guesses per lockout, so the address counter adds nothing — and the
        # owner sent from the desk must get in whatever other guests behind the resort's
        # address did.
        self._throttle.check(email, None)
        with self._uow() as uow:
            user = uow.users.get_by_email(email)
        code = normalise_reset_code(command.reset_code)
        if user is None or not user.is_active or not self._reset_codes.redeem(user.id, code):
            self._throttle.record_failure(email, None)
            raise InvalidResetCode()
        self._throttle.record_success(email, None)
        return self._replace_password(
            user, command.new_password, expected_hash=None, reason="PASSWORD_RESET"
        )

    def _replace_password(
        self, user: User, new_password: str, expected_hash: str | None, reason: str
    ) -> Session:
        """Store the new hash, tell the owner, end every session (refresh tokens, and access
        tokens issued until now: ADR 0021) and open a new one."""
        new_hash = self._hasher.hash(new_password)
        with self._uow() as uow:
            current = uow.users.get(user.id, for_update=True)
            if current is None:
                raise UserNotFound()
            if expected_hash is not None and current.password_hash != expected_hash:
                raise CurrentPasswordWrong()
            now = self._clock.now()
            user = current.with_password_hash(new_hash, now)
            revoked = self._revocation(user, now, reason)
            uow.users.update(user)
            uow.outbox.add(Topic.NOTIFICATIONS, password_changed(user))
            uow.outbox.add(Topic.USER_STATUS, revoked)
            uow.commit()
        revoke_here(self._inactive_users, revoked)
        self._refresh_tokens.revoke_user(user.id)
        self._discard_reset_code(user.id)
        return self._open(user, family_id=None)

    def _discard_reset_code(self, user_id: str) -> None:
        if self._reset_codes is not None:
            self._reset_codes.discard(user_id)

    def _revocation(
        self, user: User, now: datetime, reason: str, by: str | None = None
    ) -> IntegrationEvent:
        """``TOKENS_REVOKED`` for every access token of ``user`` issued until ``now``."""
        lifetime = timedelta(seconds=self._lifetime)
        return tokens_revoked(user.id, user.role.value, now, lifetime, reason, by)

    def _open(self, user: User, family_id: str | None) -> Session:
        access = self._access(user)
        refresh = self._refresh_tokens.issue(user.id, family_id)
        return Session(access=access, refresh_token=refresh, user=user)

    def _access(self, user: User) -> IssuedToken:
        not_before = first_unrevoked_second(self._inactive_users, user.id, self._clock.now())
        return self._tokens.issue(user.id, user_claims(user), self._lifetime, not_before)

    def _rehash(self, user: User, password: str) -> None:
        with self._uow() as uow:
            uow.users.update(
                user.with_password_hash(self._hasher.hash(password), self._clock.now())
            )
            uow.commit()


@dataclass(frozen=True, slots=True)
class ClientCredentials:
    client: PartnerClient
    secret: str


def forget_changed_client(lookups: ExpiringCache[str, Any], account: str | None) -> None:
    """A client changed by another auth process (every change is announced with its account,
    ``client:<id>``) is looked up afresh here at once, instead of when its lookup expires;
    None (the announcements were reloaded) forgets every client."""
    if account is None:
        lookups.clear()
        return
    prefix = account_key("", client=True)
    if account.startswith(prefix):
        lookups.invalidate(account[len(prefix) :])


def _provisioned(secret: str | None) -> str | None:
    return None if secret is None else check_provisioned_secret(secret)


class ClientService:
    """Partner and internal OAuth2 clients (client credentials)."""

    def __init__(
        self,
        uow: UowFactory,
        hasher: SecretHasher,
        clock: Clock,
        lookups: ExpiringCache[str, PartnerClient | None] | None = None,
        inactive_users: InactiveUsers | None = None,
        token_lifetime_seconds: int = 900,
    ) -> None:
        self._uow = uow
        self._hasher = hasher
        self._clock = clock
        self._inactive_users = inactive_users
        self._token_lifetime = timedelta(seconds=token_lifetime_seconds)
        # Token requests look the client up every time; a few seconds of staleness is far
        # below the lifetime of the tokens a disabled client may already hold.
        self._lookups = lookups

    def create(self, command: CreateClient, actor: str | None) -> ClientCredentials:
        """Register a client; its secret is returned now and never again (stored hashed)."""
        scopes = check_scopes(command.scopes)
        sources = check_event_sources(scopes, command.event_sources)
        client_id = check_client_id(command.client_id or f"client-{secrets.token_hex(8)}")
        secret = _provisioned(command.secret) or secrets.token_urlsafe(32)
        now = self._clock.now()
        client = PartnerClient(
            client_id=client_id,
            name=command.name.strip(),
            secret_hash=self._hasher.hash(secret),
            scopes=scopes,
            status=ClientStatus.ACTIVE,
            created_at=now,
            created_by=actor,
            # As stored, and as every later read shows it.
            updated_at=now,
            updated_by=actor,
            event_sources=sources,
        )
        with self._uow() as uow:
            uow.clients.add(client)
            uow.commit()
        # A token request with this id made before (a partner trying its configuration early)
        # left "no such client" in the lookups: forgotten here and announced to the other auth
        # processes, as any change of a client, so the new client works at once everywhere.
        self._forget_lookup(client_id)
        self._announce(client_id)
        return ClientCredentials(client=client, secret=secret)

    def list(self, page: PageRequest) -> Page[PartnerClient]:
        with self._uow() as uow:
            return uow.clients.list(page)

    def get(self, client_id: str) -> PartnerClient | None:
        with self._uow() as uow:
            return uow.clients.get(client_id)

    def get_or_raise(self, client_id: str) -> PartnerClient:
        client = self.get(client_id)
        if client is None:
            raise ClientNotFound()
        return client

    def find_for_authentication(self, client_id: str) -> PartnerClient | None:
        """The client presenting credentials, from the short-lived lookup cache."""
        if self._lookups is None:
            return self.get(client_id)
        return self._lookups.get_or_load(client_id, lambda: self.get(client_id))

    def disable(self, client_id: str, actor: str | None = None) -> PartnerClient:
        """No more tokens for the client, and the ones it holds are refused everywhere
        within seconds (``USER_STATUS_CHANGED`` with role ``client``)."""
        return self._set_active(client_id, active=False, actor=actor)

    def enable(self, client_id: str, actor: str | None = None) -> PartnerClient:
        """Tokens for the client again; those issued before now (perhaps a thief's, from
        before it was disabled) stay refused. Services accept its new tokens within seconds."""
        return self._set_active(client_id, active=True, actor=actor)

    def _set_active(self, client_id: str, active: bool, actor: str | None) -> PartnerClient:
        def change(client: PartnerClient, now: datetime) -> PartnerClient:
            if client.is_active == active:
                return client
            return client.enabled(now, actor) if active else client.disabled(now, actor)

        return self._change(
            client_id,
            change,
            actor,
            revoke_tokens=(lambda _old, _new: "CLIENT_ENABLED") if active else None,
        )

    def update(self, client_id: str, command: UpdateClient, actor: str | None) -> PartnerClient:
        """A new name, scopes or event sources. Tokens are issued with them from now on; when
        a scope or an event source is taken away, the tokens issued before are revoked, so
        the client gets a new token without it at once."""
        return self._change(
            client_id,
            lambda c, now: c.changed(
                now, command.name, command.scopes, command.event_sources, actor
            ),
            actor,
            revoke_tokens=lambda old, new: "RIGHTS_REDUCED" if new.takes_rights_from(old) else None,
        )

    def provision(self, command: CreateClient, actor: str | None) -> str:
        """Make the client ``command.client_id`` work with ``command.secret``, the value the
        deployment keeps in its secret store for the client's caller: register it when missing,
        give it that secret when it has another (a rotation, so the tokens issued with the old
        one are refused), nothing when it has it. Returns ``created``, ``rotated`` or
        ``unchanged``. Scopes and event sources of an existing client are left as they are."""
        secret = _provisioned(command.secret)
        if secret is None or command.client_id is None:
            raise ValueError("provisioning needs the client id and its secret")
        client = self.get(command.client_id)
        if client is None:
            self.create(command, actor)
            return "created"
        if self._hasher.verify(client.secret_hash, secret):
            return "unchanged"
        self.rotate_secret(command.client_id, actor, secret=secret)
        return "rotated"

    def rotate_secret(
        self,
        client_id: str,
        actor: str | None,
        previous_valid_for_seconds: int = 0,
        secret: str | None = None,
    ) -> ClientCredentials:
        """A new secret, returned now and never again.

        By default (a leak) the old one gets no more tokens and the tokens issued with it are
        refused everywhere within seconds (ADR 0021). A planned rotation gives the old secret
        ``previous_valid_for_seconds`` more (both work meanwhile, so the client's deployments
        switch without an outage) and revokes nothing. ``secret`` is a provisioned one
        (:meth:`provision`)."""
        secret = _provisioned(secret) or secrets.token_urlsafe(32)
        secret_hash = self._hasher.hash(secret)
        overlap = timedelta(seconds=previous_valid_for_seconds)
        client = self._change(
            client_id,
            lambda c, now: c.with_secret(secret_hash, now, actor, overlap),
            actor,
            revoke_tokens=None if overlap else (lambda _old, _new: "SECRET_ROTATED"),
        )
        return ClientCredentials(client=client, secret=secret)

    def _change(
        self,
        client_id: str,
        change: Callable[[PartnerClient, datetime], PartnerClient],
        actor: str | None,
        revoke_tokens: Callable[[PartnerClient, PartnerClient], str | None] | None = None,
    ) -> PartnerClient:
        """Apply ``change`` to the locked client and store it (``change`` returns the client
        itself when nothing is to be done). In the same transaction, the revocation of the
        client's tokens issued until now is published when ``revoke_tokens`` (given the client
        before and after) names a reason, then a change of status (``USER_STATUS_CHANGED``):
        in that order, so no service ever takes an enabled client's old tokens. Both are
        applied here at once after the commit."""
        revoked: IntegrationEvent | None = None
        with self._uow() as uow:
            client = uow.clients.get(client_id, for_update=True)
            if client is None:
                raise ClientNotFound()
            now = self._clock.now()
            changed = change(client, now)
            if changed is client:
                return client
            uow.clients.update(changed)
            reason = revoke_tokens(client, changed) if revoke_tokens is not None else None
            if reason is not None:
                revoked = tokens_revoked(
                    client_id, CLIENT_ROLE, now, self._token_lifetime, reason, actor
                )
                uow.outbox.add(Topic.USER_STATUS, revoked)
            if changed.status is not client.status:
                uow.outbox.add(Topic.USER_STATUS, client_status_changed(changed, actor))
            uow.commit()
        # This process's lookup at once; the other auth processes' when they hear the change
        # announced (they would otherwise expire within security.client_cache_seconds) — last,
        # once the revocation is applied: a token they issue then is dated after it.
        self._forget_lookup(client_id)
        accounts = self._inactive_users
        if accounts is not None:
            account = account_key(client_id, client=True)
            if revoked is not None:
                revoke_here(accounts, revoked)
            if changed.status is not client.status:
                inactive = not changed.is_active
                after_commit(
                    lambda: accounts.mark(account, inactive, as_of=changed.updated_at),
                    "status_deferred_to_worker",
                    account,
                )
        self._announce(client_id)
        return changed

    def _forget_lookup(self, client_id: str) -> None:
        """Look the committed client up afresh in this process."""
        if self._lookups is not None:
            self._lookups.invalidate(client_id)

    def _announce(self, client_id: str) -> None:
        """Tell the other auth processes to look the committed client up afresh."""
        accounts = self._inactive_users
        if accounts is not None:
            account = account_key(client_id, client=True)
            after_commit(
                lambda: accounts.announce_change(account), "client_change_not_announced", account
            )

    def authenticate(self, client: PartnerClient, secret: str) -> bool:
        if not client.is_active:
            return False
        return any(self._hasher.verify(h, secret) for h in client.secret_hashes(self._clock.now()))


class KeyService:
    """The signing keys: one active, the retired ones published until their tokens expired."""

    def __init__(
        self,
        uow: UowFactory,
        factory: SigningKeyFactory,
        tokens: AccessTokenIssuer,
        token_lifetime_seconds: int,
        clock: Clock,
    ) -> None:
        self._uow = uow
        self._factory = factory
        self._tokens = tokens
        self._lifetime = timedelta(seconds=token_lifetime_seconds)
        self._clock = clock

    def ensure_active(self) -> None:
        """Create the first key when there is none (safe to call from many processes)."""
        with self._uow() as uow:
            uow.signing_keys.lock()
            if any(k.status is KeyStatus.ACTIVE for k in uow.signing_keys.all()):
                return
            uow.signing_keys.add(self._new_key())
            uow.commit()
        self._tokens.invalidate_keys()

    def rotate(self, replace_unreadable: bool = False) -> SigningKey:
        """Make a new key active; the previous one stays published until its tokens expired.

        Refused, nothing written, when this process cannot decrypt the active key: its secret
        is then not the one the platform runs with, and the platform could not read the new
        key either. ``replace_unreadable`` makes the new key all the same, to recover when the
        active key is one the platform itself cannot read (made with another secret)."""
        now = self._clock.now()
        with self._uow() as uow:
            uow.signing_keys.lock()
            active = [k for k in uow.signing_keys.all() if k.status is KeyStatus.ACTIVE]
            unreadable = [k for k in active if not self._factory.can_open(k.private_key_pem)]
            if unreadable and not replace_unreadable:
                kid = unreadable[0].kid
                raise SigningKeyUnreadable(
                    kid,
                    f"The active signing key {kid} cannot be decrypted with this process's "
                    "key-encryption secret, so a key made here could not be read by the "
                    "processes that use it either; no key was made.",
                )
            for key in active:
                uow.signing_keys.update(key.retire(now, self._lifetime))
            new_key = self._new_key()
            uow.signing_keys.add(new_key)
            uow.commit()
        self._tokens.invalidate_keys()
        return new_key

    def published(self) -> Sequence[SigningKey]:
        return self._tokens.published()

    def _new_key(self) -> SigningKey:
        generated = self._factory.generate()
        return SigningKey(
            kid=generated.kid,
            private_key_pem=generated.private_key_pem,
            public_jwk=generated.public_jwk,
            status=KeyStatus.ACTIVE,
            created_at=self._clock.now(),
        )


class ClientTokenService:
    """Access tokens for clients (client credentials), introspection and revocation."""

    def __init__(
        self,
        tokens: AccessTokenIssuer,
        revoked: RevokedTokens,
        lifetime_seconds: int,
        clock: Clock,
        inactive_users: InactiveUsers | None = None,
    ) -> None:
        self._tokens = tokens
        self._revoked = revoked
        self._lifetime = lifetime_seconds
        self._clock = clock
        self._inactive_users = inactive_users

    @property
    def lifetime_seconds(self) -> int:
        return self._lifetime

    def issue(self, client: PartnerClient, scopes: frozenset[str]) -> IssuedToken:
        claims: dict[str, Any] = {"client_id": client.client_id, "scope": " ".join(sorted(scopes))}
        if Scope.REWARDS_WRITE in scopes:
            # What the client may report, for the services that accept its events.
            claims["event_sources"] = sorted(client.event_sources)
        account = account_key(client.client_id, client=True)
        not_before = first_unrevoked_second(self._inactive_users, account, self._clock.now())
        return self._tokens.issue(client.client_id, claims, self._lifetime, not_before)

    def inspect(self, token: str) -> Mapping[str, Any] | None:
        """The claims of an active token of ours, or None (invalid, expired or revoked, or its
        account is inactive or its tokens were revoked since it was issued)."""
        claims = self._tokens.decode(token)
        if claims is None or self._revoked.is_revoked(str(claims.get("jti"))):
            return None
        if self._inactive_users is not None:
            account = account_key(str(claims.get("sub")), client="role" not in claims)
            issued = claims.get("iat")
            if self._inactive_users.refusal(account, issued if isinstance(issued, int) else None):
                return None
        return claims

    def revoke(self, claims: Mapping[str, Any]) -> None:
        remaining = int(claims.get("exp", 0)) - int(self._clock.now().timestamp())
        if remaining > 0:
            self._revoked.revoke(str(claims["jti"]), remaining)
