"""Redis-backed sessions: rotating refresh tokens, login throttling, revoked access tokens,
password reset codes."""

from __future__ import annotations

import hashlib
import secrets
import uuid

from redis import Redis

from auth_service.application.ports import (
    LoginThrottle,
    PasswordResetCodes,
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

    def holder(self, token: str) -> str | None:
        user: str | None = self._redis.hget(f"rt:{_digest(token)}", "user")  # type: ignore[assignment]
        return user

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


# Admits one login attempt, atomically: refused while the account or the address is locked
# out; otherwise counted as a failure up front (a success takes it back), so concurrent guesses
# cannot all pass a check made before any of them had failed. The attempt past a limit locks.
# KEYS: failures and lock key of each scope; ARGV: window, lockout, the limit of each scope.
_ADMIT = """
for i = 1, #KEYS, 2 do
  local ttl = redis.call('TTL', KEYS[i + 1])
  if ttl > 0 then return ttl end
end
for i = 1, #KEYS, 2 do
  redis.call('SET', KEYS[i], 0, 'EX', ARGV[1], 'NX')
  if redis.call('INCR', KEYS[i]) > tonumber(ARGV[2 + (i + 1) / 2]) then
    redis.call('SET', KEYS[i + 1], '1', 'EX', ARGV[2])
    redis.call('DEL', KEYS[i])
    for j = 1, i - 2, 2 do redis.call('DECR', KEYS[j]) end
    return tonumber(ARGV[2])
  end
end
return 0
"""
# A successful attempt no longer counts against its address (the window keeps its expiry).
_TAKE_BACK = """
if redis.call('EXISTS', KEYS[1]) == 1 and tonumber(redis.call('GET', KEYS[1])) > 0 then
  redis.call('DECR', KEYS[1])
end
return 0
"""


class RedisLoginThrottle(LoginThrottle):
    """Failures counted per account and per client address in a sliding window; past the limit
    the account (or address) is locked out for a while. Unknown emails count toward their own
    lockout too, so it reveals nothing about which accounts exist, but not toward the address's
    (ADR 0023). Each attempt is counted when it is admitted (``_ADMIT``), so at most the
    limit's number of passwords are ever checked, however many arrive at once."""

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
        self._admit = redis.register_script(_ADMIT)
        self._take_back = redis.register_script(_TAKE_BACK)

    def _keys(self, email: str, address: str | None) -> list[tuple[str, int]]:
        keys = [(f"login:account:{_digest(email)}", self._max_account)]
        if address:
            keys.append((f"login:address:{_digest(address)}", self._max_address))
        return keys

    def check(self, email: str, address: str | None) -> None:
        keys = self._keys(email, address)
        names = [name for key, _ in keys for name in (f"{key}:failures", f"{key}:lock")]
        limits = [limit for _, limit in keys]
        retry_after = int(self._admit(keys=names, args=[self._window, self._lockout, *limits]))
        if retry_after > 0:
            raise TooManyAttempts(retry_after_seconds=retry_after)

    def record_failure(self, email: str, address: str | None) -> None:
        # Counted by check(); locked out now rather than at the next attempt.
        for key, limit in self._keys(email, address):
            failures = self._redis.get(f"{key}:failures")
            if failures is not None and int(failures) >= limit:
                self._redis.set(f"{key}:lock", "1", ex=self._lockout)
                self._redis.delete(f"{key}:failures")

    def record_unknown(self, email: str, address: str | None) -> None:
        # Counted against the address by check() too: taken back there, kept for the email.
        if address:
            self._take_back(keys=[f"login:address:{_digest(address)}:failures"])
        self.record_failure(email, None)

    def record_success(self, email: str, address: str | None) -> None:
        self._redis.delete(f"login:account:{_digest(email)}:failures")
        if address:
            self._take_back(keys=[f"login:address:{_digest(address)}:failures"])

    def unlock(self, email: str) -> None:
        key = f"login:account:{_digest(email)}"
        self._redis.delete(f"{key}:failures", f"{key}:lock")


class RedisRevokedTokens(RevokedTokens):
    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    def revoke(self, token_id: str, ttl_seconds: int) -> None:
        self._redis.set(f"at:revoked:{token_id}", "1", ex=max(1, ttl_seconds))

    def is_revoked(self, token_id: str) -> bool:
        return bool(self._redis.exists(f"at:revoked:{token_id}"))


# Compare and delete in one step: of concurrent redemptions of one code exactly one succeeds.
_REDEEM = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
"""


class RedisPasswordResetCodes(PasswordResetCodes):
    """``pwreset:<user>`` → the SHA-256 of the code, expiring with it."""

    def __init__(self, redis: Redis, ttl_seconds: int) -> None:
        self._redis = redis
        self._ttl = ttl_seconds
        self._redeem = redis.register_script(_REDEEM)

    def store(self, user_id: str, code: str) -> None:
        self._redis.set(f"pwreset:{user_id}", _digest(code), ex=self._ttl)

    def redeem(self, user_id: str, code: str) -> bool:
        return bool(self._redeem(keys=[f"pwreset:{user_id}"], args=[_digest(code)]))

    def discard(self, user_id: str) -> None:
        self._redis.delete(f"pwreset:{user_id}")
