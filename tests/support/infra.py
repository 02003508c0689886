"""The servers a test session talks to: started from the embedded packages, or reached at
``DATABASE_URL`` / ``REDIS_URL`` / ``KAFKA_BOOTSTRAP_SERVERS`` / ``MONGODB_URL`` when given."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import make_url

from embedded.servers import (
    EmbeddedKafka,
    EmbeddedMongo,
    EmbeddedPostgres,
    EmbeddedRedis,
    free_port,
)
from shared.messaging.kafka import ensure_topics
from shared.persistence.migrations import drop_database, ensure_database, upgrade


@dataclass
class Infra:
    postgres_admin_url: str
    redis_url: str
    kafka_bootstrap: str
    mongodb_url: str
    workdir: Path
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    _stops: list[Callable[[], None]] = field(default_factory=list, repr=False)
    _databases: list[str] = field(default_factory=list, repr=False)

    def database(self, service: str) -> str:
        """A fresh migrated database for ``service`` in this session."""
        from sqlalchemy.engine import make_url

        name = f"{service}_test_{self.run_id}"
        url = (
            make_url(self.postgres_admin_url)
            .set(database=name)
            .render_as_string(hide_password=False)
        )
        ensure_database(url)
        upgrade(f"{service}_service", url)
        self._databases.append(url)
        return url

    @property
    def kafka_settings(self) -> dict[str, object]:
        return {"bootstrap_servers": self.kafka_bootstrap, "topic_partitions": 3}

    def stop(self, keep_files: bool = False) -> None:
        for url in self._databases:
            # Best effort: the server may be gone already.
            with contextlib.suppress(Exception):
                drop_database(url)
        for stop in reversed(self._stops):
            stop()
        # The servers' files (~120 MB a session) go with them, unless kept for a post-mortem.
        if not keep_files:
            shutil.rmtree(self.workdir, ignore_errors=True)


@contextlib.contextmanager
def throwaway_database(infra: Infra, prefix: str) -> Iterator[str]:
    """A new, empty database on the test PostgreSQL (its URL), dropped afterwards."""
    url = (
        make_url(infra.postgres_admin_url)
        .set(database=f"{prefix}_{uuid.uuid4().hex[:8]}")
        .render_as_string(hide_password=False)
    )
    ensure_database(url)
    try:
        yield url
    finally:
        drop_database(url)


def start_infra() -> Infra:
    workdir = Path(tempfile.mkdtemp(prefix="loyalty-test-"))
    stops: list[Callable[[], None]] = []
    pg_url = os.environ.get("DATABASE_URL")
    if not pg_url:
        pg = EmbeddedPostgres(workdir / "pg", durable=False)
        pg_url = pg.start()
        stops.append(pg.stop)
    redis_url = os.environ.get("REDIS_URL")
    if not redis_url:
        redis = EmbeddedRedis(workdir / "redis", persist=False)
        redis_url = redis.start()
        stops.append(redis.stop)
    kafka = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if not kafka:
        broker = EmbeddedKafka(free_port(), workdir)
        kafka = broker.start()
        stops.append(broker.stop)
    mongo_url = os.environ.get("MONGODB_URL")
    if not mongo_url:
        mongo = EmbeddedMongo(free_port(), workdir / "mongo")
        mongo_url = mongo.start()
        stops.append(mongo.stop)
    infra = Infra(pg_url, redis_url, kafka, mongo_url, workdir, _stops=stops)
    ensure_topics({"bootstrap_servers": kafka, "topic_partitions": 3})
    return infra
