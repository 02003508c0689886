"""The services of the platform as processes: what to run, with which environment, and how to
tell they are ready. Used by the platform runner and by the end-to-end test fixtures."""

from __future__ import annotations

import http.client
import importlib.util
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from embedded.servers import ManagedProcess, ServerStartError, spawn


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    package: str
    port: int
    database: str | None = None
    redis_db: int = 0
    worker_class: str = "gthread"
    grpc_port: int | None = None
    has_seed: bool = False

    @property
    def exists(self) -> bool:
        """A service takes part once its package has an app (the others are still empty)."""
        return importlib.util.find_spec(f"{self.package}.app") is not None

    @property
    def has_worker(self) -> bool:
        return importlib.util.find_spec(f"{self.package}.worker") is not None

    @property
    def has_grpc(self) -> bool:
        return (
            self.grpc_port is not None
            and importlib.util.find_spec(f"{self.package}.grpc_server") is not None
        )


SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec("auth", "auth_service", 8001, database="auth", redis_db=0, has_seed=True),
    ServiceSpec("rewards", "rewards_service", 8002, database="rewards", redis_db=1, has_seed=True),
    ServiceSpec("redeem", "redeem_service", 8003, database="redeem", redis_db=2, grpc_port=50051),
    ServiceSpec("notification", "notification_service", 8004, redis_db=3, worker_class="gevent"),
)


def available_services() -> list[ServiceSpec]:
    return [s for s in SERVICES if s.exists]


def redis_url_for(base_url: str, db: int) -> str:
    separator = "&" if "?" in base_url else "?"
    return f"{base_url}{separator}db={db}" if db else base_url


@dataclass
class PlatformEnv:
    """What every service process needs to find the servers and each other."""

    postgres_url_for: dict[str, str]
    redis_url: str
    kafka_bootstrap: str
    mongodb_url: str
    issuer: str
    auth_internal_url: str
    secrets: dict[str, str]
    profile: str = "dev"
    ports: dict[str, int] = field(default_factory=dict)
    grpc_ports: dict[str, int] = field(default_factory=dict)
    extra: dict[str, str] = field(default_factory=dict)

    def port(self, spec: ServiceSpec) -> int:
        return self.ports.get(spec.name, spec.port)

    def grpc_port(self, spec: ServiceSpec) -> int | None:
        return self.grpc_ports.get(spec.name, spec.grpc_port)

    def for_service(self, spec: ServiceSpec) -> dict[str, str]:
        redeem = next(s for s in SERVICES if s.name == "redeem")
        env = {
            **os.environ,
            "LOYALTY_PROFILE": self.profile,
            "REDIS_URL": redis_url_for(self.redis_url, spec.redis_db),
            "KAFKA_BOOTSTRAP_SERVERS": self.kafka_bootstrap,
            "MONGODB_URL": self.mongodb_url,
            "AUTH_ISSUER": self.issuer,
            "AUTH_AUDIENCE": "loyalty-api",
            "AUTH_JWKS_URL": f"{self.auth_internal_url}/.well-known/jwks.json",
            "AUTH_TOKEN_URL": f"{self.auth_internal_url}/oauth2/token",
            "WALLET_GRPC_TARGET": f"127.0.0.1:{self.grpc_port(redeem)}",
            "PORT": str(self.port(spec)),
            # One machine: the services and metrics answer on loopback only (the gateway is
            # the way in; it is also the only proxy whose X-Forwarded-For is trusted).
            "LISTEN_HOST": "127.0.0.1",
            "PYTHONUNBUFFERED": "1",
            **self.secrets,
            **self.extra,
        }
        if spec.database:
            env["DATABASE_URL"] = self.postgres_url_for[spec.database]
        grpc_port = self.grpc_port(spec)
        if grpc_port:
            env["GRPC_PORT"] = str(grpc_port)
        return env


def run_manage(spec: ServiceSpec, env: dict[str, str], *args: str) -> str:
    """Run ``python -m <package>.manage <args>`` to completion; returns its standard output."""
    result = subprocess.run(
        [sys.executable, "-m", f"{spec.package}.manage", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if result.returncode != 0:
        raise ServerStartError(
            f"{spec.package}.manage {' '.join(args)} failed:\n{result.stderr[-4000:]}"
        )
    return result.stdout


def start_web(
    spec: ServiceSpec,
    env: dict[str, str],
    log_dir: Path,
    workers: int = 2,
    metrics_dir: Path | None = None,
) -> ManagedProcess:
    process_env = dict(env)
    process_env.setdefault("WEB_CONCURRENCY", str(workers))
    process_env.setdefault("GUNICORN_WORKER_CLASS", spec.worker_class)
    process_env["GUNICORN_PROC_NAME"] = f"loyalty-{spec.name}"
    if metrics_dir is not None:
        metrics_dir.mkdir(parents=True, exist_ok=True)
        for stale in metrics_dir.glob("*.db"):
            stale.unlink()
        process_env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    return spawn(
        f"{spec.name}-web",
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            "python:shared.web.gunicorn_conf",
            f"{spec.package}.app:create_app()",
        ],
        log_dir / f"{spec.name}-web.log",
        env=process_env,
    )


def start_worker(
    spec: ServiceSpec, env: dict[str, str], log_dir: Path, name: str | None = None
) -> ManagedProcess:
    return spawn(
        name or f"{spec.name}-worker",
        [sys.executable, "-m", f"{spec.package}.worker"],
        log_dir / f"{name or spec.name + '-worker'}.log",
        env=env,
    )


def start_grpc(spec: ServiceSpec, env: dict[str, str], log_dir: Path) -> ManagedProcess:
    return spawn(
        f"{spec.name}-grpc",
        [sys.executable, "-m", f"{spec.package}.grpc_server"],
        log_dir / f"{spec.name}-grpc.log",
        env=env,
    )


def wait_ready(url: str, timeout: float = 60.0, process: ManagedProcess | None = None) -> None:
    """Poll ``<url>/health/ready`` until it answers 200."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if process is not None and not process.alive():
            raise ServerStartError(
                f"{process.name} exited with {process.process.returncode}; see {process.log_path}"
            )
        try:
            with urllib.request.urlopen(f"{url}/health/ready", timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    return
        except urllib.error.HTTPError as exc:
            last = exc.read().decode(errors="replace")[:300]
        except (urllib.error.URLError, OSError) as exc:
            last = str(exc)
        except http.client.HTTPException as exc:
            # Something that is not our HTTP server holds the port; the server's own exit
            # (it cannot bind) or the deadline ends the wait with the reason.
            last = f"the port answers, but not with HTTP ({type(exc).__name__})"
        time.sleep(0.2)
    raise ServerStartError(f"{url} not ready after {timeout}s: {last}")


def write_private_json(path: Path, data: object) -> None:
    """Write JSON readable by the owner only (it holds credentials)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump(data, handle, indent=2)
        handle.write("\n")
    path.chmod(0o600)
