"""Token endpoint and authenticated-request throughput of the auth service under gunicorn.

    .venv/bin/python -m benchmarks.auth_tokens [--duration 10] [--connections 32]

Prints requests/s and p50/p99 for: the client-credentials token endpoint, an authenticated
request validated by the service as a resource server (GET /api/v1/auth/session: the cached-key
RS256 check, issuer/audience/expiry, the inactive-user check in Redis, the whole middleware stack;
and GET /api/v1/auth/me, which adds a PostgreSQL read), and, measured in the same run under the
same gunicorn settings, a bare Flask endpoint doing only the RS256 check. Needs ``wrk``.
"""

from __future__ import annotations

import argparse
import base64
import os
import sys
import time

import requests

from benchmarks.support import embedded_platform, wrk
from embedded.servers import free_port, spawn


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--worker-class", default="gthread")
    args = parser.parse_args()
    env_extra = {
        # The gateway rate-limits the token endpoint per address; here one address sends it all.
        "LOYALTY__RATE_LIMITS__ENABLED": "false",
        "GUNICORN_WORKER_CLASS": args.worker_class,
    }
    with embedded_platform(["auth"], web_workers=args.workers, extra_env=env_extra) as platform:
        base = platform.url("auth")
        hotel = platform.credentials["clients"]["hotel"]
        admin = platform.credentials["admin"]
        access = requests.post(f"{base}/api/v1/auth/login", json=admin, timeout=10).json()[
            "accessToken"
        ]

        env = platform.cluster.env.for_service(platform.cluster.services[0])
        bare_port = free_port()
        bare_env = {
            **env,
            **env_extra,
            "PORT": str(bare_port),
            "WEB_CONCURRENCY": str(args.workers),
            "GUNICORN_WORKER_CLASS": args.worker_class,
        }
        bare = spawn(
            "bare",
            [
                sys.executable,
                "-m",
                "gunicorn",
                "-c",
                "python:shared.web.gunicorn_conf",
                "benchmarks.bare_rs256_app:create_app()",
            ],
            platform.workdir / "logs" / "bare.log",
            env=bare_env,
        )
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    if (
                        requests.get(
                            f"http://127.0.0.1:{bare_port}/whoami",
                            headers={"Authorization": f"Bearer {access}"},
                            timeout=1,
                        ).status_code
                        == 200
                    ):
                        break
                except requests.ConnectionError:
                    time.sleep(0.2)
            basic = base64.b64encode(
                f"{hotel['clientId']}:{hotel['clientSecret']}".encode()
            ).decode()
            token_script = (
                'wrk.method = "POST"\n'
                'wrk.body = "grant_type=client_credentials&scope=rewards.write"\n'
                'wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\n'
                f'wrk.headers["Authorization"] = "Basic {basic}"\n'
            )
            bearer_script = f'wrk.headers["Authorization"] = "Bearer {access}"\n'
            warm = {"duration": 2, "connections": args.connections}
            wrk(f"{base}/oauth2/token", script=token_script, **warm)
            results = {
                "token endpoint (client credentials)": wrk(
                    f"{base}/oauth2/token", args.duration, args.connections, script=token_script
                ),
                "authenticated request (auth as resource server)": wrk(
                    f"{base}/api/v1/auth/session",
                    args.duration,
                    args.connections,
                    script=bearer_script,
                ),
                "  the same plus a PostgreSQL read (/me)": wrk(
                    f"{base}/api/v1/auth/me", args.duration, args.connections, script=bearer_script
                ),
                "bare Flask + same RS256 check": wrk(
                    f"http://127.0.0.1:{bare_port}/whoami",
                    args.duration,
                    args.connections,
                    script=bearer_script,
                ),
            }
        finally:
            bare.stop()

    print(
        f"\nauth_service under gunicorn: {args.workers} {args.worker_class} workers, "
        f"{args.connections} connections, {args.duration}s each, {os.cpu_count()} CPUs "
        "(load generator on the same machine)\n"
    )
    print(f"{'endpoint':<50} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8}")
    for name, r in results.items():
        print(
            f"{name:<50} {r.requests_per_second:>9.0f} {r.p50_ms:>8.2f} {r.p99_ms:>8.2f} "
            f"{r.non_2xx:>8}"
        )
    token = results["token endpoint (client credentials)"]
    authed = results["authenticated request (auth as resource server)"]
    bare_r = results["bare Flask + same RS256 check"]
    ratio = authed.requests_per_second / bare_r.requests_per_second
    print(f"\ntokens/s {token.requests_per_second:.0f} (target ≥ 1000)")
    print(
        f"authenticated / bare = {ratio:.0%} (target ≥ 50%), "
        f"authenticated p99 {authed.p99_ms:.1f} ms (target ≤ 25 ms)"
    )


if __name__ == "__main__":
    main()
