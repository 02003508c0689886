"""Rules of the identity domain."""

import secrets
import unicodedata
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from auth_service.domain.exceptions import (
    AccountInactive,
    InvalidEmail,
    InvalidEventSources,
    InvalidName,
    InvalidPassword,
    ResetNotAllowed,
    UnknownScope,
    WeakClientSecret,
)
from auth_service.domain.model import (
    RESET_CODE_ALPHABET,
    ClientStatus,
    KeyStatus,
    PartnerClient,
    SigningKey,
    User,
    UserStatus,
    check_event_sources,
    check_password_policy,
    check_provisioned_secret,
    check_scopes,
    new_reset_code,
    normalise_reset_code,
)
from shared.domain.exceptions import PermissionDenied
from shared.domain.principal import Principal, Role

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def test_registration_normalises_the_email() -> None:
    user = User.register("  Mixed.Case@Example.COM ", "h", Role.PLAYER, " Ann ", "Lee", NOW)
    assert user.email == "mixed.case@example.com"
    assert user.first_name == "Ann"
    assert user.is_active


@pytest.mark.parametrize("email", ["x@localhost", "x@exämple.com", '"x"@example.com', "x@a..com"])
def test_an_account_never_has_an_address_its_event_could_not_carry(email: str) -> None:
    with pytest.raises(InvalidEmail):
        User.register(email, "h", Role.PLAYER, "", "", NOW)


@pytest.mark.parametrize(
    "name",
    [
        "\u202eevil\n<script>",
        "Ann\nLee",
        "Ann\r",
        "\tAnn",
        "Ann\x1b[31m",
        "Ann\x7f",
        "Ann\x85",  # a C1 control (next line)
        "Ann\u2028Lee",
        "\u202dAnn",
        "Ann\u2066Lee\u2069",
        "\u202aAnn\u202c",
    ],
)
def test_a_name_holds_no_control_or_bidirectional_formatting(name: str) -> None:
    for first, last in ((name, "Lee"), ("Ann", name)):
        with pytest.raises(InvalidName):
            User.register("p@example.com", "h", Role.PLAYER, first, last, NOW)


@pytest.mark.parametrize("name", ["<b>Ann</b>", "O'Brien & Sons", "José", "محمد", "Zoë 🎰", ""])
def test_a_name_is_data_whatever_markup_it_looks_like(name: str) -> None:
    user = User.register("p@example.com", "h", Role.PLAYER, name, name, NOW)
    assert (user.first_name, user.last_name) == (name, name)


def test_an_inactive_user_is_refused() -> None:
    user = User.register("a@b.co", "h", Role.PLAYER, "", "", NOW).with_status(
        UserStatus.INACTIVE, NOW
    )
    with pytest.raises(AccountInactive):
        user.ensure_active()


@pytest.mark.parametrize("password", ["short", "x" * 129, "aaaaaaaaaaaa", "a@b.co"])
def test_the_password_policy_refuses_weak_passwords(password: str) -> None:
    with pytest.raises(InvalidPassword):
        check_password_policy(password, "a@b.co")


def test_the_password_policy_accepts_a_passphrase() -> None:
    check_password_policy("correct horse battery staple", "a@b.co")


def test_the_password_policy_counts_characters_once_normalised() -> None:
    # Ten code points, five letters: decomposed accents do not make a password long enough.
    decomposed = unicodedata.normalize("NFD", "\u00e1\u00e9\u00ed\u00f3\u00fa")
    assert len(decomposed) == 10
    with pytest.raises(InvalidPassword):
        check_password_policy(decomposed, "a@b.co")


def client(scopes: set[str], sources: set[str] | None = None) -> PartnerClient:
    return PartnerClient(
        "hotel",
        "Hotel",
        "h",
        frozenset(scopes),
        ClientStatus.ACTIVE,
        NOW,
        event_sources=frozenset(sources or ()),
    )


def test_a_client_gets_all_its_scopes_when_it_asks_for_none() -> None:
    granted = client({"rewards.read", "rewards.write"}).grantable(frozenset())
    assert granted == frozenset({"rewards.read", "rewards.write"})


def test_a_client_gets_what_it_asks_for_within_its_scopes() -> None:
    granted = client({"rewards.read", "rewards.write"}).grantable(frozenset({"rewards.read"}))
    assert granted == frozenset({"rewards.read"})


def test_a_client_asking_beyond_its_scopes_gets_nothing() -> None:
    assert client({"rewards.read"}).grantable(frozenset({"wallet.write"})) is None


def test_unknown_scopes_are_refused() -> None:
    with pytest.raises(UnknownScope):
        check_scopes(frozenset({"rewards.read", "root"}))


def test_a_retired_key_stays_published_until_its_tokens_expire() -> None:
    key = SigningKey("k1", b"pem", {"kid": "k1"}, KeyStatus.ACTIVE, NOW)
    retired = key.retire(NOW, timedelta(minutes=15))
    assert retired.status is KeyStatus.RETIRING
    assert retired.is_published(NOW + timedelta(minutes=15))
    assert not retired.is_published(NOW + timedelta(minutes=17))


def test_players_read_only_their_own_data() -> None:
    player = Principal(subject="p1", role=Role.PLAYER)
    player.ensure_can_read_player("p1")
    with pytest.raises(PermissionDenied):
        player.ensure_can_read_player("p2")
    Principal(subject="s", role=Role.STAFF).ensure_can_read_player("p2")
    partner = Principal(subject="hotel", scopes=frozenset({"rewards.read"}))
    partner.ensure_can_read_player("p2", scope="rewards.read")
    with pytest.raises(PermissionDenied):
        partner.ensure_can_read_player("p2", scope="rewards.redeem")


def test_a_client_sending_events_names_their_kinds_and_no_other_client_does() -> None:
    write, read = frozenset({"rewards.write"}), frozenset({"rewards.read"})
    assert check_event_sources(write, frozenset({"HOTEL"})) == {"HOTEL"}
    assert check_event_sources(read, frozenset()) == frozenset()
    for scopes, sources in [
        (write, frozenset()),
        (read, frozenset({"HOTEL"})),
        (write, frozenset({"HOTEL", "SPA"})),
    ]:
        with pytest.raises(InvalidEventSources):
            check_event_sources(scopes, sources)


def test_a_disabled_client_is_enabled_at_once() -> None:
    disabled = client({"rewards.read"}).disabled(NOW)
    assert (disabled.status, disabled.disabled_at) == (ClientStatus.DISABLED, NOW)
    enabled = disabled.enabled(NOW + timedelta(seconds=5), "admin-1")
    assert (enabled.status, enabled.disabled_at) == (ClientStatus.ACTIVE, None)
    assert (enabled.updated_at, enabled.updated_by) == (NOW + timedelta(seconds=5), "admin-1")
    assert enabled.enabled(NOW + timedelta(seconds=6)) is enabled


def test_a_planned_rotation_keeps_the_previous_secret_for_a_while_and_a_leak_does_not() -> None:
    current = client({"rewards.read"})
    planned = current.with_secret("new-hash", NOW, "admin-1", timedelta(hours=1))
    assert (planned.previous_secret_hash, planned.previous_secret_expires_at) == (
        "h",
        NOW + timedelta(hours=1),
    )
    assert planned.secret_hashes(NOW + timedelta(minutes=59)) == ["new-hash", "h"]
    assert planned.secret_hashes(NOW + timedelta(hours=1)) == ["new-hash"]
    # Rotating again keeps only the secret it replaces; a leak keeps none.
    again = planned.with_secret("newer-hash", NOW, None, timedelta(minutes=5))
    assert again.secret_hashes(NOW) == ["newer-hash", "new-hash"]
    leaked = planned.with_secret("newest-hash", NOW)
    assert (leaked.previous_secret_hash, leaked.previous_secret_expires_at) == (None, None)
    assert leaked.secret_hashes(NOW) == ["newest-hash"]


def test_a_change_takes_rights_away_when_a_scope_or_an_event_source_goes() -> None:
    writer = client({"rewards.read", "rewards.write"}, {"HOTEL", "DINING"})
    assert not writer.changed(NOW, name="Renamed").takes_rights_from(writer)
    assert not writer.changed(NOW, scopes=writer.scopes | {"rewards.redeem"}).takes_rights_from(
        writer
    )
    assert writer.changed(NOW, event_sources=frozenset({"HOTEL"})).takes_rights_from(writer)
    assert writer.changed(NOW, scopes=frozenset({"rewards.read"})).takes_rights_from(writer)


def test_changing_a_clients_scopes_keeps_its_event_sources_consistent() -> None:
    sender = PartnerClient(
        "spa", "Spa", "h", frozenset({"rewards.write"}), ClientStatus.ACTIVE, NOW,
        event_sources=frozenset({"HOTEL", "DINING"}),
    )  # fmt: skip
    assert sender.changed(NOW, event_sources=frozenset({"HOTEL"})).event_sources == {"HOTEL"}
    reader = sender.changed(NOW, scopes=frozenset({"rewards.read"}))
    assert (reader.scopes, reader.event_sources) == (frozenset({"rewards.read"}), frozenset())
    assert reader.changed(NOW, name="  Spa 2 ").name == "Spa 2"
    with pytest.raises(InvalidEventSources):
        reader.changed(NOW, scopes=frozenset({"rewards.write"}))
    with pytest.raises(UnknownScope):
        sender.changed(NOW, scopes=frozenset({"root"}))


def test_who_may_reset_whose_password() -> None:
    def user(role: Role, user_id: str = "u1") -> User:
        registered = User.register("u@example.com", "h", role, "", "", NOW)
        return replace(registered, id=user_id)

    user(Role.PLAYER).ensure_reset_allowed("staff-1", Role.STAFF)
    user(Role.PLAYER).ensure_reset_allowed("admin-1", Role.ADMIN)
    user(Role.STAFF).ensure_reset_allowed("admin-1", Role.ADMIN)
    for target, actor_id, actor_role in [
        (user(Role.STAFF), "staff-1", Role.STAFF),
        (user(Role.ADMIN), "admin-1", Role.ADMIN),
        (user(Role.STAFF, "staff-1"), "staff-1", Role.STAFF),
        (user(Role.PLAYER), "p2", Role.PLAYER),
        (user(Role.PLAYER), "client", None),
    ]:
        with pytest.raises(ResetNotAllowed):
            target.ensure_reset_allowed(actor_id, actor_role)
    inactive = user(Role.PLAYER).with_status(UserStatus.INACTIVE, NOW)
    with pytest.raises(AccountInactive):
        inactive.ensure_reset_allowed("staff-1", Role.STAFF)


def test_reset_codes_are_unambiguous_and_read_as_typed() -> None:
    codes = {new_reset_code() for _ in range(200)}
    assert len(codes) == 200
    for code in codes:
        assert len(code) == 14
        assert set(code.replace("-", "")) <= set(RESET_CODE_ALPHABET)
    assert not set("01OIL") & set(RESET_CODE_ALPHABET)
    assert normalise_reset_code(" abcd-efgh ijkm ") == "ABCDEFGHIJKM"


def test_status_changes_keep_their_order_whatever_the_clock() -> None:
    # Services apply an account's status changes in the order of these times; a process whose
    # clock is behind the one that made the last change must still date its change after it.
    user = User.register("a@b.co", "h", Role.PLAYER, "", "", NOW)
    deactivated = user.with_status(UserStatus.INACTIVE, NOW + timedelta(seconds=5))
    reactivated = deactivated.with_status(UserStatus.ACTIVE, NOW)  # a clock 5 s behind
    assert reactivated.updated_at == deactivated.updated_at + timedelta(milliseconds=1)
    assert user.with_status(UserStatus.INACTIVE, NOW + timedelta(seconds=9)).updated_at == (
        NOW + timedelta(seconds=9)
    )


def test_every_change_of_an_account_is_dated_after_the_one_before() -> None:
    # A process whose clock is 5 s ahead deactivated and reactivated the account; one with the
    # right clock then changes the password, and an administrator deactivates it there: that
    # deactivation must still be dated after the reactivation, or services would ignore it.
    user = User.register("a@b.co", "h", Role.PLAYER, "", "", NOW)
    ahead = user.with_status(UserStatus.INACTIVE, NOW + timedelta(seconds=5)).with_status(
        UserStatus.ACTIVE, NOW + timedelta(seconds=5)
    )
    reset = ahead.with_password_hash("h2", NOW + timedelta(seconds=1))
    closed = reset.with_status(UserStatus.INACTIVE, NOW + timedelta(seconds=2))
    assert ahead.updated_at < reset.updated_at < closed.updated_at
    partner = replace(client({"rewards.read"}), updated_at=NOW + timedelta(seconds=5))
    renamed = partner.changed(NOW, name="Another name")
    rotated = renamed.with_secret("hash", NOW)
    dates = [c.updated_at for c in (partner, renamed, rotated, rotated.disabled(NOW))]
    assert None not in dates
    assert dates == sorted(dates)  # type: ignore[type-var]
    assert len(set(dates)) == 4


@pytest.mark.parametrize(
    "secret",
    [
        "x" * 31,
        " " * 32,
        "\u00a0" * 40,
        "Kq7vN2xR9pL4mT8w Z3cF6hJ1sD5gB0yA",
        "Kq7vN2xR9pL4mT8wZ3cF6hJ1sD5gB0yA\n",
        "Kq7vN2xR9pL4mT8wZ3cF6hJ1sD5gB0yA\u200b",
        "Kq7vN2xR9pL4mT8wZ3cF6hJ1sD5gB0yA\x00",
        "ab" * 16,
        "abcdefg" * 5,  # seven different characters
    ],
)
def test_a_provisioned_client_secret_is_long_and_random(secret: str) -> None:
    with pytest.raises(WeakClientSecret):
        check_provisioned_secret(secret)


def test_a_random_secret_is_a_provisioned_secret() -> None:
    for secret in (secrets.token_urlsafe(32), secrets.token_hex(16), secrets.token_hex(32)):
        assert check_provisioned_secret(secret) == secret
    # The bounds: 32 characters, 8 different ones.
    assert check_provisioned_secret("abcdefgh" * 4) == "abcdefgh" * 4
