"""Container health check of the loyalty image, by process role (Docker HEALTHCHECK)."""

import os
import sys
import urllib.request

DEFAULT_PORTS = {
    "auth_service": "8001",
    "rewards_service": "8002",
    "redeem_service": "8003",
    "notification_service": "8004",
}


def probe_host(listen_host: str | None) -> str:
    """Where a server listening on ``listen_host`` answers inside the container: the loopback
    address of its family for the wildcard addresses, otherwise that very address (in brackets
    when it is IPv6, as URLs and gRPC targets write it)."""
    host = (listen_host or "").strip().strip("[]")
    if host in {"", "0.0.0.0"}:  # noqa: S104 - the wildcard is compared, not bound
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def web() -> int:
    port = os.environ.get("PORT") or DEFAULT_PORTS.get(os.environ.get("SERVICE", ""), "8000")
    url = f"http://{probe_host(os.environ.get('LISTEN_HOST'))}:{port}/health/live"
    with urllib.request.urlopen(url, timeout=2) as response:
        return 0 if response.status == 200 else 1


def grpc() -> int:
    import grpc as grpc_lib
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    host = probe_host(os.environ.get("GRPC_HOST"))
    target = f"{host}:{os.environ.get('GRPC_PORT', '50051')}"
    with grpc_lib.insecure_channel(target) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        reply = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=2)
    return 0 if reply.status == health_pb2.HealthCheckResponse.SERVING else 1


def main() -> int:
    process = os.environ.get("PROCESS", "web")
    try:
        if process == "web":
            return web()
        if process == "grpc":
            return grpc()
    except Exception as error:
        print(f"unhealthy: {error}", file=sys.stderr)
        return 1
    # Workers and one-shot jobs expose no port: they are healthy while their process runs.
    return 0


if __name__ == "__main__":
    sys.exit(main())
