"""Migrate, seed and start the platform's services as processes; stop them again.

The platform runner and the end-to-end tests both go through this, so the tests exercise the
same start-up the operator runs.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from embedded.servers import ManagedProcess
from embedded.services import (
    PlatformEnv,
    ServiceSpec,
    run_manage,
    start_grpc,
    start_web,
    start_worker,
    wait_ready,
)


@dataclass
class ServiceCluster:
    env: PlatformEnv
    services: list[ServiceSpec]
    log_dir: Path
    metrics_dir: Path | None = None
    web_workers: int = 2
    worker_metrics_base: int | None = None
    processes: list[ManagedProcess] = field(default_factory=list)
    credentials: dict[str, Any] = field(default_factory=lambda: {"admin": None, "clients": {}})
    fresh: dict[str, Any] = field(default_factory=dict)

    def migrate(self) -> None:
        for spec in self.services:
            if spec.database:
                run_manage(spec, self.env.for_service(spec), "migrate")

    def seed(self, previous: dict[str, Any] | None = None) -> dict[str, Any]:
        """Seed demo data. Secrets are only known when first created: ``previous`` carries those
        of earlier runs, ``fresh`` what this run created."""
        previous = previous or {}
        self.credentials = {
            **previous,
            "admin": previous.get("admin"),
            "clients": dict(previous.get("clients", {})),
        }
        for spec in self.services:
            if not spec.has_seed:
                continue
            lines = run_manage(spec, self.env.for_service(spec), "seed").strip().splitlines()
            created: dict[str, Any] = json.loads(lines[-1]) if lines else {}
            for key, value in created.items():
                if key == "clients":
                    self.credentials["clients"].update(value)
                    self.fresh.setdefault("clients", {}).update(value)
                elif value:
                    self.credentials[key] = value
                    self.fresh[key] = value
        wallet = self.credentials["clients"].get("rewards-service")
        if wallet:
            self.env.extra.update(
                {
                    "WALLET_CLIENT_ID": wallet["clientId"],
                    "WALLET_CLIENT_SECRET": wallet["clientSecret"],
                }
            )
        return self.credentials

    def start(self, spec: ServiceSpec, worker_replicas: int = 1) -> dict[str, Any]:
        """Start one service (web, workers, gRPC) and wait until it is ready."""
        index = self.services.index(spec)
        env = self.env.for_service(spec)
        if self.worker_metrics_base:
            env["WORKER_METRICS_PORT"] = str(self.worker_metrics_base + index)
            env["GRPC_METRICS_PORT"] = str(self.grpc_metrics_port(index))
        metrics = self.metrics_dir / spec.name if self.metrics_dir else None
        web = self._add(start_web(spec, env, self.log_dir, self.web_workers, metrics))
        if spec.has_worker:
            for replica in range(worker_replicas):
                name = f"{spec.name}-worker" + (f"-{replica + 1}" if replica else "")
                self._add(start_worker(spec, env, self.log_dir, name=name))
        if spec.has_grpc:
            self._add(start_grpc(spec, env, self.log_dir))
        base = f"http://127.0.0.1:{self.env.port(spec)}"
        wait_ready(base, timeout=90, process=web)
        entry: dict[str, Any] = {"url": base, "docs": f"{base}/{spec.name}/api-docs"}
        if self.worker_metrics_base and spec.has_worker:
            entry["workerMetrics"] = f"http://127.0.0.1:{self.worker_metrics_base + index}/metrics"
        if spec.has_grpc:
            entry["grpc"] = f"127.0.0.1:{self.env.grpc_port(spec)}"
            if self.worker_metrics_base:
                entry["grpcMetrics"] = f"http://127.0.0.1:{self.grpc_metrics_port(index)}/metrics"
        return entry

    def grpc_metrics_port(self, index: int) -> int:
        """The gRPC server's metrics port: ten above the workers' (one service at most)."""
        return (self.worker_metrics_base or 0) + 10 + index

    def start_all(self) -> dict[str, dict[str, Any]]:
        return {spec.name: self.start(spec) for spec in self.services}

    def process(self, name: str) -> ManagedProcess:
        return next(p for p in self.processes if p.name == name)

    def _add(self, managed: ManagedProcess) -> ManagedProcess:
        self.processes.append(managed)
        return managed

    def stop(self, drain: Callable[[], None] | None = None) -> None:
        """Stop every process; with ``drain``, the web processes first, then ``drain`` (which
        lets the workers finish what is in flight), then the rest."""
        if drain is not None:
            for managed in self.processes:
                if managed.name.endswith("-web"):
                    managed.stop()
            drain()
        for managed in reversed(self.processes):
            managed.stop()
        self.processes.clear()
