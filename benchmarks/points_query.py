"""A player's points over HTTP: p50/p99 for players with 10, 10,000 and 100,000 events.

    .venv/bin/python -m benchmarks.points_query [--duration 10] [--connections 8]

Starts the embedded platform (auth, rewards), registers three players, sends their events
through ``reward-events`` (dated over the last two years, so the big history is ~137 events a
day), waits until rewards recorded them all, then measures GET /api/v1/rewards/{playerId}
with a partner token (rewards.read) for each player:

- cached: the same all-time query again and again (Redis answers);
- uncached, all time: ``from`` differs on every request (a moment in 2000, before any event),
  so every answer is computed (whole months from the monthly totals);
- uncached, a 30-day period at random moments: months/days from the totals plus the raw events
  of the two partial edge days.

Target: the 100,000-event player's p99 within 2x the 10-event player's. Needs ``wrk``.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from datetime import UTC, datetime, timedelta

import requests
from sqlalchemy import create_engine

from benchmarks.earning_support import (
    bulk_producer,
    events_for,
    produce_all,
    register_players,
    wait_for_count,
)
from benchmarks.support import WrkResult, embedded_platform, wrk
from rewards_service.adapters.persistence.earning import SqlAlchemyPlayerPointsRepository
from rewards_service.domain.points import plan_window
from shared.persistence.database import normalise_url

SIZES = (10, 10_000, 100_000)


def _database_cost(
    database: str, player: str, runs: int = 300
) -> tuple[float, float, float, float]:
    """The totals statement alone (one connection, no HTTP): p50/p99 in ms for all time and
    for random 30-day periods with partial edge days."""
    engine = create_engine(normalise_url(database))
    rng = random.Random(3)
    now = datetime.now(UTC)
    timings: dict[str, list[float]] = {"all": [], "period": []}
    try:
        with engine.connect() as connection:
            repository = SqlAlchemyPlayerPointsRepository(connection)
            for _ in range(runs):
                start = now - timedelta(seconds=rng.randrange(86400, 700 * 86400))
                for kind, plan in (
                    ("all", plan_window(None, None)),
                    (
                        "period",
                        plan_window(
                            start, start + timedelta(days=30, seconds=rng.randrange(86400))
                        ),
                    ),
                ):
                    began = time.perf_counter()
                    repository.totals(player, plan)
                    timings[kind].append((time.perf_counter() - began) * 1000)
    finally:
        engine.dispose()

    def p(values: list[float], q: int) -> float:
        return statistics.quantiles(values, n=100)[q - 1]

    return (
        p(timings["all"], 50),
        p(timings["all"], 99),
        p(timings["period"], 50),
        p(timings["period"], 99),
    )


_COMMON = """
local threads = 0
function setup(thread)
  thread:set("id", threads)
  threads = threads + 1
end
function init(args)
  offset = (wrk.thread:get("id") or 0) * 5000000
  math.randomseed(os.time() + offset)
  counter = 0
end
"""

_ALL_TIME = (
    _COMMON
    + """
function request()
  counter = counter + 1
  local from = os.date("!%%Y-%%m-%%dT%%H:%%M:%%SZ", 946684800 + offset + counter)
  return wrk.format("GET", "%(path)s?breakdown=true&from=" .. from)
end
"""
)

_PERIOD = (
    _COMMON
    + """
function request()
  counter = counter + 1
  local start = %(now)d - math.random(86400, 700 * 86400)
  local from = os.date("!%%Y-%%m-%%dT%%H:%%M:%%SZ", start)
  local to = os.date("!%%Y-%%m-%%dT%%H:%%M:%%SZ", start + 30 * 86400 + math.random(1, 86399))
  return wrk.format("GET", "%(path)s?breakdown=true&from=" .. from .. "&to=" .. to)
end
"""
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args()
    results: dict[str, dict[int, WrkResult]] = {"cached": {}, "uncached": {}, "period": {}}
    database_costs: dict[int, tuple[float, float, float, float]] = {}
    with embedded_platform(["auth", "rewards"]) as platform:
        bootstrap = platform.servers["kafka"]
        database = platform.cluster.env.postgres_url_for["rewards"]
        players = dict(zip(SIZES, register_players(bootstrap, database, len(SIZES)), strict=True))
        producer = bulk_producer(bootstrap)
        for size, player in players.items():
            produce_all(producer, "reward-events", events_for([player], size, timedelta(days=730)))
        wait_for_count(database, "SELECT count(*) FROM reward_events", sum(SIZES), timeout=900)
        hotel = platform.credentials["clients"]["hotel"]
        token = requests.post(
            f"{platform.url('auth')}/oauth2/token",
            data={"grant_type": "client_credentials", "scope": "rewards.read"},
            auth=(hotel["clientId"], hotel["clientSecret"]),
            timeout=10,
        ).json()["access_token"]
        bearer = f'wrk.headers["Authorization"] = "Bearer {token}"\n'
        base = platform.url("rewards")
        now = int(time.time())
        for size, player in players.items():
            path = f"/api/v1/rewards/{player}"
            totals = requests.get(
                f"{base}{path}",
                params={"breakdown": "true"},
                headers={"Authorization": f"Bearer {token}"},
                timeout=10,
            ).json()
            events = sum(s["events"] for s in totals["breakdown"].values())
            assert events == size, f"expected {size} events, the API counts {events}"
            database_costs[size] = _database_cost(database, player)
            run = {"duration": args.duration, "connections": args.connections}
            wrk(
                f"{base}{path}?breakdown=true",
                duration=2,
                connections=args.connections,
                script=bearer,
            )
            results["cached"][size] = wrk(f"{base}{path}?breakdown=true", script=bearer, **run)
            results["uncached"][size] = wrk(
                f"{base}{path}", script=bearer + _ALL_TIME % {"path": path}, **run
            )
            results["period"][size] = wrk(
                f"{base}{path}", script=bearer + _PERIOD % {"path": path, "now": now}, **run
            )

    print(f"\nmachine load average (1 min) at the end: {os.getloadavg()[0]:.1f}")
    print(
        f"points query: GET /api/v1/rewards/{{playerId}}?breakdown=true, {args.connections} "
        f"connections, {args.duration}s each, rewards under gunicorn (2 gthread workers), "
        f"{os.cpu_count()} CPUs shared with the load generator\n"
    )
    labels = {
        "cached": "cached (Redis)",
        "uncached": "uncached, all time",
        "period": "uncached, 30 days, partial edges",
    }
    print(f"{'query':<34} {'events':>8} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8}")
    for kind, by_size in results.items():
        for size, r in by_size.items():
            print(
                f"{labels[kind]:<34} {size:>8,} {r.requests_per_second:>8.0f} {r.p50_ms:>8.2f} "
                f"{r.p99_ms:>8.2f} {r.non_2xx:>8}"
            )
    print("\nthe totals statement alone (one connection, 300 runs each):")
    print(f"{'events':>8} {'all time p50':>13} {'p99':>7} {'30 days p50':>12} {'p99':>7}  (ms)")
    for size, (all50, all99, period50, period99) in database_costs.items():
        print(f"{size:>8,} {all50:>13.2f} {all99:>7.2f} {period50:>12.2f} {period99:>7.2f}")
    print()
    for kind, by_size in results.items():
        ratio = by_size[SIZES[-1]].p99_ms / by_size[SIZES[0]].p99_ms
        print(f"{labels[kind]:<34} p99 100k / p99 10 = {ratio:.2f} (target ≤ 2)")


if __name__ == "__main__":
    main()
