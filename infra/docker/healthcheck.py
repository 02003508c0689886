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


def web() -> int:
    port = os.environ.get("PORT") or DEFAULT_PORTS.get(os.environ.get("SERVICE", ""), "8000")
    url = f"http://127.0.0.1:{port}/health/live"
    with urllib.request.urlopen(url, timeout=2) as response:
        return 0 if response.status == 200 else 1


def grpc() -> int:
    import grpc as grpc_lib
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    target = f"127.0.0.1:{os.environ.get('GRPC_PORT', '50051')}"
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
