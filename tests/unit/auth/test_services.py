"""Identity use cases with in-memory fakes."""

from datetime import UTC, datetime
from typing import Any

import pytest

from auth_service.application.commands import ChangePassword, CreateClient, LogIn, RegisterUser
from auth_service.application.ports import IssuedToken
from auth_service.application.services import (
    AccountService,
    ClientService,
    SessionService,
    forget_changed_client,
)
from auth_service.domain.exceptions import (
    AccountInactive,
    CannotChangeOwnStatus,
    EmailAlreadyRegistered,
    InvalidCredentials,
    InvalidRefreshToken,
    RefreshTokenReused,
    SigningKeyUnreadable,
    TooManyAttempts,
)
from auth_service.domain.model import PartnerClient, UserStatus
from shared.application.cache import ExpiringCache
from shared.application.events import Topic
from shared.domain.clock import FixedClock
from shared.domain.exceptions import DependencyUnavailable
from shared.domain.principal import Principal, Role
from shared.messaging.schemas import event_schemas
from tests.unit.auth.fakes import (
    CountingThrottle,
    FakeInactiveUsers,
    FakeRefreshTokens,
    FakeTokens,
    FakeUnitOfWork,
    PlainHasher,
    PlainSecrets,
)

PASSWORD = "correct horse battery"


@pytest.fixture
def uow() -> FakeUnitOfWork:
    return FakeUnitOfWork()


@pytest.fixture
def refresh() -> FakeRefreshTokens:
    return FakeRefreshTokens()


@pytest.fixture
def inactive() -> FakeInactiveUsers:
    return FakeInactiveUsers()


@pytest.fixture
def accounts(uow, refresh, inactive) -> AccountService:
    return AccountService(
        uow, PlainHasher(), refresh, inactive, FixedClock(datetime(2026, 1, 1, tzinfo=UTC))
    )


def session_service(uow, refresh, inactive) -> SessionService:
    return SessionService(
        uow,
        PlainHasher(),
        FakeTokens(),
        refresh,
        CountingThrottle(limit=3),
        900,
        FixedClock(datetime(2026, 1, 1, tzinfo=UTC)),
        inactive,
    )


@pytest.fixture
def sessions(uow, refresh, inactive) -> SessionService:
    return session_service(uow, refresh, inactive)


def test_registering_a_player_publishes_player_registered(accounts, uow) -> None:
    user = accounts.register(RegisterUser("p@example.com", PASSWORD, "P", "One"))
    assert [(topic, event.event_type, event.user_id) for topic, event in uow.committed] == [
        (Topic.PLAYERS, "PLAYER_REGISTERED", user.id)
    ]
    assert uow.committed[0][1].data["email"] == "p@example.com"


def test_registering_staff_publishes_nothing(accounts, uow) -> None:
    accounts.register(RegisterUser("s@example.com", PASSWORD, "S", "One", role=Role.STAFF))
    assert uow.committed == []


def test_a_duplicate_email_is_refused_whatever_its_case(accounts) -> None:
    accounts.register(RegisterUser("p@example.com", PASSWORD, "", ""))
    with pytest.raises(EmailAlreadyRegistered):
        accounts.register(RegisterUser("P@Example.com", PASSWORD, "", ""))


def test_login_with_the_right_password_opens_a_session(accounts, sessions) -> None:
    user = accounts.register(RegisterUser("p@example.com", PASSWORD, "", ""))
    session = sessions.login(LogIn("P@example.com", PASSWORD))
    assert session.user.id == user.id
    assert session.access.token == f"token-for-{user.id}"


@pytest.mark.parametrize("role", list(Role))
def test_the_password_change_notice_names_the_accounts_role(
    accounts, sessions, uow, role: Role
) -> None:
    # Sent to every account; the notification service shows staff players' notices only.
    user = accounts.register(RegisterUser("p@example.com", PASSWORD, "", "", role=role))
    uow.committed.clear()
    sessions.change_password(ChangePassword(user.id, PASSWORD, "another horse battery"))
    [(topic, notice)] = [(t, e) for t, e in uow.committed if e.event_type == "PASSWORD_CHANGED"]
    assert topic is Topic.NOTIFICATIONS
    assert notice.data["role"] == role.value
    event_schemas().validate(notice.to_message())


def test_a_password_change_revokes_the_access_tokens_issued_until_then(
    accounts, sessions, uow, inactive
) -> None:
    user = accounts.register(RegisterUser("p@example.com", PASSWORD, "", ""))
    uow.committed.clear()
    sessions.change_password(ChangePassword(user.id, PASSWORD, "another horse battery"))
    published = {event.event_type: (topic, event) for topic, event in uow.committed}
    assert set(published) == {"PASSWORD_CHANGED", "TOKENS_REVOKED"}
    topic, revoked = published["TOKENS_REVOKED"]
    assert topic is Topic.USER_STATUS
    assert revoked.user_id == user.id
    # The clock says 2026-01-01T00:00:00Z: the whole second is revoked (a token a thief got
    # earlier in it too); tokens live 900 s, plus a minute of clock skew.
    assert revoked.data == {
        "role": "player",
        "reason": "PASSWORD_CHANGED",
        "issuedBefore": "2026-01-01T00:00:01.000Z",
        "expiresAt": "2026-01-01T00:16:01.000Z",
    }
    # Refused here at once, not only once the event comes back.
    moment = int(datetime(2026, 1, 1, tzinfo=UTC).timestamp())
    assert inactive.tokens_revoked(user.id, moment)
    assert not inactive.tokens_revoked(user.id, moment + 1)


def test_the_session_opened_in_the_second_of_a_revocation_is_dated_after_it(
    accounts, uow, refresh, inactive
) -> None:
    tokens = FakeTokens()
    clock = FixedClock(datetime(2026, 1, 1, tzinfo=UTC))
    sessions = SessionService(
        uow, PlainHasher(), tokens, refresh, CountingThrottle(limit=3), 900, clock, inactive
    )
    user = accounts.register(RegisterUser("p@example.com", PASSWORD, "", ""))
    moment = int(clock.now().timestamp())
    sessions.login(LogIn("p@example.com", PASSWORD))
    assert tokens.not_before == [moment]  # nothing revoked: issued now
    sessions.change_password(ChangePassword(user.id, PASSWORD, "another horse battery"))
    # The change revoked this whole second; the caller's new session is not refused with it.
    assert tokens.not_before[-1] == moment + 1
    assert not inactive.tokens_revoked(user.id, tokens.not_before[-1])


def test_wrong_password_and_unknown_email_fail_the_same_way(accounts, sessions) -> None:
    accounts.register(RegisterUser("p@example.com", PASSWORD, "", ""))
    with pytest.raises(InvalidCredentials) as wrong:
        sessions.login(LogIn("p@example.com", "not the password"))
    with pytest.raises(InvalidCredentials) as unknown:
        sessions.login(LogIn("nobody@example.com", PASSWORD))
    assert wrong.value.message == unknown.value.message


def test_repeated_failures_lock_the_account_even_for_the_right_password(accounts, sessions) -> None:
    accounts.register(RegisterUser("p@example.com", PASSWORD, "", ""))
    for _ in range(3):
        with pytest.raises(InvalidCredentials):
            sessions.login(LogIn("p@example.com", "wrong password!"))
    with pytest.raises(TooManyAttempts):
        sessions.login(LogIn("p@example.com", PASSWORD))


def test_refresh_rotates_and_a_replay_revokes_the_family(accounts, sessions) -> None:
    accounts.register(RegisterUser("p@example.com", PASSWORD, "", ""))
    first = sessions.login(LogIn("p@example.com", PASSWORD))
    second = sessions.refresh(first.refresh_token)
    assert second.refresh_token != first.refresh_token
    with pytest.raises(RefreshTokenReused):
        sessions.refresh(first.refresh_token)
    with pytest.raises(InvalidRefreshToken):
        sessions.refresh(second.refresh_token)


def test_a_refresh_that_failed_on_the_database_can_be_retried(
    accounts, sessions, uow, monkeypatch
) -> None:
    accounts.register(RegisterUser("p@example.com", PASSWORD, "", ""))
    first = sessions.login(LogIn("p@example.com", PASSWORD))

    def down(_user_id: str) -> None:
        raise DependencyUnavailable()

    with monkeypatch.context() as patched:
        patched.setattr(uow.users, "get", down)
        with pytest.raises(DependencyUnavailable):  # answered 503: retry
            sessions.refresh(first.refresh_token)
    again = sessions.refresh(first.refresh_token)  # the retry, not a replay
    assert again.refresh_token != first.refresh_token


class UnreadableKeyTokens(FakeTokens):
    """Signs like FakeTokens, except while the signing key cannot be read."""

    unreadable = False

    def issue(self, *args: Any, **kwargs: Any) -> IssuedToken:
        if self.unreadable:
            raise SigningKeyUnreadable("kid-1")
        return super().issue(*args, **kwargs)


def test_a_refresh_that_failed_on_the_signing_key_can_be_retried(
    accounts, uow, refresh, inactive
) -> None:
    tokens = UnreadableKeyTokens()
    sessions = SessionService(
        uow,
        PlainHasher(),
        tokens,
        refresh,
        CountingThrottle(limit=3),
        900,
        FixedClock(datetime(2026, 1, 1, tzinfo=UTC)),
        inactive,
    )
    accounts.register(RegisterUser("p@example.com", PASSWORD, "", ""))
    first = sessions.login(LogIn("p@example.com", PASSWORD))
    tokens.unreadable = True
    with pytest.raises(SigningKeyUnreadable):  # answered 503: retry
        sessions.refresh(first.refresh_token)
    tokens.unreadable = False
    again = sessions.refresh(first.refresh_token)  # the retry, not a replay
    assert again.refresh_token != first.refresh_token
    with pytest.raises(RefreshTokenReused):  # a real replay is still one
        sessions.refresh(first.refresh_token)


def test_deactivation_revokes_sessions_marks_inactive_and_publishes(
    accounts, sessions, uow, refresh, inactive
) -> None:
    user = accounts.register(RegisterUser("p@example.com", PASSWORD, "", ""))
    admin = Principal(subject="admin-1", role=Role.ADMIN)
    accounts.set_status(user.id, UserStatus.INACTIVE, admin)
    assert refresh.revoked_users == [user.id]
    assert inactive.is_inactive(user.id)
    topic, event = uow.committed[-1]
    assert (topic, event.event_type, event.data["status"]) == (
        Topic.USER_STATUS,
        "USER_STATUS_CHANGED",
        "INACTIVE",
    )
    with pytest.raises(AccountInactive):
        sessions.login(LogIn("p@example.com", PASSWORD))
    accounts.set_status(user.id, UserStatus.ACTIVE, admin)
    assert not inactive.is_inactive(user.id)
    sessions.login(LogIn("p@example.com", PASSWORD))


def test_an_admin_cannot_deactivate_themself(accounts) -> None:
    admin = accounts.register(RegisterUser("a@example.com", PASSWORD, "", "", role=Role.ADMIN))
    with pytest.raises(CannotChangeOwnStatus):
        accounts.set_status(
            admin.id, UserStatus.INACTIVE, Principal(subject=admin.id, role=Role.ADMIN)
        )


def test_setting_the_same_status_changes_nothing(accounts, uow) -> None:
    user = accounts.register(RegisterUser("p@example.com", PASSWORD, "", ""))
    before = len(uow.committed)
    accounts.set_status(user.id, UserStatus.ACTIVE, Principal(subject="x", role=Role.ADMIN))
    assert len(uow.committed) == before


def test_a_client_changed_elsewhere_is_looked_up_afresh() -> None:
    lookups: ExpiringCache[str, object] = ExpiringCache(ttl_seconds=60)
    loads: list[str] = []

    def lookup(client_id: str) -> object:
        def load() -> str:
            loads.append(client_id)
            return client_id

        return lookups.get_or_load(client_id, load)

    lookup("hotel"), lookup("casino")
    forget_changed_client(lookups, "hotel")  # a user of that name: not the client
    forget_changed_client(lookups, "client:hotel")
    lookup("hotel"), lookup("casino")
    assert loads == ["hotel", "casino", "hotel"]
    forget_changed_client(lookups, None)
    lookup("casino")
    assert loads == ["hotel", "casino", "hotel", "casino"]


def test_a_client_created_after_its_id_was_tried_is_found_at_once(uow, inactive) -> None:
    lookups: ExpiringCache[str, PartnerClient | None] = ExpiringCache(ttl_seconds=60)
    clients = ClientService(
        uow, PlainSecrets(), FixedClock(datetime(2026, 1, 1, tzinfo=UTC)), lookups, inactive
    )
    assert clients.find_for_authentication("hotel-pms") is None  # remembered as no client
    clients.create(CreateClient("Hotel", frozenset({"rewards.read"}), "hotel-pms"), "admin-1")
    found = clients.find_for_authentication("hotel-pms")
    assert found is not None
    assert found.client_id == "hotel-pms"
    # The other auth processes forget their "no such client" when they hear it announced.
    assert inactive.announced == ["client:hotel-pms"]


class RedisGone(FakeInactiveUsers):
    def mark(self, user_id: str, inactive: bool, as_of: datetime | None = None) -> bool:
        raise ConnectionError("redis is gone")

    def revoke_tokens(self, account: str, issued_before: int, until: int) -> None:
        raise ConnectionError("redis is gone")


def test_a_deactivation_redis_refuses_after_the_commit_is_left_to_the_worker(
    uow, refresh, caplog
) -> None:
    accounts = AccountService(
        uow, PlainHasher(), refresh, RedisGone(), FixedClock(datetime(2026, 1, 1, tzinfo=UTC))
    )
    user = accounts.register(RegisterUser("p@example.com", PASSWORD, "", ""))
    changed = accounts.set_status(user.id, UserStatus.INACTIVE, Principal("a1", Role.ADMIN))
    assert changed.status is UserStatus.INACTIVE
    assert uow.committed[-1][1].event_type == "USER_STATUS_CHANGED"
    assert refresh.revoked_users == [user.id]
    assert "status_deferred_to_worker" in caplog.text


class SessionsGoneOnce(FakeRefreshTokens):
    def revoke_user(self, user_id: str) -> None:
        if not self.revoked_users:
            self.revoked_users.append("failed")
            raise ConnectionError("redis is gone")
        super().revoke_user(user_id)


def test_a_deactivation_retried_after_failing_past_its_commit_ends_the_sessions(uow) -> None:
    refresh = SessionsGoneOnce()
    accounts = AccountService(
        uow,
        PlainHasher(),
        refresh,
        FakeInactiveUsers(),
        FixedClock(datetime(2026, 1, 1, tzinfo=UTC)),
    )
    user = accounts.register(RegisterUser("p@example.com", PASSWORD, "", ""))
    admin = Principal("a1", Role.ADMIN)
    with pytest.raises(ConnectionError):  # answered 500; the deactivation is committed
        accounts.set_status(user.id, UserStatus.INACTIVE, admin)
    events = len(uow.committed)
    # The administrator retries: the account is inactive already, and its sessions end now.
    assert accounts.set_status(user.id, UserStatus.INACTIVE, admin).status is UserStatus.INACTIVE
    assert refresh.revoked_users == ["failed", user.id]
    assert len(uow.committed) == events  # no second USER_STATUS_CHANGED


def test_a_revocation_redis_refuses_after_the_commit_is_left_to_the_worker(
    accounts, uow, refresh, caplog
) -> None:

    sessions = session_service(uow, refresh, RedisGone())
    user = accounts.register(RegisterUser("p@example.com", PASSWORD, "", ""))
    session = sessions.change_password(ChangePassword(user.id, PASSWORD, "another horse battery"))
    # The change is committed with its TOKENS_REVOKED: the caller gets the new session, the
    # worker applies the revocation when it reads the event back.
    assert session.user.id == user.id
    assert "TOKENS_REVOKED" in {event.event_type for _, event in uow.committed}
    assert "revocation_deferred_to_worker" in caplog.text
