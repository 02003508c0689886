"""Measure ``Wallet.AddTransaction`` calls per second over gRPC (target: >= 1,000/s).

Standalone (default): starts PostgreSQL and Redis from their packages, migrates a fresh ``redeem``
database, publishes a test signing key from a local JWKS endpoint and runs the real
``python -m redeem_service.grpc_server`` process against them. With ``--platform`` it reuses a
platform started by ``./scripts/run`` (``.data/platform.json``: the gRPC address and the
rewards-service client credentials).

    .venv/bin/python -m benchmarks.wallet_add_transaction --calls 20000 --threads 8
    .venv/bin/python -m benchmarks.wallet_add_transaction --platform

Every call is a real credit with its own idempotency key, spread over ``--players`` wallets
(``--players 1`` measures one hot wallet). Client threads are spread over ``--processes`` client
processes, because one Python client process saturates a core before the server does. The
standalone server runs one process per core (``--server-processes``), as it is deployed: one
process's calls share a GIL, so a single process tops out near one core's worth of calls.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import requests

from benchmarks.support import machine_busy_seconds, tree_cpu

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Target:
    address: str
    token: str
    server_pid: int | None = None


def cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU time of a local process and its children (Linux), to report server
    CPU per call."""
    if pid is None or not Path(f"/proc/{pid}").exists():
        return None
    return tree_cpu([pid])


def start_standalone(stack: ExitStack, profile: str, server_processes: int) -> Target:
    from grpc_health.v1 import health_pb2, health_pb2_grpc
    from sqlalchemy.engine import make_url

    from embedded.servers import EmbeddedPostgres, EmbeddedRedis, free_port, spawn
    from shared.persistence.migrations import ensure_database, upgrade
    from tests.support.tokens import AUDIENCE, ISSUER, JwksServer, TestSigner

    workdir = Path(tempfile.mkdtemp(prefix="wallet-bench-"))
    # Registered first, so it runs last: the servers are stopped before their files go.
    stack.callback(shutil.rmtree, workdir, ignore_errors=True)
    postgres = EmbeddedPostgres(workdir / "pg", durable=False)
    admin_url = postgres.start()
    stack.callback(postgres.stop)
    redis = EmbeddedRedis(workdir / "redis", persist=False)
    redis_url = redis.start()
    stack.callback(redis.stop)
    url = make_url(admin_url).set(database="redeem_bench").render_as_string(hide_password=False)
    ensure_database(url)
    upgrade("redeem_service", url)
    signer = TestSigner()
    jwks = JwksServer(signer)
    stack.callback(jwks.stop)
    port = free_port()
    env = {
        **os.environ,
        "LOYALTY_PROFILE": profile,
        "DATABASE_URL": url,
        "REDIS_URL": redis_url,
        "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9",  # the gRPC server does not use Kafka
        "AUTH_ISSUER": ISSUER,
        "AUTH_AUDIENCE": AUDIENCE,
        "AUTH_JWKS_URL": jwks.url,
        "GRPC_HOST": "127.0.0.1",
        "GRPC_PORT": str(port),
        "GRPC_PROCESSES": str(server_processes),
    }
    log_path = workdir / "redeem-grpc.log"
    server = spawn(
        "redeem-grpc", [sys.executable, "-m", "redeem_service.grpc_server"], log_path, env, ROOT
    )
    stack.callback(server.stop)
    address = f"127.0.0.1:{port}"
    with grpc.insecure_channel(address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        deadline = time.monotonic() + 30
        while True:
            try:
                if (
                    health.Check(health_pb2.HealthCheckRequest(), timeout=1).status
                    == health_pb2.HealthCheckResponse.SERVING
                ):
                    break
            except grpc.RpcError:
                pass
            if time.monotonic() > deadline or not server.alive():
                raise SystemExit(f"the gRPC server did not start; see {log_path}")
            time.sleep(0.2)
    print(
        f"standalone gRPC server at {address}, {server_processes} process(es) (profile {profile};"
        f" log {log_path}, removed at exit)"
    )
    return Target(address, signer.client_token("rewards-service", "wallet.write"), server.pid)


def platform_target(path: Path) -> Target:
    document = json.loads(path.read_text())
    endpoints = document["endpoints"]
    client = document["credentials"]["clients"]["rewards-service"]
    auth = endpoints["services"]["auth"]["url"]
    response = requests.post(
        f"{auth}/oauth2/token",
        data={"grant_type": "client_credentials", "scope": "wallet.write"},
        auth=(client["clientId"], client["clientSecret"]),
        timeout=10,
    )
    response.raise_for_status()
    return Target(endpoints["services"]["redeem"]["grpc"], response.json()["access_token"])


def client_process(
    address: str,
    token: str,
    threads: int,
    connections: int,
    calls: int,
    players: int,
    seed: str,
    queue: Any,
) -> None:
    """One client process: ``threads`` threads over ``connections`` connections, ``calls``
    calls in all.

    The server's processes share the port with SO_REUSEPORT, which spreads connections (not
    calls) over them at random: with one connection per client process, two client processes
    landed on the same server process in 3 of 4 runs and left the other one idle.
    """
    import threading

    from protos.loyalty.wallet.v1 import wallet_pb2, wallet_pb2_grpc

    metadata = (("authorization", f"Bearer {token}"),)
    # Channels with the same arguments share one connection unless each has its own pool.
    channels = [
        grpc.insecure_channel(address, options=[("grpc.use_local_subchannel_pool", 1)])
        for _ in range(max(1, min(connections, threads)))
    ]
    latencies: list[float] = []
    errors: dict[str, int] = {}
    lock = threading.Lock()
    counter = iter(range(calls))

    def run(channel: grpc.Channel) -> None:
        stub = wallet_pb2_grpc.WalletStub(channel)  # type: ignore[no-untyped-call]
        local: list[float] = []
        local_errors: dict[str, int] = {}
        while True:
            with lock:
                index = next(counter, None)
            if index is None:
                break
            request = wallet_pb2.AddTransactionRequest(
                player_id=f"bench-{seed}-{index % players}",
                currency=wallet_pb2.CURRENCY_BONUS,
                type=wallet_pb2.TRANSACTION_TYPE_CREDIT,
                bonus_amount="1.25",
                idempotency_key=f"bench-{seed}-{index}",
                description="benchmark",
            )
            started = time.perf_counter()
            try:
                stub.AddTransaction(request, metadata=metadata, timeout=10)
                local.append(time.perf_counter() - started)
            except grpc.RpcError as error:
                name = error.code().name
                local_errors[name] = local_errors.get(name, 0) + 1
        with lock:
            latencies.extend(local)
            for name, count in local_errors.items():
                errors[name] = errors.get(name, 0) + count

    workers = [
        threading.Thread(target=run, args=(channels[i % len(channels)],)) for i in range(threads)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    for channel in channels:
        channel.close()
    queue.put((latencies, errors))


def measure(target: Target, args: argparse.Namespace, calls: int, seed: str) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    per_process = max(1, calls // args.processes)
    threads = max(1, args.threads // args.processes)
    connections = max(1, args.connections // args.processes)
    processes = [
        context.Process(
            target=client_process,
            args=(
                target.address,
                target.token,
                threads,
                connections,
                per_process,
                args.players,
                f"{seed}{i}",
                queue,
            ),
        )
        for i in range(args.processes)
    ]
    server_cpu = cpu_seconds(target.server_pid)
    machine_cpu = machine_busy_seconds()
    started = time.perf_counter()
    for process in processes:
        process.start()
    latencies: list[float] = []
    errors: dict[str, int] = {}
    for _ in processes:
        part, part_errors = queue.get(timeout=600)
        latencies.extend(part)
        for name, count in part_errors.items():
            errors[name] = errors.get(name, 0) + count
    elapsed = time.perf_counter() - started
    server_cpu_after = cpu_seconds(target.server_pid)
    machine_cpu_after = machine_busy_seconds()
    for process in processes:
        process.join(30)
    latencies.sort()
    ok = len(latencies)

    def percentile(q: float) -> float:
        return latencies[min(ok - 1, int(q * ok))] * 1000 if ok else float("nan")

    return {
        "calls": ok,
        "errors": errors,
        "seconds": round(elapsed, 2),
        "calls_per_second": round(ok / elapsed, 1),
        "p50_ms": round(percentile(0.50), 2),
        "p99_ms": round(percentile(0.99), 2),
        "mean_ms": round(statistics.fmean(latencies) * 1000, 2) if ok else None,
        "server_cpu_ms_per_call": (
            round((server_cpu_after - server_cpu) * 1000 / ok, 3)
            if ok and server_cpu is not None and server_cpu_after is not None
            else None
        ),
        "machine_cpu_ms_per_call": (
            round((machine_cpu_after - machine_cpu) * 1000 / ok, 3) if ok else None
        ),
        "load_average": os.getloadavg(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--warmup", type=int, default=1_000)
    parser.add_argument("--threads", type=int, default=16, help="client threads in all")
    parser.add_argument("--processes", type=int, default=2, help="client processes")
    parser.add_argument(
        "--connections",
        type=int,
        default=8,
        help="client connections in all (spread over the server's processes by the kernel)",
    )
    parser.add_argument("--players", type=int, default=1_000)
    parser.add_argument("--profile", default="dev", help="profile of the standalone server")
    parser.add_argument(
        "--server-processes",
        type=int,
        default=os.cpu_count() or 1,
        help="processes of the standalone server (GRPC_PROCESSES; default: one per core)",
    )
    parser.add_argument(
        "--platform",
        nargs="?",
        const=str(ROOT / ".data" / "platform.json"),
        help="reuse a running platform (default .data/platform.json)",
    )
    args = parser.parse_args(argv)
    with ExitStack() as stack:
        target = (
            platform_target(Path(args.platform))
            if args.platform
            else start_standalone(stack, args.profile, args.server_processes)
        )
        seed = uuid.uuid4().hex[:8]
        if args.warmup:
            measure(target, args, args.warmup, seed + "w")
        result = measure(target, args, args.calls, seed)
    print(json.dumps({"benchmark": "Wallet.AddTransaction", **vars(args), **result}, indent=2))
    return 0 if result["calls"] else 1


if __name__ == "__main__":
    sys.exit(main())
