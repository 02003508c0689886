"""Deciding redemptions from ``redeem-events`` against PostgreSQL and the broker: 64 concurrent
requests on one balance, overlapping consumers, replays, partner events, clawbacks, dead letters."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from flask import Flask

from redeem_service.application.commands import RecordTransaction
from redeem_service.container import Container
from redeem_service.controllers.consumers import RedeemRequestedHandler, RewardConfirmedHandler
from redeem_service.domain.exceptions import InsufficientBalance
from redeem_service.domain.model import Currency, TransactionType
from redeem_service.domain.ports import RedemptionFilter
from shared.domain.pagination import PageRequest
from tests.integration.redeem.conftest import bearer
from tests.integration.redeem.support import (
    Running,
    fresh_topic,
    inbound,
    ledger,
    new_player,
    outbox_events,
    outbox_messages,
    points_balance,
    redeem_requested,
    reward_confirmed,
    transaction_count,
    wait_until,
)
from tests.support.infra import Infra
from tests.support.kafka import TopicProbe, produce
from tests.support.tokens import TestSigner

TOPIC = "redeem-events"


def earn(container: Container, player: str, points: int) -> None:
    RewardConfirmedHandler(container.points_service()).handle(
        [inbound(reward_confirmed(player, points), "reward-confirmed")]
    )


def decide(container: Container, events: list[Any]) -> None:
    RedeemRequestedHandler(container.redemption_decisions()).handle(
        [inbound(e, TOPIC, i) for i, e in enumerate(events)]
    )


def statuses(container: Container, player: str) -> dict[str, list[Any]]:
    with container.uow() as uow:
        page = uow.redemptions.list(RedemptionFilter(player), PageRequest(page_size=100))
    found: dict[str, list[Any]] = {}
    for redemption in page.items:
        found.setdefault(redemption.status.value, []).append(redemption)
    return found


def ledger_is_clean(container: Container) -> bool:
    with container.uow() as uow:
        return not uow.transactions.discrepancies()


def test_64_concurrent_redemptions_on_one_balance_never_overdraw(
    redeem_app: Flask, redeem_container: Container, signer: TestSigner
) -> None:
    engine = redeem_container.core.database()
    player = new_player()
    earn(redeem_container, player, 1000)
    token = signer.user_token(player)

    def ask(index: int) -> int:
        response = redeem_app.test_client().post(
            "/api/v1/redemptions",
            json={"points": 50, "rewardDescription": f"Reward {index}"},
            headers={**bearer(token), "Idempotency-Key": f"race-{index}"},
        )
        return response.status_code

    with ThreadPoolExecutor(16) as pool:
        assert set(pool.map(ask, range(64))) == {202}
    events = outbox_events(engine, TOPIC)
    assert len(events) == 64

    # Four consumers decide the same 64 events at once (as during a rebalance), each in its own
    # order and batch sizes, while other debits hit the same balance.
    start = threading.Barrier(5)
    errors: list[BaseException] = []
    direct_debits: list[int] = []

    def consume(shift: int, batch: int) -> None:
        start.wait()
        rotated = events[shift:] + events[:shift]
        try:
            for offset in range(0, len(rotated), batch):
                decide(redeem_container, rotated[offset : offset + batch])
        except BaseException as exc:
            errors.append(exc)

    def debit_directly() -> None:
        start.wait()
        for index in range(8):
            try:
                redeem_container.wallet_service().record(
                    RecordTransaction(
                        player, Currency.POINTS, TransactionType.DEBIT, 10, f"shop-{index}"
                    ),
                    actor="shop",
                )
                direct_debits.append(10)
            except InsufficientBalance:
                pass

    threads = [
        threading.Thread(target=consume, args=(shift, batch))
        for shift, batch in ((0, 64), (16, 7), (32, 1), (48, 20))
    ]
    threads.append(threading.Thread(target=debit_directly))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []

    found = statuses(redeem_container, player)
    confirmed, rejected = found.get("CONFIRMED", []), found.get("REJECTED", [])
    assert "PENDING" not in found
    assert len(confirmed) + len(rejected) == 64
    assert {r.reason.value for r in rejected if r.reason} <= {"INSUFFICIENT_POINTS"}
    balance = points_balance(engine, player)
    assert balance == 1000 - 50 * len(confirmed) - sum(direct_debits)
    assert balance is not None
    assert 0 <= balance < 50  # never below zero, and nothing left that could still be redeemed
    assert all(r.points_balance is not None and r.points_balance >= 0 for r in confirmed)
    row = ledger(engine, player)
    assert row["points"] == row["points_total"]
    assert transaction_count(engine, player) == 1 + len(confirmed) + len(direct_debits)
    assert ledger_is_clean(redeem_container)
    # One outcome per redemption, whatever the overlapping consumers did.
    outcomes = outbox_messages(engine, "redeem-confirmed")
    assert len(outcomes) == 64
    assert len({o["redeemRequestId"] for o in outcomes}) == 64


def test_a_replayed_request_changes_nothing(
    redeem_container: Container,
) -> None:
    engine = redeem_container.core.database()
    player = new_player()
    earn(redeem_container, player, 500)
    event = redeem_requested(player, 200)
    decide(redeem_container, [event])
    decide(redeem_container, [event, event])
    # The same request again under a new event id (a partner resending it): still once.
    decide(redeem_container, [redeem_requested(player, 200, event.data["redeemRequestId"])])
    assert points_balance(engine, player) == 300
    assert len(outbox_messages(engine, "redeem-confirmed")) == 1


def test_a_request_after_a_clawback_below_zero_is_rejected_with_the_balance(
    redeem_container: Container,
) -> None:
    engine = redeem_container.core.database()
    player = new_player()
    earn(redeem_container, player, 100)
    decide(redeem_container, [redeem_requested(player, 80)])
    earn(redeem_container, player, -100)  # the stay was cancelled after the points were spent
    assert points_balance(engine, player) == -80
    decide(redeem_container, [redeem_requested(player, 1)])
    outcomes = outbox_messages(engine, "redeem-confirmed")
    assert [o["eventType"] for o in outcomes] == ["REDEMPTION_CONFIRMED", "REDEMPTION_REJECTED"]
    assert outcomes[1]["reason"] == "INSUFFICIENT_POINTS"
    assert outcomes[1]["pointsBalance"] == -80
    assert ledger_is_clean(redeem_container)


def test_a_deactivated_player_s_request_is_rejected(redeem_container: Container) -> None:
    player = new_player()
    earn(redeem_container, player, 500)
    redeem_container.core.inactive_users().mark(player, True)
    decide(redeem_container, [redeem_requested(player, 100)])
    [outcome] = outbox_messages(redeem_container.core.database(), "redeem-confirmed")
    assert outcome["reason"] == "PLAYER_INACTIVE"
    assert points_balance(redeem_container.core.database(), player) == 500


def test_partner_events_are_decided_and_bad_ones_dead_lettered(
    infra: Infra, redeem_container: Container
) -> None:
    engine = redeem_container.core.database()
    topic = fresh_topic(infra, "redeem-events")
    dlq = TopicProbe(infra.kafka_bootstrap, f"{topic}.dlq")
    player = new_player()
    earn(redeem_container, player, 1000)
    first = redeem_requested(player, 300, merchant={"partnerId": "casino", "location": "Bar"})
    conflicting = redeem_requested(player, 999, first.data["redeemRequestId"])
    no_points = redeem_requested(player, 0).to_message()
    unknown_field = {**redeem_requested(player, 5).to_message(), "table": 4}
    bad_player = redeem_requested("no such player!", 5)
    miskeyed = redeem_requested(player, 7)  # keyed in capitals: another partition
    second = redeem_requested(player, 200)
    records: list[tuple[Any, str]] = [
        (first.to_message(), player),
        (conflicting.to_message(), player),
        (no_points, player),
        (unknown_field, player),
        (bad_player.to_message(), "no such player!"),
        (miskeyed.to_message(), player.upper()),
        (second.to_message(), player),
    ]
    for record, key in records:
        produce(infra.kafka_bootstrap, topic, record, key=key)
    running = Running(infra, topic, RedeemRequestedHandler(redeem_container.redemption_decisions()))
    try:
        wait_until(lambda: points_balance(engine, player) == 500, timeout=30)
        dead = dlq.wait_for(lambda r: True, count=5, timeout=30)
    finally:
        running.stop()
        dlq.close()
    assert sorted(r["headers"]["dlq-reason"] for r in dead) == [
        "invalid_redemption",
        "key_mismatch",
        "redeem_request_conflict",
        "schema_violation",
        "schema_violation",
    ]
    outcomes = outbox_messages(engine, "redeem-confirmed")
    assert [(o["redeemRequestId"], o["status"]) for o in outcomes] == [
        (first.data["redeemRequestId"], "CONFIRMED"),
        (second.data["redeemRequestId"], "CONFIRMED"),
    ]
    assert outcomes[0]["requestedBy"] == "casino"
    assert outcomes[0]["pointsBalance"] == 700
    with redeem_container.uow() as uow:
        stored = uow.redemptions.get(first.data["redeemRequestId"])
    assert stored is not None
    assert (stored.channel.value, stored.points) == ("EVENT", 300)
    assert stored.merchant is not None
    assert stored.merchant.location == "Bar"


def test_an_event_whose_requester_is_its_player_is_for_an_unknown_player_all_the_same(
    infra: Infra, redeem_container: Container
) -> None:
    engine = redeem_container.core.database()
    topic = fresh_topic(infra, "redeem-events")
    ghost = f"ghost-{uuid.uuid4().hex[:8]}"  # nobody's: no wallet, no registration
    produce(
        infra.kafka_bootstrap,
        topic,
        redeem_requested(ghost, 5, requested_by=ghost).to_message(),
        key=ghost,
    )
    running = Running(infra, topic, RedeemRequestedHandler(redeem_container.redemption_decisions()))
    try:
        wait_until(lambda: outbox_messages(engine, "redeem-confirmed") != [], timeout=30)
    finally:
        running.stop()
    [outcome] = outbox_messages(engine, "redeem-confirmed")
    assert (outcome["status"], outcome["reason"]) == ("REJECTED", "UNKNOWN_PLAYER")


def test_a_player_asking_before_the_wallet_heard_of_them_is_short_of_points_not_unknown(
    redeem_app: Flask, redeem_container: Container, signer: TestSigner
) -> None:
    # Their token vouches for them before their registration reaches the wallet.
    engine = redeem_container.core.database()
    player = new_player()
    response = redeem_app.test_client().post(
        "/api/v1/redemptions",
        json={"points": 5, "rewardDescription": "Show tickets"},
        headers={**bearer(signer.user_token(player)), "Idempotency-Key": "first"},
    )
    assert response.status_code == 202, response.json
    decide(redeem_container, outbox_events(engine, "redeem-events"))
    [outcome] = outbox_messages(engine, "redeem-confirmed")
    assert (outcome["status"], outcome["reason"]) == ("REJECTED", "INSUFFICIENT_POINTS")


def test_an_event_names_its_redemption_by_id_whatever_the_case(
    redeem_container: Container,
) -> None:
    player = new_player()
    earn(redeem_container, player, 100)
    redemption_id = str(uuid.uuid4())
    decide(redeem_container, [redeem_requested(player, 10, redemption_id.upper())])
    decide(redeem_container, [redeem_requested(player, 10, redemption_id)])
    assert points_balance(redeem_container.core.database(), player) == 90
