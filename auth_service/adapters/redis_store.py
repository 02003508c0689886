"""Redis-backed sessions: rotating refresh tokens, login throttling, revoked access tokens."""

from __future__ import annotations

import hashlib
import secrets
import uuid

from redis import Redis

from auth_service.application.ports import (
    LoginThrottle,
    RefreshGrant,
    RefreshTokenStore,
    RevokedTokens,
)
from auth_service.domain.exceptions import (
    InvalidRefreshToken,
    RefreshTokenReused,
    TooManyAttempts,
)


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


# Atomic "use once": concurrent refreshes with one token see exactly one 'ok'. A token already
# used means it was stolen or replayed, so its whole family (every descendant token) dies.
_CONSUME = """
local token = redis.call('HMGET', KEYS[1], 'user', 'family', 'used')
if not token[1] then return {'missing'} end
local family_key = ARGV[1] .. token[2]
if redis.call('EXISTS', family_key) == 0 then return {'revoked'} end
if token[3] == '1' then
  redis.call('DEL', family_key)
  return {'reused', token[1], token[2]}
end
redis.call('HSET', KEYS[1], 'used', '1')
return {'ok', token[1], token[2]}
"""


class RedisRefreshTokenStore(RefreshTokenStore):
    """Opaque tokens; Redis keeps only their SHA-256, so a dump of Redis holds no usable token.

    ``rt:<digest>`` → user, family, used · ``rtf:<family>`` exists while the family is alive ·
    ``rtu:<user>`` → the user's families (for revoking them all).
    """

    def __init__(self, redis: Redis, ttl_seconds: int) -> None:
        self._redis = redis
        self._ttl = ttl_seconds
        self._consume = redis.register_script(_CONSUME)

    def issue(self, user_id: str, family_id: str | None = None) -> str:
        token = secrets.token_urlsafe(32)
        family = family_id or uuid.uuid4().hex
        pipe = self._redis.pipeline(transaction=True)
        pipe.hset(f"rt:{_digest(token)}", mapping={"user": user_id, "family": family, "used": "0"})
        pipe.expire(f"rt:{_digest(token)}", self._ttl)
        if family_id is None:
            pipe.set(f"rtf:{family}", user_id, ex=self._ttl)
        else:
            # Only extend a family that is still alive: a revocation that raced the rotation wins.
            pipe.set(f"rtf:{family}", user_id, ex=self._ttl, xx=True)
        pipe.sadd(f"rtu:{user_id}", family)
        pipe.expire(f"rtu:{user_id}", self._ttl)
        pipe.execute()
        return token

    def consume(self, token: str) -> RefreshGrant:
        result = self._consume(keys=[f"rt:{_digest(token)}"], args=["rtf:"])
        outcome = result[0]
        if outcome == "ok":
            return RefreshGrant(user_id=result[1], family_id=result[2])
        if outcome == "reused":
            raise RefreshTokenReused()
        raise InvalidRefreshToken()

    def revoke(self, token: str) -> None:
        key = f"rt:{_digest(token)}"
        family: str | None = self._redis.hget(key, "family")  # type: ignore[assignment]
        pipe = self._redis.pipeline(transaction=True)
        if family:
            pipe.delete(f"rtf:{family}")
        pipe.delete(key)
        pipe.execute()

    def revoke_user(self, user_id: str) -> None:
        families: set[str] = self._redis.smembers(f"rtu:{user_id}")  # type: ignore[assignment]
        pipe = self._redis.pipeline(transaction=True)
        for family in families:
            pipe.delete(f"rtf:{family}")
        pipe.delete(f"rtu:{user_id}")
        pipe.execute()


class RedisLoginThrottle(LoginThrottle):
    """Failures counted per account and per client address in a sliding window; past the limit
    the account (or address) is locked out for a while. Unknown emails count too, so a lockout
    reveals nothing about which accounts exist."""

    def __init__(
        self,
        redis: Redis,
        max_per_account: int,
        max_per_address: int,
        window_seconds: int,
        lockout_seconds: int,
    ) -> None:
        self._redis = redis
        self._max_account = max_per_account
        self._max_address = max_per_address
        self._window = window_seconds
        self._lockout = lockout_seconds

    def _keys(self, email: str, address: str | None) -> list[tuple[str, int]]:
        keys = [(f"login:account:{_digest(email)}", self._max_account)]
        if address:
            keys.append((f"login:address:{_digest(address)}", self._max_address))
        return keys

    def check(self, email: str, address: str | None) -> None:
        pipe = self._redis.pipeline(transaction=False)
        for key, _limit in self._keys(email, address):
            pipe.ttl(f"{key}:lock")
        remaining = [int(t) for t in pipe.execute() if t and int(t) > 0]
        if remaining:
            raise TooManyAttempts(retry_after_seconds=max(remaining))

    def record_failure(self, email: str, address: str | None) -> None:
        for key, limit in self._keys(email, address):
            pipe = self._redis.pipeline(transaction=True)
            # SET NX starts the window on the first failure; INCR keeps its expiry.
            pipe.set(f"{key}:failures", 0, ex=self._window, nx=True)
            pipe.incr(f"{key}:failures")
            failures = int(pipe.execute()[1])
            if failures >= limit:
                self._redis.set(f"{key}:lock", "1", ex=self._lockout)
                self._redis.delete(f"{key}:failures")

    def record_success(self, email: str) -> None:
        self._redis.delete(f"login:account:{_digest(email)}:failures")


class RedisRevokedTokens(RevokedTokens):
    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    def revoke(self, token_id: str, ttl_seconds: int) -> None:
        self._redis.set(f"at:revoked:{token_id}", "1", ex=max(1, ttl_seconds))

    def is_revoked(self, token_id: str) -> bool:
        return bool(self._redis.exists(f"at:revoked:{token_id}"))
