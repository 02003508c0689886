"""Sustained ingestion of partner events: from producing to ``reward-events`` until every event's
REWARD_CONFIRMED is on ``reward-confirmed`` (and, when a redeem worker runs, until the wallet
holds the points too).

    .venv/bin/python -m benchmarks.earning_ingestion [--events 100000] [--players 1000]
                                                     [--workers 2] [--fetch-wait-ms 100]

Starts the embedded platform (auth, rewards and redeem when it exists) in a temporary folder,
registers the players the way auth does (PLAYER_REGISTERED on ``players``), produces the events
as fast as the producer can (key = player id, dated over the last 30 days), and prints events/s
end to end, the measured end point, the CPU each process group spent per 1,000 events, and the
checks: distinct confirmations = events, records = events (none doubled), canonical events
stored = events.

Two rewards worker processes by default: one worker is one Python interpreter (≈ 0.14 CPU-s per
1,000 events, bound to one core by the GIL); the consumer group spreads the topic's 3
partitions over the workers, the way replicas share them in production.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import time
from datetime import timedelta
from typing import Any

import requests
from sqlalchemy import create_engine, text

from benchmarks.earning_support import (
    ConfirmationCounter,
    bulk_producer,
    events_for,
    produce_all,
    register_players,
)
from benchmarks.support import BenchPlatform, CpuMeter, embedded_platform, pids_with
from embedded.services import SERVICES, start_worker
from shared.persistence.database import normalise_url


def _redeem_runs() -> bool:
    redeem = next(s for s in SERVICES if s.name == "redeem")
    return redeem.exists and importlib.util.find_spec("redeem_service.worker") is not None


def _wallet_points(platform: BenchPlatform, token: str, player: str) -> int | None:
    response = requests.get(
        f"{platform.url('redeem')}/api/v1/wallet/players/{player}",
        headers={"Authorization": f"Bearer {token}"},
        params={"pageSize": 1},
        timeout=10,
    )
    if response.status_code != 200:
        return None
    points = response.json().get("balances", {}).get("points")
    return int(points) if isinstance(points, int) else None


def _wallets_credited(
    platform: BenchPlatform, expected: dict[str, int], timeout: float
) -> float | None:
    """When every wallet holds its confirmed points, or None when the wallet is not credited
    from ``reward-confirmed`` (no consumer of it in this redeem build)."""
    token = requests.post(
        f"{platform.url('auth')}/api/v1/auth/login",
        json=platform.credentials["admin"],
        timeout=10,
    ).json()["accessToken"]
    sample = next(iter(expected))
    deadline = time.monotonic() + 20
    while _wallet_points(platform, token, sample) != expected[sample]:
        if time.monotonic() > deadline:
            return None
        time.sleep(0.5)
    deadline = time.monotonic() + timeout
    waiting = dict(expected)
    while waiting:
        waiting = {
            p: points
            for p, points in waiting.items()
            if _wallet_points(platform, token, p) != points
        }
        if waiting and time.monotonic() > deadline:
            raise TimeoutError(f"{len(waiting)} wallets not credited")
    return time.monotonic()


def _counts(database_url: str) -> dict[str, int]:
    engine = create_engine(normalise_url(database_url))
    try:
        with engine.connect() as connection:
            return {
                "canonical events": int(
                    connection.execute(text("SELECT count(*) FROM reward_events")).scalar_one()
                ),
                "outbox backlog": int(
                    connection.execute(text("SELECT count(*) FROM outbox")).scalar_one()
                ),
            }
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--players", type=int, default=1_000)
    parser.add_argument("--timeout", type=float, default=900.0)
    parser.add_argument("--fetch-wait-ms", type=int, default=100)
    parser.add_argument(
        "--workers",
        type=int,
        default=2,
        help="rewards worker processes (the consumer group shares the 3 partitions)",
    )
    args = parser.parse_args()
    services = ["auth", "rewards"] + (["redeem"] if _redeem_runs() else [])
    # Consumers wait up to 100 ms for data as in production (the dev profile's 10 ms only lowers
    # latency when idle, and idle consumers then cost the broker a fetch every 10 ms each).
    extra_env = {"LOYALTY__KAFKA__CONSUMER__FETCH_WAIT_MAX_MS": str(args.fetch_wait_ms)}
    with embedded_platform(services, extra_env=extra_env) as platform:
        bootstrap = platform.servers["kafka"]
        database = platform.cluster.env.postgres_url_for["rewards"]
        rewards = next(s for s in platform.cluster.services if s.name == "rewards")
        for replica in range(2, args.workers + 1):
            platform.cluster.processes.append(
                start_worker(
                    rewards,
                    platform.cluster.env.for_service(rewards),
                    platform.cluster.log_dir,
                    name=f"rewards-worker-{replica}",
                )
            )
        players = register_players(bootstrap, database, args.players)
        records = list(events_for(players, args.events, timedelta(days=30)))
        counter = ConfirmationCounter(bootstrap)
        postmaster = pids_with(f"{platform.workdir}/pg")
        workers = [p.pid for p in platform.cluster.processes if p.name.startswith("rewards-worker")]
        broker = pids_with(f"tcp://{platform.servers['kafka']}")
        meter = CpuMeter(
            {
                "rewards worker": lambda: workers,
                "PostgreSQL": lambda: postmaster,
                "broker": lambda: broker,
                "load generator": lambda: [os.getpid()],
            },
            alone=["load generator"],
        )
        load_before = os.getloadavg()[0]
        try:
            started = time.monotonic()
            produce_all(bulk_producer(bootstrap), "reward-events", records)
            produced = time.monotonic()
            confirmed = counter.wait_for(args.events, args.timeout)
            cpu = meter.used()
            time.sleep(2)  # anything doubled would arrive right behind the last one
            result: dict[str, Any] = {
                "distinct": len(counter.sources),
                "records": counter.records,
                "expected": counter.points_by_player(),
            }
        finally:
            counter.close()
        credited = None
        if "redeem" in services:
            credited = _wallets_credited(platform, result["expected"], args.timeout)
        counts = _counts(database)

    end = credited or confirmed
    what = (
        "wallet credited (redeem consumed reward-confirmed)"
        if credited
        else "REWARD_CONFIRMED on reward-confirmed"
        + (" (redeem runs but did not credit the wallet)" if "redeem" in services else "")
    )
    elapsed = end - started
    print(
        f"\nearning ingestion: {args.events} events over {args.players} players, "
        f"{args.workers} rewards worker process(es), fetch.wait.max.ms {args.fetch_wait_ms}, "
        f"{os.cpu_count()} CPUs shared by the whole platform and the load generator"
    )
    print(f"measured until: {what}")
    print(
        f"machine load average (1 min) {load_before:.1f} before, {os.getloadavg()[0]:.1f} after "
        "(other work on the machine slows the wall-clock figure; the CPU figures below do not "
        "depend on it much)"
    )
    print(f"produce        {args.events / (produced - started):>10,.0f} events/s")
    rate = args.events / elapsed
    print(f"end to end     {rate:>10,.0f} events/s  ({elapsed:.1f} s)  target ≥ 5,000")
    per_thousand = {name: seconds * 1000 / args.events for name, seconds in cpu.items()}
    print(
        "CPU per 1,000 events: "
        + ", ".join(f"{name} {s * 1000:.0f} ms" for name, s in per_thousand.items())
    )
    busiest = max(per_thousand["rewards worker"] / args.workers, sum(per_thousand.values()) / 2)
    print(
        f"  → on 2 otherwise idle cores at most ≈ {1000 / busiest:,.0f} events/s "
        "(the worker's share on one core, or everything on two, whichever binds first)"
    )
    print(
        f"checks: distinct confirmations {result['distinct']}, confirmation records "
        f"{result['records']}, canonical events {counts['canonical events']}, outbox backlog "
        f"{counts['outbox backlog']} (expected {args.events}, {args.events}, {args.events}, 0)"
    )


if __name__ == "__main__":
    main()
