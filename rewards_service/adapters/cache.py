"""Points answers cached in Redis under a per-player generation (O(1) invalidation).

The cache only saves work: when Redis fails, answers are computed from PostgreSQL and a missed
invalidation is bounded by the entries' short TTL. A circuit breaker skips Redis for a few
seconds after a failure, so a Redis that hangs costs one query one timeout, not every query
three (the generation, the entry, the write).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Collection
from datetime import datetime
from typing import Any, TypeVar

import pybreaker
from redis import Redis
from redis.exceptions import RedisError

from rewards_service.application.ports import PointsCache
from rewards_service.domain.earning import EarningSource
from rewards_service.domain.points import PointsSummary, SourceTotal
from shared.observability.logging import get_logger
from shared.resilience import circuit_breaker

log = get_logger(__name__)

T = TypeVar("T")

PREFIX = "rewards:points"


def _generation_key(player_id: str) -> str:
    return f"{PREFIX}:{{{player_id}}}:gen"


def _entry_key(player_id: str, generation: str, query: str) -> str:
    return f"{PREFIX}:{{{player_id}}}:{generation}:{query}"


def _moment(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _encode(summary: PointsSummary) -> str:
    document: dict[str, Any] = {
        "player": summary.player_id,
        "from": summary.start.isoformat() if summary.start else None,
        "to": summary.end.isoformat() if summary.end else None,
        "at": summary.calculated_at.isoformat(),
        "sources": {s.value: [t.points, t.events] for s, t in summary.breakdown.items()},
    }
    return json.dumps(document, separators=(",", ":"))


def _decode(raw: str) -> PointsSummary:
    document = json.loads(raw)
    totals = {
        EarningSource(source): SourceTotal(points=int(points), events=int(events))
        for source, (points, events) in document["sources"].items()
    }
    calculated_at = _moment(document["at"])
    assert calculated_at is not None
    start, end = _moment(document["from"]), _moment(document["to"])
    return PointsSummary.of(document["player"], totals, start, end, calculated_at)


class RedisPointsCache(PointsCache):
    def __init__(
        self,
        redis: Redis,
        ttl_seconds: float,
        generation_ttl_seconds: float = 86_400,
        breaker_fail_max: int = 1,
        breaker_reset_seconds: float = 5.0,
    ) -> None:
        self._redis = redis
        self._ttl = max(1, int(ttl_seconds))
        # Longer than any entry lives, so a generation never restarts under a live entry.
        self._generation_ttl = max(self._ttl * 2, int(generation_ttl_seconds))
        self._breaker = circuit_breaker(
            "points_cache", fail_max=breaker_fail_max, reset_timeout=breaker_reset_seconds
        )

    def _guarded(self, operation: Callable[[], T], failure_event: str) -> T | None:
        """The operation's result, or None when Redis failed or is being skipped."""
        try:
            return self._breaker.call(operation)
        except RedisError as exc:
            log.warning(failure_event, error=str(exc))
        except pybreaker.CircuitBreakerError as exc:
            # Either this failure opened the breaker, or it is open and Redis was skipped
            # (its opening is logged once, and shows in the breaker's metric).
            if isinstance(exc.__context__, RedisError):
                log.warning(failure_event, error=str(exc.__context__))
        return None

    def generation(self, player_id: str) -> str:
        value = self._guarded(
            lambda: self._redis.get(_generation_key(player_id)), "points_cache_unavailable"
        )
        return str(value) if value else "0"

    def get(self, player_id: str, generation: str, query: str) -> PointsSummary | None:
        raw = self._guarded(
            lambda: self._redis.get(_entry_key(player_id, generation, query)),
            "points_cache_unavailable",
        )
        return _decode(str(raw)) if raw else None

    def put(self, player_id: str, generation: str, query: str, summary: PointsSummary) -> None:
        self._guarded(
            lambda: self._redis.set(
                _entry_key(player_id, generation, query), _encode(summary), ex=self._ttl
            ),
            "points_cache_unavailable",
        )

    def invalidate(self, player_ids: Collection[str]) -> None:
        if not player_ids:
            return
        # A fresh random generation: one SET (with its expiry) per player, whatever was there.
        generation = uuid.uuid4().hex[:12]

        def write() -> None:
            pipeline = self._redis.pipeline(transaction=False)
            for player_id in player_ids:
                pipeline.set(_generation_key(player_id), generation, ex=self._generation_ttl)
            pipeline.execute()

        # When it fails the events are committed all the same; answers cached before them
        # expire within the TTL.
        self._guarded(write, "points_cache_invalidation_failed")
