"""Which users are inactive, as every service learns it from ``user-status`` events (Redis).

Each service keeps the flags in its own Redis database. Checking a flag is on the path of every
authenticated request, so each process also holds the (small) set of inactive ids in memory and
keeps it current over Redis pub/sub: see :class:`MirroredInactiveUsers`.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Collection

from redis import Redis
from redis.client import PubSub

from shared.application.ports import InactiveUsers
from shared.observability.logging import get_logger

log = get_logger(__name__)


class RedisInactiveUsers(InactiveUsers):
    """One key per inactive user. No expiry: an account stays refused until reactivated.

    Every change is also announced on a channel, in the same transaction (``1:<id>`` when the
    user became inactive, ``0:<id>`` when active again), so that processes mirroring the set
    (:meth:`subscribe`) apply it at once: Redis runs the transactions one after another and
    delivers their announcements in that order, so the last one a mirror applies is the state
    Redis holds.
    """

    def __init__(self, redis: Redis, prefix: str = "user:inactive:") -> None:
        self._redis = redis
        self._prefix = prefix
        database = redis.connection_pool.connection_kwargs.get("db", 0)
        # Pub/sub is server-wide, the flags are per database: one channel per database.
        self._channel = f"{prefix}changes:{database}"

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

    def mark(self, user_id: str, inactive: bool) -> None:
        with self._redis.pipeline(transaction=True) as pipe:
            if inactive:
                pipe.set(self._prefix + user_id, "1")
            else:
                pipe.delete(self._prefix + user_id)
            pipe.publish(self._channel, f"{int(inactive)}:{user_id}")
            pipe.execute()

    @staticmethod
    def announced(data: str) -> tuple[str, bool | None]:
        """The user id and state of an announcement (None: a bare id, to be re-read)."""
        state, separator, user_id = data.partition(":")
        if separator and state in {"0", "1"}:
            return user_id, state == "1"
        return data, None


class MirroredInactiveUsers(InactiveUsers):
    """The inactive set held in memory by each process, kept current over Redis pub/sub.

    A listener thread (started on first use, again after a fork) subscribes to the store's
    channel. Every subscription confirmation, the first and each one after a reconnect, reloads
    the whole set; every announced change is applied in the order Redis made it (an announcement
    without its state re-reads that user's flag). Until the first load, and after the listener
    loses Redis, answers come from Redis itself, as with :class:`RedisInactiveUsers`. A change
    made by this process is applied to its own mirror at once.
    """

    def __init__(self, store: RedisInactiveUsers, retry_seconds: float = 1.0) -> None:
        self._store = store
        self._retry_seconds = retry_seconds
        self._lock = threading.Lock()
        self._ids: frozenset[str] = frozenset()
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

    def mark(self, user_id: str, inactive: bool) -> None:
        self._store.mark(user_id, inactive)
        self._set(user_id, inactive)

    def close(self) -> None:
        self._stopped.set()

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
                        user_id, inactive = self._store.announced(str(message["data"]))
                        if inactive is None:
                            inactive = self._store.is_inactive(user_id)
                        self._set(user_id, inactive)
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
        with self._lock:
            self._ids = ids
            self._synced = True
