"""Claims per second and claim latency (p50/p99), the wallet's gRPC call included.

    .venv/bin/python -m benchmarks.claims [--players 1500] [--rate 100] [--seconds 10]

Starts auth, rewards and redeem (web, workers, gRPC) on embedded servers, registers players
(they receive the running welcome promotion through the rewards worker), then:

1. an open-loop run: claims started at a fixed ``--rate`` per second for ``--seconds`` (each
   latency is measured from its scheduled start, so a slow server cannot hide its queue), after
   ``--warmup`` seconds of the same on the fresh processes, reported apart (the first requests
   of a process open its database connections, gRPC channel and JWKS);
2. a closed-loop run: ``--threads`` clients claiming back to back, for the maximum rate.

Both runs use one asyncio client on keep-alive connections (``KeepAliveClient``), which costs the
shared cores far less than threads with ``requests``.

The open-loop run prints the CPU each part of the platform spent per claim (the rewards web, the
wallet's gRPC server, the workers, PostgreSQL, Redis, the broker; read from ``/proc``, so other
work on a shared machine does not count) beside the whole machine's.

At the end every successful claim must have exactly one wallet transaction. The password hash is
made cheap for the benchmark's own players (registration is not what is measured here).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests
from sqlalchemy import create_engine, text

from benchmarks.support import (
    BenchPlatform,
    CpuMeter,
    KeepAliveClient,
    embedded_platform,
    machine_busy_seconds,
    platform_cpu_groups,
)
from shared.persistence.database import normalise_url

PASSWORD = "benchmark passphrase"  # noqa: S105 - throw-away players


def register(platform: BenchPlatform, count: int, threads: int = 8) -> list[tuple[str, str]]:
    """``count`` players: (player id, access token)."""
    auth = platform.url("auth")
    session_local = threading.local()

    def one(n: int) -> tuple[str, str]:
        session = getattr(session_local, "s", None) or requests.Session()
        session_local.s = session
        email = f"bench-{n}-{time.monotonic_ns()}@example.com"
        created = session.post(
            f"{auth}/api/v1/auth/register", json={"email": email, "password": PASSWORD}, timeout=30
        )
        created.raise_for_status()
        login = session.post(
            f"{auth}/api/v1/auth/login", json={"email": email, "password": PASSWORD}, timeout=30
        )
        login.raise_for_status()
        return created.json()["id"], login.json()["accessToken"]

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(one, range(count)))


def wait_for_welcomes(platform: BenchPlatform, count: int) -> str:
    engine = create_engine(normalise_url(platform.cluster.env.postgres_url_for["rewards"]))
    deadline = time.monotonic() + 300
    with engine.connect() as connection:
        while time.monotonic() < deadline:
            held = connection.execute(text("SELECT count(*) FROM player_promotions")).scalar_one()
            if held >= count:
                return str(
                    connection.execute(
                        text("SELECT id FROM promotions WHERE type = 'WELCOME_BONUS'")
                    ).scalar_one()
                )
            time.sleep(0.5)
    raise SystemExit("the welcome promotions were not all assigned")


CLAIM_PATH = "/api/v1/promotions/claim"
# The processes a claim runs through (label → process name; a prefix takes them all). Auth
# serves only the JWKS on this path; its share shows the background cost.
PARTS = {
    "rewards web": "rewards-web",
    "redeem gRPC": "redeem-grpc",
    "rewards worker": "rewards-worker",
    "redeem worker": "redeem-worker",
    "redeem web": "redeem-web",
    "auth": "auth-",
}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))] * 1000


def open_loop(
    base: str,
    players: list[tuple[str, str]],
    promotion: str,
    rate: float,
    seconds: float,
    meter: CpuMeter,
    connections: int = 64,
) -> dict[str, Any]:
    """Claims started at a fixed rate; each latency from its scheduled start, so a slow server
    cannot hide its queue (a claim waiting for a free connection is waiting too)."""
    return asyncio.run(_open_loop(base, players, promotion, rate, seconds, meter, connections))


async def _open_loop(
    base: str,
    players: list[tuple[str, str]],
    promotion: str,
    rate: float,
    seconds: float,
    meter: CpuMeter,
    connections: int,
) -> dict[str, Any]:
    count = min(len(players), int(rate * seconds))
    body = json.dumps({"promotionId": promotion}).encode()
    client = KeepAliveClient(base, connections)
    await client.open()
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.2
    busy = machine_busy_seconds()
    meter.restart()
    latencies: list[float] = []
    statuses: list[int] = []

    async def scheduled(n: int) -> None:
        due = start + n / rate
        await asyncio.sleep(max(0.0, due - loop.time()))
        token = players[n][1]
        statuses.append(
            await client.post_json(CLAIM_PATH, body, {"Authorization": f"Bearer {token}"})
        )
        latencies.append(loop.time() - due)

    await asyncio.gather(*(scheduled(n) for n in range(count)))
    elapsed = loop.time() - start
    busy = machine_busy_seconds() - busy
    spent = meter.used()
    await client.close()
    return {
        "claims": count,
        "cpu_ms_per_claim": {part: cpu * 1000 / max(1, count) for part, cpu in spent.items()},
        "machine_cpu_ms_per_claim": busy * 1000 / max(1, count),
        "machine_busy": busy / elapsed / (os.cpu_count() or 1),
        "ok": statuses.count(200),
        "seconds": elapsed,
        "p50_ms": percentile(latencies, 50),
        "p99_ms": percentile(latencies, 99),
        "max_ms": max(latencies) * 1000,
    }


def closed_loop(
    base: str, players: list[tuple[str, str]], promotion: str, clients: int
) -> dict[str, Any]:
    """``clients`` claiming back to back, for the maximum rate."""
    return asyncio.run(_closed_loop(base, players, promotion, clients))


async def _closed_loop(
    base: str, players: list[tuple[str, str]], promotion: str, clients: int
) -> dict[str, Any]:
    body = json.dumps({"promotionId": promotion}).encode()
    client = KeepAliveClient(base, clients)
    await client.open()
    loop = asyncio.get_running_loop()
    queue = iter(players)
    latencies: list[float] = []
    statuses: list[int] = []

    async def worker() -> None:
        for _, token in queue:
            started = loop.time()
            statuses.append(
                await client.post_json(CLAIM_PATH, body, {"Authorization": f"Bearer {token}"})
            )
            latencies.append(loop.time() - started)

    started = loop.time()
    await asyncio.gather(*(worker() for _ in range(clients)))
    elapsed = loop.time() - started
    await client.close()
    return {
        "claims": len(statuses),
        "ok": statuses.count(200),
        "seconds": elapsed,
        "claims_per_second": len(statuses) / elapsed,
        "p50_ms": percentile(latencies, 50) if latencies else float("nan"),
        "p99_ms": percentile(latencies, 99) if latencies else float("nan"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--players", type=int, default=1700)
    parser.add_argument(
        "--warmup",
        type=float,
        default=2.0,
        help="seconds of claims at --rate on the fresh processes first, reported apart",
    )
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--threads", type=int, default=16, help="closed-loop clients")
    args = parser.parse_args()
    cheap_hash = {
        "LOYALTY__PASSWORD_HASHING__MEMORY_COST_KIB": "1024",
        "LOYALTY__PASSWORD_HASHING__TIME_COST": "1",
        "LOYALTY__RATE_LIMITS__ENABLED": "false",
    }
    with embedded_platform(["auth", "rewards", "redeem"], extra_env=cheap_hash) as platform:
        print(f"registering {args.players} players…", flush=True)
        players = register(platform, args.players)
        promotion = wait_for_welcomes(platform, args.players)
        base = platform.url("rewards")
        warm = min(len(players), int(args.rate * args.warmup))
        split = min(len(players), warm + int(args.rate * args.seconds))
        meter = CpuMeter(
            {**platform_cpu_groups(platform, PARTS), "load generator": lambda: [os.getpid()]},
            alone=["load generator"],
        )
        print(f"warm-up: {args.rate:.0f} claims/s for {args.warmup:.0f} s…", flush=True)
        cold = (
            open_loop(base, players[:warm], promotion, args.rate, args.warmup, meter)
            if warm
            else None
        )
        print(f"open loop: {args.rate:.0f} claims/s for {args.seconds:.0f} s…", flush=True)
        steady = open_loop(base, players[warm:split], promotion, args.rate, args.seconds, meter)
        print(f"closed loop: {args.threads} clients…", flush=True)
        flat_out = closed_loop(base, players[split:], promotion, args.threads)
        engine = create_engine(normalise_url(platform.cluster.env.postgres_url_for["redeem"]))
        with engine.connect() as connection:
            credits = connection.execute(
                text("SELECT count(*), count(DISTINCT idempotency_key) FROM transactions")
            ).one()
    ok = steady["ok"] + flat_out["ok"] + (cold["ok"] if cold else 0)
    print(
        "\nclaim endpoint (rewards web + gRPC AddTransaction),"
        "2 gunicorn workers each, on this machine:"
    )
    if cold:
        # Fresh processes open their pooled connections, gRPC channel and JWKS on first use.
        print(
            f"  warm-up {args.rate:.0f}/s on fresh processes: {cold['claims']} claims, "
            f"ok {cold['ok']}, p50 {cold['p50_ms']:.1f} ms, p99 {cold['p99_ms']:.1f} ms"
        )
    print(
        f"  open loop {args.rate:.0f}/s: {steady['claims']} claims, ok {steady['ok']}, "
        f"p50 {steady['p50_ms']:.1f} ms, p99 {steady['p99_ms']:.1f} ms, "
        f"max {steady['max_ms']:.1f} ms   (target p99 ≤ 50 ms)"
    )
    parts = dict(steady["cpu_ms_per_claim"])
    generator = parts.pop("load generator")
    print(
        f"  CPU per claim: platform {sum(parts.values()):.1f} ms ("
        + ", ".join(f"{part} {ms:.2f}" for part, ms in parts.items())
        + f"), load generator {generator:.2f} ms; the whole machine "
        f"{steady['machine_cpu_ms_per_claim']:.1f} ms with other tenants, cores "
        f"{steady['machine_busy']:.0%} busy"
    )
    if flat_out["claims"]:
        print(
            f"  closed loop ({args.threads} clients): {flat_out['claims_per_second']:.0f} "
            f"claims/s, p50 {flat_out['p50_ms']:.1f} ms, p99 {flat_out['p99_ms']:.1f} ms"
        )
    print(
        f"  wallet: {credits[0]} credit transactions for {ok} successful claims "
        f"({credits[1]} distinct keys) — {'OK' if credits[0] == ok == credits[1] else 'MISMATCH'}"
    )


if __name__ == "__main__":
    main()
