"""Which accounts' tokens are refused, as every service learns it from ``user-status`` events
(Redis): inactive accounts (every token) and revoked tokens (those issued before a moment).

Each service keeps the flags in its own Redis database. Checking them is on the path of every
authenticated request, so each process also holds the (small) set of inactive ids and the
revocations still in force in memory and keeps them current over Redis pub/sub: see
:class:`MirroredInactiveUsers`.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime

from redis import Redis
from redis.client import PubSub

from shared.application.ports import InactiveUsers
from shared.observability.logging import get_logger
from shared.redis_client import database_channel

log = get_logger(__name__)


#: Keep the later of two revocations, expire it with its ``until`` and announce it, at once.
_REVOKE = """
local current = redis.call('GET', KEYS[1])
if current and tonumber(ARGV[1]) <= tonumber(string.match(current, '^%d+') or '0') then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1] .. ':' .. ARGV[2], 'EXAT', ARGV[2])
redis.call('PUBLISH', ARGV[3], ARGV[4])
return 1
"""


#: Apply a status change unless an account's later one was applied already (a replayed event),
#: remember its time, and announce it, at once.
_MARK = """
local last = redis.call('GET', KEYS[2])
if last and tonumber(ARGV[1]) < tonumber(last) then
  return 0
end
redis.call('SET', KEYS[2], ARGV[1])
if ARGV[2] == '1' then
  redis.call('SET', KEYS[1], '1')
else
  redis.call('DEL', KEYS[1])
end
redis.call('PUBLISH', ARGV[3], ARGV[2] .. ':' .. ARGV[4])
return 1
"""


class RedisInactiveUsers(InactiveUsers):
    """One key per inactive user. No expiry: an account stays refused until reactivated.
    One key per revocation (``<revoked prefix><account>`` = ``<issued before>:<until>``, epoch
    seconds), expiring at ``until``, when the tokens it refuses have expired. One key per
    account whose status changed (``<changed prefix><account>``: when, epoch milliseconds), so
    that a replayed older change is ignored.

    Every change is also announced on a channel, in the same transaction (``1:<id>`` when the
    user became inactive, ``0:<id>`` when active again, ``r:<issued before>:<until>:<id>`` for a
    revocation), so that processes mirroring the set (:meth:`subscribe`) apply it at once: Redis
    runs the transactions one after another and delivers their announcements in that order, so
    the last one a mirror applies is the state Redis holds.
    """

    def __init__(
        self,
        redis: Redis,
        prefix: str = "user:inactive:",
        revoked_prefix: str = "user:tokens-revoked:",
        changed_prefix: str = "user:status-changed-at:",
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self._revoked_prefix = revoked_prefix
        self._changed_prefix = changed_prefix
        # Pub/sub is server-wide, the flags are per database: one channel per database.
        self._channel = database_channel(redis, f"{prefix}changes")
        self._revoke = redis.register_script(_REVOKE)
        self._mark = redis.register_script(_MARK)

    def subscribe(self) -> PubSub:
        """A subscription to the ids whose flag changed (its caller closes it)."""
        pubsub: PubSub = self._redis.pubsub()  # type: ignore[no-untyped-call, unused-ignore]
        pubsub.subscribe(self._channel)
        return pubsub

    def is_inactive(self, user_id: str) -> bool:
        return bool(self._redis.exists(self._prefix + user_id))

    def inactive_among(self, user_ids: Collection[str]) -> set[str]:
        ids = list(user_ids)
        if not ids:
            return set()
        values = self._redis.mget([self._prefix + user_id for user_id in ids])
        return {user_id for user_id, value in zip(ids, values, strict=True) if value is not None}

    def all_inactive(self) -> set[str]:
        """Every inactive id (SCAN: never blocks the server)."""
        start = len(self._prefix)
        return {key[start:] for key in self._redis.scan_iter(match=self._prefix + "*", count=1000)}

    def mark(self, user_id: str, inactive: bool, as_of: datetime | None = None) -> bool:
        if as_of is not None:
            applied = self._mark(
                keys=[self._prefix + user_id, self._changed_prefix + user_id],
                args=[
                    int(as_of.timestamp() * 1000),
                    int(inactive),
                    self._channel,
                    user_id,
                ],
            )
            return bool(applied)
        with self._redis.pipeline(transaction=True) as pipe:
            if inactive:
                pipe.set(self._prefix + user_id, "1")
            else:
                pipe.delete(self._prefix + user_id)
            pipe.publish(self._channel, f"{int(inactive)}:{user_id}")
            pipe.execute()
        return True

    def announce_change(self, account: str) -> None:
        # A bare id: mirrors re-read its flag and tell their listeners.
        self._redis.publish(self._channel, account)

    def tokens_revoked(self, account: str, issued_at: int) -> bool:
        revocation = Revocation.parse(self._redis.get(self._revoked_prefix + account))
        return revocation is not None and revocation.refuses(issued_at)

    def revoke_tokens(self, account: str, issued_before: int, until: int) -> None:
        if until <= time.time():
            return  # every token it would refuse has expired already
        announcement = f"r:{issued_before}:{until}:{account}"
        self._revoke(
            keys=[self._revoked_prefix + account],
            args=[issued_before, until, self._channel, announcement],
        )

    def all_revoked(self) -> dict[str, Revocation]:
        """Every revocation in force, by account (SCAN, then MGET per page of keys)."""
        start = len(self._revoked_prefix)
        keys = list(self._redis.scan_iter(match=self._revoked_prefix + "*", count=1000))
        revoked: dict[str, Revocation] = {}
        for offset in range(0, len(keys), 1000):
            chunk = keys[offset : offset + 1000]
            for key, value in zip(chunk, self._redis.mget(chunk), strict=True):
                revocation = Revocation.parse(value)
                if revocation is not None:
                    revoked[key[start:]] = revocation
        return revoked

    @staticmethod
    def announced(data: str) -> tuple[str, bool | Revocation | None]:
        """The account and what an announcement says of it: inactive or not, a revocation, or
        None (a bare id, to be re-read)."""
        state, separator, rest = data.partition(":")
        if separator and state in {"0", "1"}:
            return rest, state == "1"
        if separator and state == "r":
            issued_before, _, rest = rest.partition(":")
            until, _, account = rest.partition(":")
            revocation = Revocation.parse(f"{issued_before}:{until}")
            if revocation is not None and account:
                return account, revocation
        return data, None


@dataclass(frozen=True, slots=True)
class Revocation:
    """Tokens issued before ``issued_before`` are refused until ``until`` (epoch seconds)."""

    issued_before: int
    until: int

    def refuses(self, issued_at: int) -> bool:
        return issued_at < self.issued_before

    @classmethod
    def parse(cls, value: str | bytes | None) -> Revocation | None:
        """``<issued before>:<until>`` as stored and announced (None: absent or unreadable)."""
        if isinstance(value, bytes):
            value = value.decode("ascii", "replace")
        issued_before, _, until = (value or "").partition(":")
        if not (issued_before.isdigit() and until.isdigit()):
            return None
        return cls(int(issued_before), int(until))


class MirroredInactiveUsers(InactiveUsers):
    """The inactive set and the revocations in force, held in memory by each process and
    kept current over Redis pub/sub.

    A listener thread (started on first use, again after a fork) subscribes to the store's
    channel. Every subscription confirmation, the first and each one after a reconnect, reloads
    the whole set and the revocations; every announced change is applied in the order Redis
    made it (an announcement without its state re-reads that user's flag). Until the first
    load, and after the listener loses Redis, answers come from Redis itself, as with
    :class:`RedisInactiveUsers`. A change made by this process is applied to its own mirror at
    once. Revocations are dropped from memory once expired (a token they refused has expired
    too).
    """

    def __init__(self, store: RedisInactiveUsers, retry_seconds: float = 1.0) -> None:
        self._store = store
        self._retry_seconds = retry_seconds
        self._lock = threading.Lock()
        self._ids: frozenset[str] = frozenset()
        self._revoked: dict[str, Revocation] = {}
        self._listeners: list[Callable[[str | None], None]] = []
        self._synced = False
        self._pid: int | None = None
        self._stopped = threading.Event()

    @property
    def synced(self) -> bool:
        """True while answers come from the mirror."""
        return self._synced

    def is_inactive(self, user_id: str) -> bool:
        self._ensure_listening()
        if self._synced:
            return user_id in self._ids
        return self._store.is_inactive(user_id)

    def inactive_among(self, user_ids: Collection[str]) -> set[str]:
        self._ensure_listening()
        if self._synced:
            return set(user_ids) & self._ids
        return self._store.inactive_among(user_ids)

    def mark(self, user_id: str, inactive: bool, as_of: datetime | None = None) -> bool:
        if not self._store.mark(user_id, inactive, as_of):
            return False
        self._set(user_id, inactive)
        return True

    def tokens_revoked(self, account: str, issued_at: int) -> bool:
        self._ensure_listening()
        if self._synced:
            revocation = self._revoked.get(account)
            return revocation is not None and revocation.refuses(issued_at)
        return self._store.tokens_revoked(account, issued_at)

    def revoke_tokens(self, account: str, issued_before: int, until: int) -> None:
        self._store.revoke_tokens(account, issued_before, until)
        self._revoke(account, Revocation(issued_before, until))

    def announce_change(self, account: str) -> None:
        self._store.announce_change(account)

    def close(self) -> None:
        self._stopped.set()

    def on_change(self, listener: Callable[[str | None], None]) -> None:
        """Call ``listener`` (on the listener thread) with the account of every change
        announced, whichever process made it, and with None after each (re)load, when
        anything may have changed."""
        self._listeners.append(listener)

    def _changed(self, account: str | None) -> None:
        for listener in self._listeners:
            try:
                listener(account)
            except Exception:  # a listener must not stop the mirror
                log.warning("inactive_users_listener_failed", exc_info=True)

    def _revoke(self, account: str, revocation: Revocation) -> None:
        now = time.time()
        with self._lock:
            current = self._revoked.get(account)
            if current is not None and current.issued_before >= revocation.issued_before:
                return
            # Copy, prune what expired, swap: readers never lock.
            revoked = {a: r for a, r in self._revoked.items() if r.until > now}
            if revocation.until > now:
                revoked[account] = revocation
            self._revoked = revoked

    def _set(self, user_id: str, inactive: bool) -> None:
        with self._lock:
            self._ids = self._ids | {user_id} if inactive else self._ids - {user_id}

    def _ensure_listening(self) -> None:
        pid = os.getpid()
        if self._pid == pid:
            return
        with self._lock:
            if self._pid == pid:
                return
            # First use in this process (a forked worker inherits no thread): start afresh.
            self._pid = pid
            self._synced = False
            self._ids = frozenset()
            self._revoked = {}
            threading.Thread(target=self._listen, name="inactive-users", daemon=True).start()

    def _listen(self) -> None:
        delay = self._retry_seconds
        while not self._stopped.is_set():
            pubsub: PubSub | None = None
            try:
                pubsub = self._store.subscribe()
                while not self._stopped.is_set():
                    message = pubsub.get_message(timeout=1.0)
                    if message is None:
                        continue
                    if message["type"] == "subscribe":
                        self._reload()
                        delay = self._retry_seconds
                    elif message["type"] == "message":
                        user_id, state = self._store.announced(str(message["data"]))
                        if isinstance(state, Revocation):
                            self._revoke(user_id, state)
                        else:
                            if state is None:
                                state = self._store.is_inactive(user_id)
                            self._set(user_id, state)
                        self._changed(user_id)
            except Exception as exc:  # the listener must outlive any failure
                self._synced = False
                if self._stopped.is_set():  # the client was closed under us at shutdown
                    break
                log.warning("inactive_users_mirror_lost", error=type(exc).__name__, retry_in=delay)
                self._stopped.wait(delay)
                delay = min(delay * 2, 30.0)
            finally:
                if pubsub is not None:
                    with contextlib.suppress(Exception):
                        pubsub.close()
        self._synced = False

    def _reload(self) -> None:
        ids = frozenset(self._store.all_inactive())
        revoked = self._store.all_revoked()
        with self._lock:
            self._ids = ids
            self._revoked = revoked
            self._synced = True
        self._changed(None)
