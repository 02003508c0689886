"""The outbox against PostgreSQL: a batch written in one statement keeps its order; the relay's
backlog gauge."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace

import pytest
from confluent_kafka import Producer
from prometheus_client import REGISTRY
from sqlalchemy import Engine, create_engine, text

from embedded.servers import free_port
from shared.application.events import IntegrationEvent, Topic
from shared.messaging.relay import OutboxRelay
from shared.messaging.schemas import EventSchemaError, event_schemas
from shared.observability import context
from shared.persistence.database import normalise_url
from shared.persistence.outbox import SqlAlchemyOutbox
from tests.support.infra import Infra


@pytest.fixture(scope="module")
def engine(infra: Infra) -> Iterator[Engine]:
    # Any service database has the outbox; rewards' is migrated for the session anyway.
    engine = create_engine(normalise_url(infra.database("rewards")))
    yield engine
    engine.dispose()


def confirmation(points: int) -> IntegrationEvent:
    return IntegrationEvent(
        "REWARD_CONFIRMED",
        str(uuid.uuid4()),
        {
            "pointsAwarded": points,
            "sourceEventId": str(uuid.uuid4()),
            "sourceEventType": "DINING",
        },
        correlation_id="req-7",
    )


def test_add_all_writes_the_batch_in_order_with_its_headers(engine: Engine) -> None:
    events = [confirmation(points) for points in range(250)]
    with engine.begin() as connection:
        SqlAlchemyOutbox(connection, event_schemas()).add_all(Topic.REWARD_CONFIRMED, events)
        rows = connection.execute(
            text("SELECT event_id, topic, message_key, payload, headers FROM outbox ORDER BY id")
        ).all()
        connection.execute(text("DELETE FROM outbox"))
    assert [r.event_id for r in rows] == [e.event_id for e in events]
    assert [r.payload["pointsAwarded"] for r in rows] == list(range(250))
    first = rows[0]
    assert first.topic == "reward-confirmed"
    assert first.message_key == events[0].user_id
    assert first.headers["X-Correlation-ID"] == "req-7"
    assert first.headers["eventType"] == "REWARD_CONFIRMED"


def test_add_all_refuses_a_batch_with_an_event_that_breaks_its_contract(engine: Engine) -> None:
    broken = IntegrationEvent("REWARD_CONFIRMED", str(uuid.uuid4()), {"pointsAwarded": "ten"})
    with engine.begin() as connection, pytest.raises(EventSchemaError):
        SqlAlchemyOutbox(connection, event_schemas()).add_all(
            Topic.REWARD_CONFIRMED, [confirmation(1), broken]
        )
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM outbox")).scalar_one() == 0


@pytest.mark.parametrize("unsafe", ["bad\ncorr\x1b[31mINJ", "x" * 129, "<script>"])
def test_an_unsafe_correlation_id_from_an_envelope_is_not_passed_on(
    engine: Engine, unsafe: str
) -> None:
    # A producer wrote it into the event it sent; the event confirming it must not carry it on
    # (headers' ids are checked when read, this one was not).
    event = replace(confirmation(5), correlation_id=unsafe)
    trace = context.TraceContext(correlation_id="work-42", trace_id="a" * 32)
    with engine.begin() as connection, context.bound(trace):
        SqlAlchemyOutbox(connection, event_schemas()).add(Topic.REWARD_CONFIRMED, event)
        row = connection.execute(text("SELECT payload, headers FROM outbox")).one()
        connection.execute(text("DELETE FROM outbox"))
    assert row.headers["X-Correlation-ID"] == "work-42"
    assert row.payload["correlationId"] == "work-42"


def test_the_backlog_gauge_counts_the_rows_waiting_while_the_broker_is_unreachable(
    engine: Engine,
) -> None:
    # Publishing fails before the gauge was set after it: it kept the value of the last time
    # publishing worked (0) while the rows waited.
    service = f"outbox-test-{uuid.uuid4().hex[:8]}"
    with engine.begin() as connection:
        SqlAlchemyOutbox(connection, event_schemas()).add_all(
            Topic.REWARD_CONFIRMED, [confirmation(n) for n in range(1, 4)]
        )
    unreachable = Producer(
        {"bootstrap.servers": f"127.0.0.1:{free_port()}", "message.timeout.ms": 2000}
    )
    relay = OutboxRelay(engine, unreachable, service, poll_interval=0.1, flush_timeout=0.5)
    thread = threading.Thread(target=relay.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while REGISTRY.get_sample_value("outbox_backlog", {"service": service}) != 3:
            assert time.monotonic() < deadline, "the backlog gauge never counted the rows"
            time.sleep(0.05)
    finally:
        relay.stop()
        thread.join(10)
        with engine.begin() as connection:
            connection.execute(text("DELETE FROM outbox"))
    assert not thread.is_alive()
