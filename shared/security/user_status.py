"""Which users are inactive, as every service learns it from ``user-status`` events (Redis)."""

from __future__ import annotations

from collections.abc import Collection

from redis import Redis

from shared.application.ports import InactiveUsers


class RedisInactiveUsers(InactiveUsers):
    """One key per inactive user. No expiry: an account stays refused until reactivated."""

    def __init__(self, redis: Redis, prefix: str = "user:inactive:") -> None:
        self._redis = redis
        self._prefix = prefix

    def is_inactive(self, user_id: str) -> bool:
        return bool(self._redis.exists(self._prefix + user_id))

    def inactive_among(self, user_ids: Collection[str]) -> set[str]:
        ids = list(user_ids)
        if not ids:
            return set()
        values = self._redis.mget([self._prefix + user_id for user_id in ids])
        return {user_id for user_id, value in zip(ids, values, strict=True) if value is not None}

    def mark(self, user_id: str, inactive: bool) -> None:
        if inactive:
            self._redis.set(self._prefix + user_id, "1")
        else:
            self._redis.delete(self._prefix + user_id)
