"""Engine creation and the SQLAlchemy unit of work base class."""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import Any, Self

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import make_url

from shared.application.unit_of_work import UnitOfWork
from shared.messaging.schemas import EventSchemas, event_schemas
from shared.persistence.outbox import SqlAlchemyOutbox
from shared.persistence.processed_events import SqlAlchemyProcessedEvents


def normalise_url(url: str) -> str:
    """Use the psycopg 3 driver whatever scheme the operator wrote."""
    parsed = make_url(url)
    if parsed.drivername in {"postgres", "postgresql", "postgresql+psycopg2"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def create_database_engine(settings: Mapping[str, Any]) -> Engine:
    """An engine from the ``database`` section (url, pool sizes and pre-ping, statement
    timeout)."""
    pool = settings.get("pool", {})
    statement_timeout_ms = int(settings.get("statement_timeout_ms", 15000))
    return create_engine(
        normalise_url(str(settings["url"])),
        pool_size=int(pool.get("size", 10)),
        max_overflow=int(pool.get("max_overflow", 10)),
        pool_timeout=float(pool.get("timeout_seconds", 10)),
        pool_recycle=int(pool.get("recycle_seconds", 1800)),
        pool_pre_ping=bool(pool.get("pre_ping", True)),
        # A failed statement's message is logged and can reach a dead letter's header: it must
        # not carry the values (emails, password hashes, whole event batches).
        hide_parameters=True,
        connect_args=connect_args(settings, statement_timeout_ms),
    )


def connect_args(settings: Mapping[str, Any], statement_timeout_ms: int) -> dict[str, Any]:
    """libpq parameters of every connection.

    ``statement_timeout`` is the server's to enforce: a server that is unreachable (a failover,
    a network partition) never answers, and a request would wait on its socket for as long as
    the kernel retransmits (about 15 minutes). TCP keepalives find a silent peer while we wait
    for an answer, and ``tcp_user_timeout`` bounds how long sent data may stay unacknowledged;
    a request then fails with a retryable 503. (Both only apply over TCP, not a Unix socket.)
    """
    return {
        "options": f"-c statement_timeout={statement_timeout_ms}",
        "connect_timeout": int(settings.get("connect_timeout_seconds", 5)),
        "application_name": str(settings.get("application_name", "loyalty")),
        "keepalives": 1,
        "keepalives_idle": int(settings.get("keepalives_idle_seconds", 10)),
        "keepalives_interval": int(settings.get("keepalives_interval_seconds", 5)),
        "keepalives_count": int(settings.get("keepalives_count", 3)),
        "tcp_user_timeout": int(settings.get("tcp_user_timeout_ms", 10_000)),
    }


def check_database(engine: Engine) -> None:
    """Readiness probe: one round trip."""
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))


class SqlAlchemyUnitOfWork(UnitOfWork):
    """A connection and its transaction for one state change; services add their repositories
    in :meth:`_bind` (called when the block starts)."""

    connection: Connection

    def __init__(self, engine: Engine, schemas: EventSchemas | None = None) -> None:
        self._engine = engine
        self._schemas = schemas or event_schemas()
        self._transaction: Any = None

    def __enter__(self) -> Self:
        self.connection = self._engine.connect()
        self._transaction = self.connection.begin()
        self.outbox = SqlAlchemyOutbox(self.connection, self._schemas)
        self.processed_events = SqlAlchemyProcessedEvents(self.connection)
        self._bind(self.connection)
        return self

    def _bind(self, connection: Connection) -> None:
        """Create the repositories of this service on ``connection``."""

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self.rollback()
        finally:
            self.connection.close()

    def commit(self) -> None:
        if self._transaction is not None and self._transaction.is_active:
            self._transaction.commit()

    def rollback(self) -> None:
        if self._transaction is not None and self._transaction.is_active:
            self._transaction.rollback()
