"""Points credited and redemptions decided per second (targets: >= 5,000 reward-confirmed
awards/s credited; >= 1,000 redemptions/s across 1k players, never an overdraw).

    .venv/bin/python -m benchmarks.redemptions [--duration 15] [--connections 64]
        [--awards 50000] [--partner-requests 20000]

Starts a throw-away platform (auth + redeem: gunicorn web, worker, gRPC) and measures:

1. the ``reward-confirmed`` consumer: ``--awards`` REWARD_CONFIRMED events over 1,000 players
   produced at once, awards credited per second until the last one is in the wallets;
2. the ``redeem-events`` consumer alone: ``--partner-requests`` REDEEM_REQUESTED events produced
   straight to the topic (as partners may), decisions stored per second;
3. the whole REST path: wrk with 64 connections posting ``POST /api/v1/redemptions`` (a partner
   token with ``rewards.redeem`` naming the player; a unique ``Idempotency-Key`` per request),
   first all on one player, then spread over 1,000 players.

For each run it prints: requests/s and p50/p99 of the 202 (wrk), redemptions decided per second
(from the first request to the last decision stored, so the worker's backlog counts),
p50/p99 of request → decision (``decided_at - created_at`` of every redemption), the CPU each
part of the platform spent per redemption (web, worker, PostgreSQL, Kafka, wrk) — the numbers
that stay meaningful on a shared machine — and checks that no balance went below zero, that
each player's balance equals the points credited minus the redemptions confirmed, that every
confirmed redemption has exactly one debit, and that ``manage check-ledger`` finds nothing.
Needs ``wrk`` (Debian package).
"""

from __future__ import annotations

import argparse
import json
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests
from confluent_kafka import Producer
from sqlalchemy import Engine, create_engine, text

from benchmarks.support import (
    BenchPlatform,
    CpuMeter,
    WrkResult,
    embedded_platform,
    platform_cpu_groups,
    wrk,
)
from embedded.services import SERVICES, run_manage
from shared.persistence.database import normalise_url

REDEEM = next(s for s in SERVICES if s.name == "redeem")
REDEMPTION_POINTS = 10

LUA = """
local players = {%(players)s}
local counter = 0
-- thread_id is a global: setup() sets it in each thread's own Lua state.
thread_id = thread_id or 0
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("thread_id", threads)
end

function request()
  counter = counter + 1
  local player = players[(counter * 7 + thread_id) %% #players + 1]
  local body = '{"playerId":"' .. player .. '","points":%(points)d,'
    .. '"rewardDescription":"Benchmark reward"}'
  local headers = {}
  headers["Content-Type"] = "application/json"
  headers["Authorization"] = "Bearer %(token)s"
  headers["Idempotency-Key"] = "%(run)s-" .. thread_id .. "-" .. counter
  return wrk.format("POST", "/api/v1/redemptions", headers, body)
end
"""


@dataclass
class RunResult:
    name: str
    wrk: WrkResult
    accepted: int
    decided: int
    confirmed: int
    decided_per_second: float
    decision_p50_ms: float
    decision_p99_ms: float
    checks: list[str]
    cpu_ms_per_redemption: dict[str, float] = field(default_factory=dict)
    rejected: dict[str, int] = field(default_factory=dict)


def cpu_meter(platform: BenchPlatform) -> CpuMeter:
    """What to measure: the redeem web and worker, PostgreSQL, the broker (wrk apart)."""
    groups = platform_cpu_groups(platform, {"web": "redeem-web", "worker": "redeem-worker"})
    return CpuMeter({part: groups[part] for part in ("web", "worker", "PostgreSQL", "broker")})


def children_cpu() -> float:
    """CPU seconds of our finished children (wrk)."""
    return os.times().children_user + os.times().children_system


def say(message: str) -> None:
    print(message, flush=True)


def credit(bootstrap: str, engine: Engine, balances: dict[str, int]) -> None:
    """Points through the real consumer: one REWARD_CONFIRMED per player."""
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    for player, points in balances.items():
        event = {
            "eventId": str(uuid.uuid4()),
            "eventType": "REWARD_CONFIRMED",
            "version": 1,
            "occurredAt": "2026-01-01T00:00:00.000Z",
            "correlationId": None,
            "user_id": player,
            "pointsAwarded": points,
            "sourceEventId": str(uuid.uuid4()),
            "sourceEventType": "CASINO_SPEND",
        }
        producer.produce("reward-confirmed", key=player.encode(), value=json.dumps(event))
    assert producer.flush(30) == 0
    players = list(balances)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with engine.connect() as connection:
            found = connection.execute(
                text(
                    "SELECT count(*) FROM wallets WHERE player_id = ANY(:p) AND points_balance > 0"
                ),
                {"p": players},
            ).scalar_one()
        if found == len(players):
            return
        time.sleep(0.2)
    raise SystemExit("the points were not credited in time")


@dataclass
class ConsumerRun:
    name: str
    events: int
    seconds: float
    cpu_ms_per_event: dict[str, float]

    @property
    def per_second(self) -> float:
        return self.events / self.seconds


def produce_all(bootstrap: str, topic: str, events: list[dict[str, Any]]) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    for event in events:
        producer.produce(topic, key=event["user_id"].encode(), value=json.dumps(event))
        producer.poll(0)
    assert producer.flush(60) == 0


def envelope(event_type: str, player: str, **data: Any) -> dict[str, Any]:
    return {
        "eventId": str(uuid.uuid4()),
        "eventType": event_type,
        "version": 1,
        "occurredAt": "2026-01-01T00:00:00.000Z",
        "correlationId": None,
        "user_id": player,
        **data,
    }


def timed_until(
    platform: BenchPlatform, done: Callable[[], bool], start: Callable[[], None]
) -> tuple[float, dict[str, float]]:
    """Run ``start``, then wait for ``done``: the seconds it took and the CPU each part spent."""
    meter = cpu_meter(platform)
    began = time.monotonic()
    start()
    deadline = began + 600
    while not done():
        if time.monotonic() > deadline:
            raise SystemExit("the consumer did not catch up in 10 minutes")
        time.sleep(0.05)
    elapsed = time.monotonic() - began
    return elapsed, meter.used()


def measure_awards(platform: BenchPlatform, engine: Engine, count: int) -> ConsumerRun:
    run = uuid.uuid4().hex[:8]
    players = [f"awards-{run}-{i:04d}" for i in range(1000)]
    events = [
        envelope(
            "REWARD_CONFIRMED",
            players[i % len(players)],
            pointsAwarded=1 + i % 9,
            sourceEventId=str(uuid.uuid4()),
            sourceEventType="DINING",
            partnerId="dining",
        )
        for i in range(count)
    ]
    expected = sum(int(e["pointsAwarded"]) for e in events)

    def credited() -> bool:
        with engine.connect() as connection:
            total = connection.execute(
                text(
                    "SELECT COALESCE(sum(points_balance), 0) FROM wallets WHERE player_id = ANY(:p)"
                ),
                {"p": players},
            ).scalar_one()
        return int(total) == expected

    say(f"[awards] producing {count} REWARD_CONFIRMED over {len(players)} players")
    seconds, spent = timed_until(
        platform,
        credited,
        lambda: produce_all(platform.servers["kafka"], "reward-confirmed", events),
    )
    with engine.connect() as connection:
        lines = connection.execute(
            text("SELECT count(*) FROM transactions WHERE player_id = ANY(:p)"), {"p": players}
        ).scalar_one()
    if lines != count:
        raise SystemExit(f"{lines} log lines for {count} awards")
    return ConsumerRun("awards credited", count, seconds, per_event(spent, count))


def measure_partner_requests(
    platform: BenchPlatform, engine: Engine, count: int
) -> tuple[ConsumerRun, list[str]]:
    run = uuid.uuid4().hex[:8]
    players = [f"partner-{run}-{i:04d}" for i in range(1000)]
    # About half can be confirmed; at least one each (a player with no points is never
    # credited, so fewer requests than players would wait for that forever).
    each = max(REDEMPTION_POINTS, count * REDEMPTION_POINTS // (2 * len(players)))
    credit(platform.servers["kafka"], engine, dict.fromkeys(players, each))
    events = [
        envelope(
            "REDEEM_REQUESTED",
            players[i % len(players)],
            redeemRequestId=str(uuid.uuid4()),
            points=REDEMPTION_POINTS,
            rewardDescription="Benchmark reward",
            requestedBy="casino",
        )
        for i in range(count)
    ]

    def decided() -> bool:
        with engine.connect() as connection:
            found = connection.execute(
                text(
                    "SELECT count(*) FROM redemptions WHERE player_id = ANY(:p) "
                    "AND status <> 'PENDING'"
                ),
                {"p": players},
            ).scalar_one()
        return int(found) == count

    say(f"[partner requests] producing {count} REDEEM_REQUESTED over {len(players)} players")
    seconds, spent = timed_until(
        platform, decided, lambda: produce_all(platform.servers["kafka"], "redeem-events", events)
    )
    with engine.connect() as connection:
        problems = verify(connection, None, players, each)
    return ConsumerRun("partner redemptions decided", count, seconds, per_event(spent, count)), (
        problems
    )


def per_event(spent: dict[str, float], count: int) -> dict[str, float]:
    return {part: seconds * 1000 / max(1, count) for part, seconds in spent.items()}


def wait_decided(engine: Engine, run: str, timeout: float = 300) -> None:
    """Until every request of the run is decided and no more arrive (requests wrk gave up on
    may still be on their way through the web processes when it stops)."""
    deadline = time.monotonic() + timeout
    last: tuple[int, int] | None = None
    while time.monotonic() < deadline:
        with engine.connect() as connection:
            row = connection.execute(
                text(
                    "SELECT count(*) AS total, count(*) FILTER (WHERE status = 'PENDING') "
                    "AS pending FROM redemptions WHERE idempotency_key LIKE :run"
                ),
                {"run": f"{run}-%"},
            ).one()
        now = (int(row.total), int(row.pending))
        if now[1] == 0 and now == last:
            return
        last = now
        time.sleep(0.5)
    raise SystemExit("redemptions still pending after the run")


def measure(
    platform: BenchPlatform,
    engine: Engine,
    token: str,
    name: str,
    players: int,
    points_each: int,
    args: argparse.Namespace,
) -> RunResult:
    run = uuid.uuid4().hex[:8]
    ids = [f"bench-{run}-{i:04d}" for i in range(players)]
    balances = dict.fromkeys(ids, points_each)
    say(f"[{name}] crediting {players} player(s) with {points_each} points each")
    credit(platform.servers["kafka"], engine, balances)
    script = LUA % {
        "players": ", ".join(f'"{p}"' for p in ids),
        "points": REDEMPTION_POINTS,
        "token": token,
        "run": run,
    }
    url = f"{platform.url('redeem')}/api/v1/redemptions"
    say(f"[{name}] wrk: {args.connections} connections, {args.duration}s")
    meter = cpu_meter(platform)
    wrk_before = children_cpu()
    result = wrk(url, args.duration, args.connections, threads=2, script=script)
    wait_decided(engine, run)
    spent = {**meter.used(), "wrk": children_cpu() - wrk_before}
    with engine.connect() as connection:
        stats = connection.execute(
            text(
                """
                SELECT count(*) AS total,
                       count(*) FILTER (WHERE status = 'CONFIRMED') AS confirmed,
                       EXTRACT(EPOCH FROM max(decided_at) - min(created_at)) AS span,
                       percentile_cont(0.5) WITHIN GROUP (
                           ORDER BY EXTRACT(EPOCH FROM decided_at - created_at)) AS p50,
                       percentile_cont(0.99) WITHIN GROUP (
                           ORDER BY EXTRACT(EPOCH FROM decided_at - created_at)) AS p99
                FROM redemptions WHERE idempotency_key LIKE :run
                """
            ),
            {"run": f"{run}-%"},
        ).one()
        checks = verify(connection, run, ids, points_each)
        reasons: dict[str, int] = dict(
            connection.execute(
                text(
                    "SELECT reason, count(*) FROM redemptions WHERE idempotency_key LIKE :run "
                    "AND status = 'REJECTED' GROUP BY reason"
                ),
                {"run": f"{run}-%"},
            ).all()
        )
    return RunResult(
        name=name,
        wrk=result,
        accepted=int(stats.total),
        decided=int(stats.total),
        confirmed=int(stats.confirmed),
        decided_per_second=float(stats.total) / float(stats.span or 1),
        decision_p50_ms=float(stats.p50 or 0) * 1000,
        decision_p99_ms=float(stats.p99 or 0) * 1000,
        checks=checks,
        rejected=reasons,
        cpu_ms_per_redemption={
            part: seconds * 1000 / max(1, int(stats.total)) for part, seconds in spent.items()
        },
    )


def verify(connection: Any, run: str | None, players: list[str], points_each: int) -> list[str]:
    """Never below zero; balance = credited - confirmed; one debit per confirmed redemption."""
    problems: list[str] = []
    rows = connection.execute(
        text(
            """
            SELECT w.player_id, w.points_balance,
                   COALESCE(SUM(r.points) FILTER (WHERE r.status = 'CONFIRMED'), 0) AS spent
            FROM wallets w LEFT JOIN redemptions r ON r.player_id = w.player_id
            WHERE w.player_id = ANY(:players)
            GROUP BY w.player_id, w.points_balance
            """
        ),
        {"players": players},
    ).all()
    for row in rows:
        if row.points_balance < 0:
            problems.append(f"{row.player_id} below zero: {row.points_balance}")
        if row.points_balance != points_each - row.spent:
            problems.append(f"{row.player_id}: {row.points_balance} != {points_each - row.spent}")
    unmatched = connection.execute(
        text(
            """
            SELECT count(*) FROM redemptions r
            LEFT JOIN transactions t ON t.idempotency_key = 'redeem:' || r.id::text
            WHERE r.player_id = ANY(:players)
              AND (r.status = 'CONFIRMED') <> (t.id IS NOT NULL)
            """
        ),
        {"players": players},
    ).scalar_one()
    if unmatched:
        problems.append(f"{unmatched} redemption(s) without exactly their debit")
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--players", type=int, default=1000)
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--worker-class", default="gthread")
    parser.add_argument("--threads", type=int, default=8, help="gthread threads per web worker")
    parser.add_argument("--awards", type=int, default=50_000)
    parser.add_argument("--partner-requests", type=int, default=20_000)
    parser.add_argument("--skip-rest", action="store_true", help="only the consumer runs")
    args = parser.parse_args()
    extra = {"GUNICORN_WORKER_CLASS": args.worker_class, "GUNICORN_THREADS": str(args.threads)}
    with embedded_platform(["auth", "redeem"], web_workers=args.web_workers, extra_env=extra) as p:
        engine = create_engine(normalise_url(p.cluster.env.postgres_url_for["redeem"]))
        hotel = p.credentials["clients"]["hotel"]
        token = requests.post(
            f"{p.url('auth')}/oauth2/token",
            data={"grant_type": "client_credentials", "scope": "rewards.redeem"},
            auth=(hotel["clientId"], hotel["clientSecret"]),
            timeout=10,
        ).json()["access_token"]
        consumers = [measure_awards(p, engine, args.awards)]
        partner, partner_problems = measure_partner_requests(p, engine, args.partner_requests)
        consumers.append(partner)
        results: list[RunResult] = []
        if not args.skip_rest:
            say("warming up")
            warm_up = argparse.Namespace(duration=3, connections=args.connections)
            measure(p, engine, token, "warm-up", 10, 100_000, warm_up)
            # One hot balance that runs out after 1,000 redemptions: the rest must be rejected.
            hot_balance = 1000 * REDEMPTION_POINTS
            results = [
                measure(p, engine, token, "1 player", 1, hot_balance, args),
                measure(p, engine, token, f"{args.players} players", args.players, 500, args),
            ]
        ledger = run_manage(REDEEM, p.cluster.env.for_service(REDEEM), "check-ledger").strip()
        engine.dispose()
    load = os.getloadavg()
    say(
        f"\nredeem_service: {args.web_workers} {args.worker_class} web workers "
        f"({args.threads} threads), one worker "
        f"process, {args.connections} connections, {args.duration}s per run, "
        f"{os.cpu_count()} CPUs shared with wrk, PostgreSQL and Kafka; load {load[0]:.1f}\n"
    )
    for c in consumers:
        parts = ", ".join(f"{part} {ms:.3f}" for part, ms in c.cpu_ms_per_event.items())
        say(
            f"{c.name}: {c.events} in {c.seconds:.1f}s = {c.per_second:.0f}/s; CPU ms each: {parts}"
        )
    say(
        "partner redemptions: "
        + (
            "no overdraw; balances and debits match"
            if not partner_problems
            else str(partner_problems)
        )
    )
    say("")
    say(
        f"{'run':<12} {'req/s':>7} {'202 p50':>9} {'202 p99':>9} {'non-2xx':>7} "
        f"{'decided':>8} {'confirmed':>9} {'decided/s':>9} {'decision p50':>12} "
        f"{'decision p99':>12}"
    )
    for r in results:
        say(
            f"{r.name:<12} {r.wrk.requests_per_second:>7.0f} {r.wrk.p50_ms:>6.1f} ms "
            f"{r.wrk.p99_ms:>6.1f} ms {r.wrk.non_2xx:>7} {r.decided:>8} {r.confirmed:>9} "
            f"{r.decided_per_second:>9.0f} {r.decision_p50_ms:>9.1f} ms "
            f"{r.decision_p99_ms:>9.1f} ms"
        )
    say("\nCPU per redemption (ms):")
    for r in results:
        parts = ", ".join(f"{part} {ms:.2f}" for part, ms in r.cpu_ms_per_redemption.items())
        say(f"  {r.name:<12} {parts}")
    say(f"\ncheck-ledger: {ledger}")
    for r in results:
        verdict = "no overdraw; balances and debits match" if not r.checks else r.checks
        say(
            f"{r.name}: {verdict}; rejected {r.rejected or 'none'}"
            f"{'; ' + r.wrk.errors if r.wrk.errors else ''}"
        )


if __name__ == "__main__":
    main()
