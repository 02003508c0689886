"""Notification delivery benchmark: events/s stored through the consumer into MongoDB, and the
latency from publishing a ``notifications`` event to its arrival on an open WebSocket with 1,
100 and 1,000 sockets connected to one web process fed by one worker process.

    .venv/bin/python -m benchmarks.notification_delivery            # own embedded servers
    .venv/bin/python -m benchmarks.notification_delivery --reuse-data .data

It starts one notification web process (gunicorn, one gevent worker) and one notification worker
(the Kafka consumer) of this checkout, with tokens signed by a key of its own (its JWKS is served
on 127.0.0.1). ``--reuse-data`` takes Redis and MongoDB from a running platform's
``platform.json`` (a database, a Redis db and a live channel of the benchmark's own, removed
afterwards) but always starts its own Kafka broker: the platform's notification worker would
otherwise consume the benchmark's events too. The sockets are gevent greenlets in this process.
Targets: ≥ 1,000 notifications/s stored; p99 ≤ 50 ms from event to socket with 1,000 sockets.
"""

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import contextlib  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import gevent  # noqa: E402
import websocket  # noqa: E402
from confluent_kafka import Producer  # noqa: E402
from pymongo import MongoClient  # noqa: E402
from redis import Redis  # noqa: E402

from embedded.servers import (  # noqa: E402
    EmbeddedKafka,
    EmbeddedMongo,
    EmbeddedRedis,
    ManagedProcess,
    free_port,
)
from embedded.services import SERVICES, redis_url_for, start_web, start_worker, wait_ready  # noqa: E402
from shared.application.events import IntegrationEvent, Topic  # noqa: E402
from shared.messaging.kafka import ensure_topics  # noqa: E402
from tests.support.tokens import AUDIENCE, ISSUER, JwksServer, TokenMinter  # noqa: E402

PROMOTION = {
    "promotionId": "bench",
    "playerPromotionId": "bench",
    "title": "Benchmark promotion",
    "type": "BONUS",
    "amount": "1.00",
    "startDate": "2025-01-01T00:00:00Z",
    "endDate": "2030-12-31T00:00:00Z",
}
SPEC = next(s for s in SERVICES if s.name == "notification")


def say(message: str) -> None:
    print(message, flush=True)


# -- servers and processes ----------------------------------------------------------------------


@dataclass
class Servers:
    redis_url: str
    kafka: str
    mongodb_url: str
    database: str
    redis_db: int
    channel: str
    cleanups: list[Callable[[], None]] = field(default_factory=list)

    def stop(self) -> None:
        for cleanup in reversed(self.cleanups):
            with contextlib.suppress(Exception):
                cleanup()


def own_servers(workdir: Path) -> Servers:
    say("Starting Redis, the Kafka broker and the MongoDB wire server…")
    redis = EmbeddedRedis(workdir / "redis", persist=False)
    kafka = EmbeddedKafka(free_port(), workdir)
    mongo = EmbeddedMongo(free_port(), workdir / "mongo")
    servers = Servers(
        redis_url=redis.start(),
        kafka=kafka.start(),
        mongodb_url=mongo.start(),
        database="notifications_bench",
        redis_db=SPEC.redis_db,
        channel="notifications:live",
    )
    servers.cleanups += [redis.stop, kafka.stop, mongo.stop]
    return servers


def reused_servers(data_dir: Path, workdir: Path) -> Servers:
    document = json.loads((data_dir / "platform.json").read_text())
    running = document["endpoints"]["servers"]
    say(f"Reusing Redis and MongoDB of the platform in {data_dir}; starting a Kafka broker…")
    kafka = EmbeddedKafka(free_port(), workdir)
    run = uuid.uuid4().hex[:8]
    servers = Servers(
        redis_url=running["redis"],
        kafka=kafka.start(),
        mongodb_url=running["mongodb"],
        database=f"notifications_bench_{run}",
        redis_db=15,
        channel=f"notifications:live:bench-{run}",
    )
    servers.cleanups.append(kafka.stop)
    return servers


def service_env(servers: Servers, jwks: JwksServer, port: int) -> dict[str, str]:
    return {
        **os.environ,
        "LOYALTY_PROFILE": "dev",
        "LOG_LEVEL": "WARNING",
        "PORT": str(port),
        "WEB_CONCURRENCY": "1",
        "GUNICORN_WORKER_CONNECTIONS": "4000",
        "MONGODB_URL": servers.mongodb_url,
        "MONGODB_DATABASE": servers.database,
        "REDIS_URL": redis_url_for(servers.redis_url, servers.redis_db),
        "KAFKA_BOOTSTRAP_SERVERS": servers.kafka,
        "AUTH_ISSUER": ISSUER,
        "AUTH_AUDIENCE": AUDIENCE,
        "AUTH_JWKS_URL": jwks.url,
        "LOYALTY__LIVE__CHANNEL": servers.channel,
        "LOYALTY__CONSUMER__GROUP_ID": f"notification-bench-{uuid.uuid4().hex[:8]}",
        "PYTHONUNBUFFERED": "1",
    }


# -- the socket client --------------------------------------------------------------------------


class SocketFleet:
    """Sockets of distinct players, each read by its own greenlet, recording arrival times."""

    def __init__(self, url: str, minter: TokenMinter, count: int) -> None:
        self.url = url
        self.users = [str(uuid.uuid4()) for _ in range(count)]
        self.arrivals: dict[str, float] = {}
        self.failures = 0
        self._sockets: list[websocket.WebSocket] = []
        tokens = [minter.token(user, lifetime=3600) for user in self.users]
        jobs = [gevent.spawn(self._open, token) for token in tokens]
        gevent.joinall(jobs, timeout=120)
        self._readers = [gevent.spawn(self._read, ws) for ws in self._sockets]

    def _open(self, token: str) -> None:
        for attempt in range(5):
            try:
                ws = websocket.create_connection(
                    self.url, header=[f"Authorization: Bearer {token}"], timeout=60
                )
                self._sockets.append(ws)
                return
            except (OSError, websocket.WebSocketException):
                gevent.sleep(0.2 * (attempt + 1))
        self.failures += 1

    def _read(self, ws: websocket.WebSocket) -> None:
        ws.settimeout(None)
        while True:
            try:
                text = ws.recv()
            except (OSError, websocket.WebSocketException):
                return
            arrived = time.perf_counter()
            with contextlib.suppress(ValueError, KeyError, TypeError):
                sample = json.loads(text)["notification"]["title"]
                self.arrivals.setdefault(sample, arrived)

    @property
    def connected(self) -> int:
        return len(self._sockets)

    def close(self) -> None:
        for ws in self._sockets:
            with contextlib.suppress(Exception):
                ws.close()
        gevent.killall(self._readers, timeout=5)


# -- measurements -------------------------------------------------------------------------------


def notification(user_id: str, title: str) -> bytes:
    event = IntegrationEvent("PROMOTION", user_id, {"content": PROMOTION, "title": title})
    return json.dumps(event.to_message()).encode()


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        gevent.sleep(0.01)


def measure_throughput(producer: Producer, collection: Any, events: int) -> tuple[float, float]:
    """Produce ``events`` at once; returns (stored/s seen by MongoDB, stored/s wall clock)."""
    users = [str(uuid.uuid4()) for _ in range(1000)]
    before = collection.estimated_document_count()
    started = time.perf_counter()
    for index in range(events):
        user = users[index % len(users)]
        producer.produce(
            Topic.NOTIFICATIONS.value, key=user.encode(), value=notification(user, f"t{index}")
        )
        if index % 1000 == 0:
            producer.poll(0)
    producer.flush(30)
    wait_for(
        lambda: collection.estimated_document_count() - before >= events,
        timeout=600,
        what="the throughput events to be stored",
    )
    wall = time.perf_counter() - started
    newest = collection.find({}, {"received_at": 1}).sort("received_at", -1).limit(1)
    oldest = collection.find({}, {"received_at": 1}).sort("received_at", 1).skip(before).limit(1)
    span = (next(newest)["received_at"] - next(oldest)["received_at"]).total_seconds()
    return events / max(span, 1e-6), events / wall


@dataclass
class Latency:
    sockets: int
    samples: int
    p50: float
    p99: float
    worst: float
    lost: int
    stored_p50: float
    stored_p99: float


def measure_latency(
    producer: Producer, fleet: SocketFleet, collection: Any, samples: int, rate: float
) -> Latency:
    """One event every 1/rate s to a random connected player; event→socket latency in ms."""
    sent: dict[str, float] = {}
    interval = 1.0 / rate
    next_at = time.perf_counter()
    for _ in range(samples):
        user = random.choice(fleet.users)
        sample = uuid.uuid4().hex
        payload = notification(user, sample)
        sent[sample] = time.perf_counter()
        producer.produce(Topic.NOTIFICATIONS.value, key=user.encode(), value=payload)
        producer.poll(0)
        next_at += interval
        gevent.sleep(max(0.0, next_at - time.perf_counter()))
    producer.flush(10)
    with contextlib.suppress(SystemExit):
        wait_for(lambda: all(s in fleet.arrivals for s in sent), 10, "the last samples")
    latencies = sorted(
        (fleet.arrivals[s] - t) * 1000 for s, t in sent.items() if s in fleet.arrivals
    )
    if not latencies:
        raise SystemExit("no sample arrived on a socket")
    # The part up to MongoDB: the event's time (set when it was built) to received_at.
    stored = sorted(
        (d["received_at"] - d["created_at"]).total_seconds() * 1000
        for d in collection.find(
            {"title": {"$in": list(sent)}}, {"received_at": 1, "created_at": 1}
        )
    )
    return Latency(
        sockets=fleet.connected,
        samples=len(latencies),
        p50=statistics.median(latencies),
        p99=latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        worst=latencies[-1],
        lost=len(sent) - len(latencies),
        stored_p50=statistics.median(stored) if stored else float("nan"),
        stored_p99=stored[min(len(stored) - 1, int(len(stored) * 0.99))]
        if stored
        else float("nan"),
    )


def warm_up(producer: Producer, fleet: SocketFleet) -> None:
    """One notification to every socket: each is served, and the consumer has joined."""
    marks = {}
    for user in fleet.users:
        mark = f"warm-{uuid.uuid4().hex}"
        marks[mark] = user
        producer.produce(
            Topic.NOTIFICATIONS.value, key=user.encode(), value=notification(user, mark)
        )
    producer.flush(30)
    wait_for(lambda: all(m in fleet.arrivals for m in marks), 120, "every socket to be served")


# -- main ---------------------------------------------------------------------------------------


@dataclass
class Bench:
    servers: Servers
    base_url: str
    workdir: Path
    minter: TokenMinter
    env: dict[str, str]
    processes: list[ManagedProcess]

    def add_workers(self, count: int) -> None:
        """More consumer processes in the same group (the topic has 3 partitions)."""
        for index in range(count):
            name = f"notification-worker-{index + 2}"
            self.processes.append(start_worker(SPEC, self.env, self.workdir / "logs", name=name))
        # Let the group rebalance (a join takes about half the 2 s session timeout).
        gevent.sleep(6)


@contextlib.contextmanager
def running(args: argparse.Namespace) -> Iterator[Bench]:
    workdir = Path(tempfile.mkdtemp(prefix="notification-bench-"))
    servers = (
        reused_servers(Path(args.reuse_data), workdir) if args.reuse_data else own_servers(workdir)
    )
    processes: list[ManagedProcess] = []
    minter = TokenMinter()
    jwks = JwksServer(minter)
    try:
        ensure_topics({"bootstrap_servers": servers.kafka, "topic_partitions": 3})
        port = free_port()
        env = service_env(servers, jwks, port)
        say("Starting the notification web process (gunicorn, 1 gevent worker) and worker…")
        processes.append(start_web(SPEC, env, workdir / "logs", workers=1))
        processes.append(start_worker(SPEC, env, workdir / "logs"))
        base = f"http://127.0.0.1:{port}"
        wait_ready(base, timeout=90, process=processes[0])
        yield Bench(servers, base, workdir, minter, env, processes)
    finally:
        for process in reversed(processes):
            process.stop()
        jwks.stop()
        if args.reuse_data:
            with contextlib.suppress(Exception):
                MongoClient(servers.mongodb_url).drop_database(servers.database)
            with contextlib.suppress(Exception):
                Redis.from_url(redis_url_for(servers.redis_url, servers.redis_db)).flushdb()
        servers.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sockets", default="1,100,1000", help="socket counts to measure with")
    parser.add_argument("--samples", type=int, default=500, help="latency samples per count")
    parser.add_argument("--rate", type=float, default=100.0, help="latency events per second")
    parser.add_argument("--events", type=int, default=20000, help="events for the throughput run")
    parser.add_argument(
        "--throughput-workers",
        type=int,
        default=1,
        help="worker processes for the throughput run (latency is always measured with one)",
    )
    parser.add_argument("--reuse-data", metavar="DIR", help="reuse a running platform's servers")
    args = parser.parse_args(argv)
    levels = [int(n) for n in args.sockets.split(",") if n]
    load_before = os.getloadavg()[0]

    with running(args) as bench:
        servers, minter = bench.servers, bench.minter
        producer = Producer(
            {"bootstrap.servers": servers.kafka, "linger.ms": 0, "enable.idempotence": True}
        )
        collection: Any = MongoClient(servers.mongodb_url, tz_aware=True)[servers.database][
            "notifications"
        ]
        url = bench.base_url.replace("http://", "ws://") + "/api/v1/notifications/ws"

        results: list[Latency] = []
        for count in levels:
            say(f"Connecting {count} socket(s)…")
            fleet = SocketFleet(url, minter, count)
            try:
                if fleet.failures:
                    say(f"  {fleet.failures} socket(s) could not connect")
                warm_up(producer, fleet)
                say(f"  measuring {args.samples} events at {args.rate:.0f}/s…")
                results.append(
                    measure_latency(producer, fleet, collection, args.samples, args.rate)
                )
            finally:
                fleet.close()

        if args.throughput_workers > 1:
            say(f"Starting {args.throughput_workers - 1} more worker process(es)…")
            bench.add_workers(args.throughput_workers - 1)
        say(f"Producing {args.events} events for the throughput run…")
        stored_rate, wall_rate = measure_throughput(producer, collection, args.events)
        # Released before the broker stops, so the client does not retry a closed port at exit.
        del producer

    say("")
    say(
        f"Notification delivery ({os.cpu_count()} CPU cores, "
        f"load average {load_before:.1f} before / {os.getloadavg()[0]:.1f} after)"
    )
    say("")
    say("  event → socket with one web process (one gevent worker) and one worker process")
    say("  (and, for reference, event → stored in MongoDB)")
    say(
        f"  {'sockets':>8}  {'samples':>7}  {'p50 ms':>7}  {'p99 ms':>7}  {'max ms':>7}"
        f"  {'lost':>4}  {'stored p50':>10}  {'stored p99':>10}"
    )
    for r in results:
        say(
            f"  {r.sockets:>8}  {r.samples:>7}  {r.p50:>7.1f}  {r.p99:>7.1f}  {r.worst:>7.1f}"
            f"  {r.lost:>4}  {r.stored_p50:>10.1f}  {r.stored_p99:>10.1f}"
        )
    say("")
    workers = f"{args.throughput_workers} worker process" + (
        "es" if args.throughput_workers > 1 else ""
    )
    say(f"  stored through the consumer ({workers}):")
    say(f"                               {stored_rate:,.0f} notifications/s (MongoDB clock)")
    say(f"                               {wall_rate:,.0f} notifications/s (produce → all stored)")
    say("")
    say(f"Logs: {bench.workdir / 'logs'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
