"""Shared by the benchmarks: a throw-away embedded platform, wrk for HTTP load, and the CPU that
each group of processes spends (Linux ``/proc``)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import re
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from embedded.cluster import ServiceCluster
from embedded.servers import (
    EmbeddedKafka,
    EmbeddedMongo,
    EmbeddedPostgres,
    EmbeddedRedis,
    free_port,
)
from embedded.services import SERVICES, PlatformEnv
from shared.messaging.kafka import ensure_topics
from shared.persistence.migrations import ensure_database


@dataclass
class BenchPlatform:
    cluster: ServiceCluster
    endpoints: dict[str, dict[str, Any]]
    credentials: dict[str, Any]
    servers: dict[str, str]
    workdir: Path

    def url(self, service: str) -> str:
        return str(self.endpoints[service]["url"])


@contextlib.contextmanager
def embedded_platform(
    services: list[str], web_workers: int = 2, extra_env: dict[str, str] | None = None
) -> Iterator[BenchPlatform]:
    """Servers + the named services as real processes, in a temporary folder, torn down after."""
    workdir = Path(tempfile.mkdtemp(prefix="loyalty-bench-"))
    stops = []
    try:
        postgres = EmbeddedPostgres(workdir / "pg", durable=False)
        postgres.start()
        stops.append(postgres.stop)
        redis = EmbeddedRedis(workdir / "redis", persist=False)
        redis.start()
        stops.append(redis.stop)
        kafka = EmbeddedKafka(free_port(), workdir)
        kafka.start()
        stops.append(kafka.stop)
        mongo = EmbeddedMongo(free_port(), workdir / "mongo")
        mongo.start()
        stops.append(mongo.stop)
        ensure_topics({"bootstrap_servers": kafka.bootstrap_servers, "topic_partitions": 3})
        specs = [s for s in SERVICES if s.name in services]
        databases = {s.database: postgres.url_for(s.database) for s in specs if s.database}
        for url in databases.values():
            ensure_database(url)
        ports = {s.name: free_port() for s in SERVICES}
        auth_url = f"http://127.0.0.1:{ports['auth']}"
        env = PlatformEnv(
            postgres_url_for=databases,
            redis_url=redis.url,
            kafka_bootstrap=kafka.bootstrap_servers,
            mongodb_url=mongo.url,
            issuer=auth_url,
            auth_internal_url=auth_url,
            secrets={
                "AUTH_KEY_ENCRYPTION_SECRET": secrets.token_urlsafe(24),
                "AUTH_CLIENT_SECRET_PEPPER": secrets.token_urlsafe(24),
            },
            profile="dev",
            ports=ports,
            grpc_ports={"redeem": free_port()},
            extra={
                "LOG_LEVEL": "WARNING",
                "LOYALTY__WEB__ACCESS_LOG": "false",
                **(extra_env or {}),
            },
        )
        cluster = ServiceCluster(
            env=env, services=specs, log_dir=workdir / "logs", web_workers=web_workers
        )
        stops.append(cluster.stop)
        cluster.migrate()
        credentials = cluster.seed()
        endpoints = cluster.start_all()
        yield BenchPlatform(
            cluster,
            endpoints,
            credentials,
            {
                "postgres": postgres.admin_url,
                "redis": redis.url,
                "kafka": kafka.bootstrap_servers,
                "mongodb": mongo.url,
            },
            workdir,
        )
    finally:
        for stop in reversed(stops):
            with contextlib.suppress(Exception):
                stop()
        shutil.rmtree(workdir, ignore_errors=True)


@dataclass
class WrkResult:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    errors: str


def _ms(value: str) -> float:
    number, unit = re.match(r"([\d.]+)(us|ms|s)", value).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(
    url: str, duration: int = 10, connections: int = 32, threads: int = 2, script: str | None = None
) -> WrkResult:
    """Run wrk (Debian package ``wrk``) and read its latency distribution."""
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is required: apt-get install -y wrk")
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency"]
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
        if script:
            lua.write(script)
    if script:
        command += ["-s", lua.name]
    try:
        output = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    finally:
        Path(lua.name).unlink(missing_ok=True)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    # Anchored to the distribution's own lines: a thread-stats column such as "62.50%" also ends
    # in "50%".
    p50 = _ms(re.search(r"^\s*50%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s*99%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    non_2xx_match = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors_match = re.search(r"Socket errors:.*", output)
    return WrkResult(
        rps,
        p50,
        p99,
        int(non_2xx_match.group(1)) if non_2xx_match else 0,
        errors_match.group(0) if errors_match else "",
    )


def machine_busy_seconds() -> float:
    """CPU time spent by every process on the machine (Linux ``/proc/stat``): with the load
    generator and every server on the same cores, the cost of one operation in all."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def process_table() -> dict[int, tuple[int, float]]:
    """pid → (parent pid, user + system CPU seconds) of every process on the machine."""
    ticks = os.sysconf("SC_CLK_TCK")
    table: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        table[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / ticks)
    return table


def process_trees(roots: Iterable[int], table: dict[int, tuple[int, float]]) -> set[int]:
    """``roots`` still alive and all their descendants (a server's workers, a database's
    backends)."""
    children: dict[int, list[int]] = {}
    for pid, (parent, _) in table.items():
        children.setdefault(parent, []).append(pid)
    found: set[int] = set()
    stack = list(roots)
    while stack:
        pid = stack.pop()
        if pid in found or pid not in table:
            continue
        found.add(pid)
        stack.extend(children.get(pid, []))
    return found


def tree_cpu(roots: Iterable[int]) -> float:
    """CPU seconds of ``roots`` and their live descendants."""
    table = process_table()
    return sum(table[pid][1] for pid in process_trees(roots, table))


def pids_with(fragment: str) -> list[int]:
    """Processes whose command line contains ``fragment`` (e.g. a data directory)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if fragment in command:
            found.append(int(entry.name))
    return found


class CpuMeter:
    """CPU seconds spent by groups of process trees between two readings: what a run costs,
    whatever else shares the machine. Each group names its root processes; the trees are listed
    anew at every reading (database backends come and go), and a process that appeared meanwhile
    counts from zero. Groups named in ``alone`` count their processes without descendants (the
    load generator, whose children are the platform itself)."""

    def __init__(
        self, groups: dict[str, Callable[[], Iterable[int]]], alone: Iterable[str] = ()
    ) -> None:
        self._groups = groups
        self._alone = set(alone)
        self._start = self._read()

    def _read(self) -> dict[str, dict[int, float]]:
        table = process_table()
        read: dict[str, dict[int, float]] = {}
        for name, roots in self._groups.items():
            pids = (
                [pid for pid in roots() if pid in table]
                if name in self._alone
                else process_trees(roots(), table)
            )
            read[name] = {pid: table[pid][1] for pid in pids}
        return read

    def restart(self) -> None:
        """Count from now."""
        self._start = self._read()

    def used(self) -> dict[str, float]:
        now = self._read()
        return {
            name: sum(seconds - self._start[name].get(pid, 0.0) for pid, seconds in pids.items())
            for name, pids in now.items()
        }


def platform_cpu_groups(
    platform: BenchPlatform, processes: dict[str, str]
) -> dict[str, Callable[[], list[int]]]:
    """Groups for a :class:`CpuMeter` of the platform's servers plus ``processes`` (label →
    process name in the cluster, e.g. ``{"rewards web": "rewards-web"}``; a prefix takes every
    replica): PostgreSQL, Redis and the broker, each with its children."""
    cluster = {p.name: p.pid for p in platform.cluster.processes}
    postgres = pids_with(f"{platform.workdir}/pg")
    redis = pids_with(f"{platform.workdir}/redis")
    broker = pids_with(f"tcp://{platform.servers['kafka']}")
    fixed = {
        label: [pid for process, pid in cluster.items() if process.startswith(name)]
        for label, name in processes.items()
    }
    fixed.update({"PostgreSQL": postgres, "Redis": redis, "broker": broker})
    return {label: functools.partial(list, pids) for label, pids in fixed.items()}


class KeepAliveClient:
    """A small HTTP/1.1 client on asyncio for open-loop load: a fixed set of keep-alive
    connections, one request at a time on each, the response read by Content-Length (or chunks).

    One event loop costs far less CPU per request than threads with ``requests``, so the load
    generator takes less of the cores it shares with the platform and adds no thread-scheduling
    delay of its own to the latencies it measures.
    """

    def __init__(self, base_url: str, connections: int) -> None:
        parsed = urlsplit(base_url)
        self._host = parsed.hostname or "127.0.0.1"
        self._port = parsed.port or 80
        self._size = connections
        self._idle: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] | None = None

    async def open(self) -> None:
        self._idle = asyncio.Queue()
        for _ in range(self._size):
            self._idle.put_nowait(await asyncio.open_connection(self._host, self._port))

    async def close(self) -> None:
        assert self._idle is not None
        while not self._idle.empty():
            _, writer = self._idle.get_nowait()
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def post_json(self, path: str, body: bytes, headers: dict[str, str]) -> int:
        """POST and return the status (the body is read and dropped)."""
        assert self._idle is not None
        reader, writer = await self._idle.get()
        lines = [
            f"POST {path} HTTP/1.1",
            f"Host: {self._host}:{self._port}",
            "Content-Type: application/json",
            f"Content-Length: {len(body)}",
            *(f"{name}: {value}" for name, value in headers.items()),
        ]
        try:
            writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
            status, keep_alive = await self._read_response(reader)
        except (OSError, asyncio.IncompleteReadError, ValueError):
            writer.close()
            self._idle.put_nowait(await asyncio.open_connection(self._host, self._port))
            return 0
        if keep_alive:
            self._idle.put_nowait((reader, writer))
        else:
            writer.close()
            self._idle.put_nowait(await asyncio.open_connection(self._host, self._port))
        return status

    @staticmethod
    async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        status = int(head[0].split(" ", 2)[1])
        fields = {
            name.strip().lower(): value.strip()
            for name, _, value in (line.partition(":") for line in head[1:] if line)
        }
        if fields.get("transfer-encoding", "").lower() == "chunked":
            while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
                await reader.readexactly(size + 2)
            await reader.readuntil(b"\r\n")
        else:
            await reader.readexactly(int(fields.get("content-length", "0")))
        return status, fields.get("connection", "").lower() != "close"
