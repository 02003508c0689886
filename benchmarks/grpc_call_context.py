"""Server CPU per call that the call-context interceptor adds to a trivial sync gRPC method.

Starts a server process with one method that returns an empty message, bare, behind
``CallContextInterceptor`` (as the wallet's server runs it: no access log), or behind it and
``UnaryRequestInterceptor`` (the request message read after the other interceptors, as every
``GrpcServer`` does), drives it from two client processes of 8 threads each and prints calls/s
and the server's CPU per call. Runs alternate between them so a busy neighbour hurts all alike.

    .venv/bin/python -m benchmarks.grpc_call_context --calls 20000 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.queues import Queue
from typing import Any

import grpc
from grpc_health.v1 import health_pb2

from benchmarks.wallet_add_transaction import cpu_seconds

METHOD = "/bench.Trivial/Call"
Request = health_pb2.HealthCheckRequest
Response = health_pb2.HealthCheckResponse


SERVERS = ("bare", "call-context", "call-context+request")


def _serve(ports: Queue[int], server_kind: str) -> None:
    from shared.grpc.interceptors import (
        CallContextInterceptor,
        ServerInterceptor,
        UnaryRequestInterceptor,
    )

    interceptors: list[ServerInterceptor] = []
    if server_kind != "bare":
        interceptors.append(CallContextInterceptor(access_log=False))
    if server_kind == "call-context+request":
        interceptors.append(UnaryRequestInterceptor(wait_seconds=2.0))
    server = grpc.server(ThreadPoolExecutor(8), interceptors=interceptors)
    handler = grpc.unary_unary_rpc_method_handler(
        lambda _request, _context: Response(status=Response.SERVING),
        request_deserializer=Request.FromString,
        response_serializer=Response.SerializeToString,
    )
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("bench.Trivial", {"Call": handler}),)
    )
    ports.put(server.add_insecure_port("127.0.0.1:0"))
    server.start()
    server.wait_for_termination()


def _client(port: int, calls: int, threads: int, done: Queue[int]) -> None:
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    call = channel.unary_unary(
        METHOD,
        request_serializer=Request.SerializeToString,
        response_deserializer=Response.FromString,
    )
    call(Request(), timeout=5)
    metadata = (("x-correlation-id", "bench-correlation"),)

    def run() -> None:
        for _ in range(calls // threads):
            call(Request(), timeout=5, metadata=metadata)

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    done.put(1)


def measure(server_kind: str, calls: int) -> dict[str, Any]:
    context = mp.get_context("spawn")
    ports: Queue[int] = context.Queue()
    server = context.Process(target=_serve, args=(ports, server_kind), daemon=True)
    server.start()
    try:
        port = ports.get(timeout=30)
        done: Queue[int] = context.Queue()
        clients = [
            context.Process(target=_client, args=(port, calls // 2, 8, done)) for _ in range(2)
        ]
        cpu_before = cpu_seconds(server.pid) or 0.0
        started = time.perf_counter()
        for client in clients:
            client.start()
        for _ in clients:
            done.get(timeout=600)
        elapsed = time.perf_counter() - started
        cpu_after = cpu_seconds(server.pid) or 0.0
        for client in clients:
            client.join()
    finally:
        server.terminate()
        server.join()
    return {
        "server": server_kind,
        "calls_per_second": round(calls / elapsed, 1),
        "server_cpu_ms_per_call": round((cpu_after - cpu_before) / calls * 1000, 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    for _ in range(args.rounds):
        for server_kind in SERVERS:
            print(json.dumps(measure(server_kind, args.calls)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
