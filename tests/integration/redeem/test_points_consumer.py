"""Points from ``reward-confirmed`` against PostgreSQL and the broker: batches, replays,
concurrent consumers of the same events, clawbacks below zero, and dead letters."""

from __future__ import annotations

import threading
import uuid
from decimal import Decimal

import pytest
from flask.testing import FlaskClient

from redeem_service.application.commands import RecordTransaction
from redeem_service.container import Container
from redeem_service.controllers.consumers import RewardConfirmedHandler
from redeem_service.domain.model import Currency, TransactionType
from shared.messaging.consumer import RejectEvent
from tests.integration.redeem.conftest import bearer
from tests.integration.redeem.support import (
    Running,
    fresh_topic,
    inbound,
    json_of,
    ledger,
    new_player,
    outbox_messages,
    points_balance,
    reward_confirmed,
    transaction_count,
    wait_until,
)
from tests.support.infra import Infra
from tests.support.kafka import TopicProbe, produce
from tests.support.tokens import TestSigner

TOPIC = "reward-confirmed"


@pytest.fixture
def handler(redeem_container: Container) -> RewardConfirmedHandler:
    return RewardConfirmedHandler(redeem_container.points_service())


def ledger_is_clean(container: Container) -> bool:
    with container.uow() as uow:
        return not uow.transactions.discrepancies()


def test_a_batch_credits_every_player_once_with_its_log_lines(
    redeem_container: Container, handler: RewardConfirmedHandler
) -> None:
    engine = redeem_container.core.database()
    players = [new_player() for _ in range(5)]
    events = [reward_confirmed(players[i % 5], 10 + i) for i in range(50)]
    handler.handle([inbound(e, TOPIC, i) for i, e in enumerate(events)])
    for index, player in enumerate(players):
        expected = sum(10 + i for i in range(index, 50, 5))
        assert points_balance(engine, player) == expected
        assert transaction_count(engine, player) == 10
        row = ledger(engine, player)
        assert row["points"] == row["points_total"] == expected
    with redeem_container.uow() as uow:
        line = uow.transactions.get_by_idempotency_key(f"reward:{events[0].data['sourceEventId']}")
    assert line is not None
    assert line.additional_data["partnerId"] == "dining"
    assert line.additional_data["eventId"] == events[0].event_id
    assert ledger_is_clean(redeem_container)


def test_an_award_naming_the_player_in_capitals_reaches_their_own_wallet(
    redeem_container: Container, handler: RewardConfirmedHandler
) -> None:
    # Not a second wallet nobody sees: a clawback sent so was lost, the points spendable.
    engine = redeem_container.core.database()
    player = str(uuid.uuid4())
    handler.handle([inbound(reward_confirmed(player, 500), TOPIC, 0)])
    handler.handle([inbound(reward_confirmed(player.upper(), -500), TOPIC, 1)])
    assert points_balance(engine, player) == 0
    with redeem_container.uow() as uow:
        assert uow.wallets.get(player.upper()) is None


def test_redelivered_events_change_nothing_alone_or_mixed_with_new_ones(
    redeem_container: Container, handler: RewardConfirmedHandler
) -> None:
    engine = redeem_container.core.database()
    player = new_player()
    first = [reward_confirmed(player, 10) for _ in range(3)]
    handler.handle([inbound(e, TOPIC, i) for i, e in enumerate(first)])
    handler.handle([inbound(e, TOPIC, i) for i, e in enumerate(first)])
    # A republished award (new eventId, same sourceEventId) is the same award.
    again = reward_confirmed(player, 10, source_event_id=first[0].data["sourceEventId"])
    handler.handle([inbound(again, TOPIC), inbound(reward_confirmed(player, 5), TOPIC, 1)])
    assert points_balance(engine, player) == 35
    assert transaction_count(engine, player) == 4


def test_two_consumers_of_the_same_events_at_once_record_each_once(
    redeem_container: Container,
) -> None:
    """What happens during a rebalance: the old and the new member handle one batch together."""
    engine = redeem_container.core.database()
    players = [new_player() for _ in range(20)]
    events = [reward_confirmed(players[i % 20], 3) for i in range(400)]
    batch = [inbound(e, TOPIC, i) for i, e in enumerate(events)]
    handlers = [RewardConfirmedHandler(redeem_container.points_service()) for _ in range(4)]
    start = threading.Barrier(len(handlers))
    errors: list[BaseException] = []

    def run(handler: RewardConfirmedHandler, shift: int) -> None:
        start.wait()
        try:
            handler.handle(batch[shift:] + batch[:shift])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(h, i * 100)) for i, h in enumerate(handlers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert all(points_balance(engine, p) == 60 for p in players)
    assert sum(transaction_count(engine, p) for p in players) == 400
    assert ledger_is_clean(redeem_container)


def test_a_reversal_takes_back_points_already_spent_below_zero(
    redeem_container: Container, handler: RewardConfirmedHandler
) -> None:
    engine = redeem_container.core.database()
    player = new_player()
    earned = reward_confirmed(player, 100)
    handler.handle([inbound(earned, TOPIC)])
    redeem_container.wallet_service().record(
        RecordTransaction(player, Currency.POINTS, TransactionType.DEBIT, 70, "shop-1"),
        actor="shop",
    )
    reversal = reward_confirmed(player, -100)
    handler.handle([inbound(reversal, TOPIC)])
    assert points_balance(engine, player) == -70
    row = ledger(engine, player)
    assert row["points"] == row["points_total"] == Decimal(-70)
    assert ledger_is_clean(redeem_container)
    # Below zero, debits are refused until the player earns back.
    with pytest.raises(Exception, match="balance"):
        redeem_container.wallet_service().record(
            RecordTransaction(player, Currency.POINTS, TransactionType.DEBIT, 1, "shop-2"),
            actor="shop",
        )
    handler.handle([inbound(reward_confirmed(player, 80), TOPIC)])
    assert points_balance(engine, player) == 10


def test_a_zero_award_records_nothing(
    redeem_container: Container, handler: RewardConfirmedHandler
) -> None:
    player = new_player()
    handler.handle([inbound(reward_confirmed(player, 0), TOPIC)])
    assert points_balance(redeem_container.core.database(), player) is None


def test_an_award_for_an_impossible_player_is_rejected(handler: RewardConfirmedHandler) -> None:
    with pytest.raises(RejectEvent) as rejected:
        handler.handle([inbound(reward_confirmed("not a player id", 5), TOPIC)])
    assert rejected.value.reason == "invalid_award"


def test_an_award_reusing_a_source_event_id_for_other_content_is_refused_not_dropped(
    redeem_container: Container, handler: RewardConfirmedHandler
) -> None:
    # Another player, or other points, under a source event id already awarded: not a repeat.
    # It used to vanish without a trace (counted as a duplicate).
    engine = redeem_container.core.database()
    player, other = new_player(), new_player()
    source = str(uuid.uuid4())
    handler.handle([inbound(reward_confirmed(player, 100, source), TOPIC, 0)])
    for conflicting in (
        reward_confirmed(other, 100, source),
        reward_confirmed(player, 5000, source),
    ):
        with pytest.raises(RejectEvent) as refused:
            handler.handle([inbound(conflicting, TOPIC, 1)])
        assert refused.value.reason == "award_conflict"
    # Twice in one batch with different points: the batch is refused, so the runner takes its
    # events one by one and only the conflicting one is dead-lettered.
    fresh = str(uuid.uuid4())
    with pytest.raises(RejectEvent):
        handler.handle(
            [
                inbound(reward_confirmed(player, 10, fresh), TOPIC, 2),
                inbound(reward_confirmed(player, 11, fresh), TOPIC, 3),
            ]
        )
    # The same award again is a repeat, as before.
    handler.handle([inbound(reward_confirmed(player, 100, source), TOPIC, 4)])
    assert points_balance(engine, player) == 100
    assert points_balance(engine, other) is None


def test_bad_events_are_dead_lettered_and_the_good_ones_credited(
    infra: Infra, redeem_container: Container
) -> None:
    engine = redeem_container.core.database()
    topic = fresh_topic(infra, "reward-confirmed")
    dlq = TopicProbe(infra.kafka_bootstrap, f"{topic}.dlq")
    player = new_player()
    good = [reward_confirmed(player, 7) for _ in range(3)]
    unparseable = b"{not json"
    missing_points = reward_confirmed(player, 1).to_message()
    del missing_points["pointsAwarded"]
    bad_player = reward_confirmed("bad player", 5).to_message()
    records: list[bytes | dict[str, object]] = [
        good[0].to_message(),
        unparseable,
        missing_points,
        bad_player,
        good[1].to_message(),
        good[2].to_message(),
    ]
    for record in records:
        produce(infra.kafka_bootstrap, topic, record, key=player)
    running = Running(infra, topic, RewardConfirmedHandler(redeem_container.points_service()))
    try:
        wait_until(lambda: points_balance(engine, player) == 21, timeout=30)
        dead = dlq.wait_for(lambda r: True, count=3, timeout=30)
    finally:
        running.stop()
        dlq.close()
    assert sorted(r["headers"]["dlq-reason"] for r in dead) == [
        "invalid_award",
        "invalid_json",
        "schema_violation",
    ]
    assert transaction_count(engine, player) == 3
    assert {r["headers"]["dlq-original-topic"] for r in dead} == {topic}


def test_an_adjustment_on_a_balance_below_zero_is_notified_with_that_balance(
    redeem_container: Container,
    handler: RewardConfirmedHandler,
    client: FlaskClient,
    signer: TestSigner,
) -> None:
    player = new_player()
    handler.handle([inbound(reward_confirmed(player, -50), TOPIC)])
    response = client.post(
        f"/api/v1/wallet/players/{player}/adjustments",
        json={"currency": "POINTS", "type": "CREDIT", "amount": "20", "reason": "Goodwill"},
        headers={
            **bearer(signer.user_token("admin-1", role="admin")),
            "Idempotency-Key": f"goodwill-{player}",
        },
    )
    assert response.status_code == 201, response.json
    assert json_of(response)["balances"]["points"] == -30
    [notified] = outbox_messages(redeem_container.core.database(), "notifications")
    assert notified["content"]["balance"] == "-30"
