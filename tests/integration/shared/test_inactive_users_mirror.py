"""The in-memory mirror of inactive users against a real Redis: it follows changes made by other
processes, reloads after losing its subscription, keeps databases apart, and carries token
revocations the same way."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from redis import Redis

from embedded.services import redis_url_for
from shared.redis_client import create_redis
from shared.security.user_status import MirroredInactiveUsers, RedisInactiveUsers, Revocation
from tests.support.e2e import wait_until
from tests.support.infra import Infra

DB = 9
OTHER_DB = 10


@pytest.fixture
def clients(infra: Infra) -> Iterator[tuple[Redis, Redis]]:
    first = create_redis(redis_url_for(infra.redis_url, DB))
    other = create_redis(redis_url_for(infra.redis_url, OTHER_DB))
    yield first, other
    first.close()
    other.close()


@pytest.fixture
def mirrors(clients: tuple[Redis, Redis]) -> Iterator[list[MirroredInactiveUsers]]:
    made: list[MirroredInactiveUsers] = []
    yield made
    for mirror in made:
        mirror.close()


def mirror_of(redis: Redis, made: list[MirroredInactiveUsers]) -> MirroredInactiveUsers:
    mirror = MirroredInactiveUsers(RedisInactiveUsers(redis), retry_seconds=0.1)
    made.append(mirror)
    mirror.is_inactive("warm-up")  # starts the listener
    wait_until(lambda: mirror.synced, timeout=10)
    return mirror


def test_a_change_made_elsewhere_reaches_the_mirror_and_its_maker_at_once(
    clients: tuple[Redis, Redis], mirrors: list[MirroredInactiveUsers]
) -> None:
    redis, _ = clients
    maker, follower = mirror_of(redis, mirrors), mirror_of(redis, mirrors)
    user = str(uuid.uuid4())

    maker.mark(user, inactive=True)
    assert maker.is_inactive(user)
    wait_until(lambda: follower.is_inactive(user), timeout=5)
    assert follower.inactive_among([user, "someone-else"]) == {user}

    maker.mark(user, inactive=False)
    assert not maker.is_inactive(user)
    wait_until(lambda: not follower.is_inactive(user), timeout=5)
    assert follower.synced, "answers came from the mirror, not from Redis"


def test_a_new_process_loads_every_inactive_user_and_answers_from_redis_until_then(
    clients: tuple[Redis, Redis], mirrors: list[MirroredInactiveUsers]
) -> None:
    redis, _ = clients
    users = [str(uuid.uuid4()) for _ in range(1500)]  # more than one SCAN page
    for user in users:
        RedisInactiveUsers(redis).mark(user, inactive=True)

    late = MirroredInactiveUsers(RedisInactiveUsers(redis))
    mirrors.append(late)
    assert late.is_inactive(users[0])  # before the load: straight from Redis
    wait_until(lambda: late.synced, timeout=10)
    assert late.inactive_among(users) == set(users)
    assert not late.is_inactive(str(uuid.uuid4()))


def test_after_losing_its_subscription_the_mirror_reloads_what_it_missed(
    clients: tuple[Redis, Redis], mirrors: list[MirroredInactiveUsers]
) -> None:
    redis, _ = clients
    mirror = mirror_of(redis, mirrors)
    missed = str(uuid.uuid4())
    # Written without an announcement, as a change published while the mirror was disconnected.
    redis.set("user:inactive:" + missed, "1")
    assert not mirror.is_inactive(missed)

    assert redis.client_kill_filter(_type="pubsub") >= 1

    wait_until(lambda: mirror.is_inactive(missed), timeout=10)


def test_each_database_keeps_its_own_flags(
    clients: tuple[Redis, Redis], mirrors: list[MirroredInactiveUsers]
) -> None:
    redis, other_redis = clients
    here, maker_here = mirror_of(redis, mirrors), mirror_of(redis, mirrors)
    there = mirror_of(other_redis, mirrors)
    user, sentinel = str(uuid.uuid4()), str(uuid.uuid4())

    there.mark(user, inactive=True)
    maker_here.mark(sentinel, inactive=True)  # published after, so seen after
    wait_until(lambda: here.is_inactive(sentinel), timeout=5)

    assert not here.is_inactive(user)
    assert there.is_inactive(user)


def test_announcements_carry_their_state_and_a_bare_id_is_re_read(
    clients: tuple[Redis, Redis], mirrors: list[MirroredInactiveUsers]
) -> None:
    redis, _ = clients
    follower = mirror_of(redis, mirrors)
    channel = f"user:inactive:changes:{DB}"
    announced, re_read = str(uuid.uuid4()), str(uuid.uuid4())

    # The state travels with the announcement: applied without looking at the key.
    redis.publish(channel, f"1:{announced}")
    wait_until(lambda: follower.is_inactive(announced), timeout=5)
    redis.publish(channel, f"0:{announced}")
    wait_until(lambda: not follower.is_inactive(announced), timeout=5)

    # A bare id (as a process of the previous release announces) is re-read from Redis.
    redis.set(f"user:inactive:{re_read}", "1")
    redis.publish(channel, re_read)
    wait_until(lambda: follower.is_inactive(re_read), timeout=5)
    assert follower.synced


def test_a_revocation_reaches_every_mirror_and_only_a_later_one_replaces_it(
    clients: tuple[Redis, Redis], mirrors: list[MirroredInactiveUsers]
) -> None:
    redis, _ = clients
    maker, follower = mirror_of(redis, mirrors), mirror_of(redis, mirrors)
    account = f"client:{uuid.uuid4().hex}"
    now = int(time.time())

    maker.revoke_tokens(account, issued_before=now, until=now + 60)
    assert maker.tokens_revoked(account, now - 1)
    wait_until(lambda: follower.tokens_revoked(account, now - 1), timeout=5)
    assert not follower.tokens_revoked(account, now)
    assert not follower.tokens_revoked(account.removeprefix("client:"), now - 1)
    assert 55 <= redis.ttl(f"user:tokens-revoked:{account}") <= 60

    # An older revocation arriving late changes nothing; a newer one moves the line.
    follower.revoke_tokens(account, issued_before=now - 30, until=now + 30)
    assert RedisInactiveUsers(redis).tokens_revoked(account, now - 1)
    maker.revoke_tokens(account, issued_before=now + 5, until=now + 65)
    wait_until(lambda: follower.tokens_revoked(account, now + 4), timeout=5)
    assert follower.tokens_revoked(account, now - 1)

    # One that has expired already is not stored at all.
    stale = f"client:{uuid.uuid4().hex}"
    maker.revoke_tokens(stale, issued_before=now - 100, until=now - 1)
    assert not redis.exists(f"user:tokens-revoked:{stale}")


def test_a_new_process_loads_the_revocations_in_force(
    clients: tuple[Redis, Redis], mirrors: list[MirroredInactiveUsers]
) -> None:
    redis, _ = clients
    store = RedisInactiveUsers(redis)
    now = int(time.time())
    accounts = [str(uuid.uuid4()) for _ in range(1200)]  # more than one SCAN page
    for account in accounts:
        store.revoke_tokens(account, issued_before=now, until=now + 60)
    late = mirror_of(redis, mirrors)
    assert all(late.tokens_revoked(account, now - 1) for account in accounts)
    assert not late.tokens_revoked(accounts[0], now)
    assert late.synced


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("1:u1", ("u1", True)),
        ("0:client:c1", ("client:c1", False)),
        ("r:100:200:client:c1", ("client:c1", Revocation(100, 200))),
        ("r:100:x:u1", ("r:100:x:u1", None)),
        ("r:100:200:", ("r:100:200:", None)),
        ("u1", ("u1", None)),
    ],
)
def test_announcements_are_read_with_their_state(
    data: str, expected: tuple[str, bool | Revocation | None]
) -> None:
    assert RedisInactiveUsers.announced(data) == expected


def test_listeners_hear_every_announced_change_and_each_reload(
    clients: tuple[Redis, Redis], mirrors: list[MirroredInactiveUsers]
) -> None:
    redis, _ = clients
    heard: list[str | None] = []
    follower = MirroredInactiveUsers(RedisInactiveUsers(redis), retry_seconds=0.1)
    mirrors.append(follower)
    follower.on_change(heard.append)

    def failing(_account: str | None) -> None:
        raise RuntimeError("a failing listener stops nothing")

    follower.on_change(failing)
    follower.is_inactive("warm-up")
    wait_until(lambda: heard == [None], timeout=10, what="the first load heard")
    maker = mirror_of(redis, mirrors)
    disabled, rotated = f"client:{uuid.uuid4().hex}", f"client:{uuid.uuid4().hex}"
    changed = f"client:{uuid.uuid4().hex}"
    maker.mark(disabled, inactive=True)
    maker.revoke_tokens(rotated, issued_before=int(time.time()), until=int(time.time()) + 60)
    maker.announce_change(changed)
    wait_until(
        lambda: heard == [None, disabled, rotated, changed], timeout=5, what="the changes heard"
    )
    assert follower.is_inactive(disabled)
    assert not follower.is_inactive(changed)


def test_a_replayed_older_status_change_does_not_undo_a_later_one(
    clients: tuple[Redis, Redis], mirrors: list[MirroredInactiveUsers]
) -> None:
    redis, _ = clients
    maker, follower = mirror_of(redis, mirrors), mirror_of(redis, mirrors)
    user = str(uuid.uuid4())
    deactivated = datetime(2026, 12, 7, 20, 0, 0, tzinfo=UTC)
    reactivated = deactivated + timedelta(minutes=5)
    deactivated_again = reactivated + timedelta(milliseconds=1)

    assert maker.mark(user, inactive=True, as_of=deactivated)
    assert maker.mark(user, inactive=False, as_of=reactivated)
    assert maker.mark(user, inactive=True, as_of=deactivated_again)
    # The reactivation's record read again (a replayed dead letter, a reset offset).
    assert not maker.mark(user, inactive=False, as_of=reactivated)
    assert maker.is_inactive(user)
    wait_until(lambda: follower.is_inactive(user), timeout=5)
    time.sleep(0.2)
    assert follower.is_inactive(user)
    assert RedisInactiveUsers(redis).is_inactive(user)
    # The same the other way round: an old deactivation does not lock a reactivated account.
    assert maker.mark(user, inactive=False, as_of=deactivated_again + timedelta(seconds=1))
    assert not maker.mark(user, inactive=True, as_of=deactivated)
    assert not RedisInactiveUsers(redis).is_inactive(user)
    # The state read from auth's database is applied whatever came before.
    assert maker.mark(user, inactive=True)
    assert RedisInactiveUsers(redis).is_inactive(user)
