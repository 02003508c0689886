"""Earning points end to end: auth, rewards (web and workers) and the broker as real processes.

A partner submits events over REST → reward-events → the rewards worker → reward-confirmed and
the player's points; a partner token without the scope is refused; bad events are dead-lettered;
a rewards worker killed with SIGKILL in the middle of a stream loses and doubles nothing."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
from confluent_kafka import Producer
from sqlalchemy import Engine, create_engine, text

from embedded.services import start_worker
from shared.application.events import IntegrationEvent, format_timestamp
from shared.persistence.database import normalise_url
from tests.e2e.conftest import RunningPlatform
from tests.support.e2e import Player, bearer, wait_until
from tests.support.kafka import TopicProbe, produce
from tests.support.openapi import unreadable_summaries
from tests.support.partner_events import partner_message, reversal_message

EARNING_GROUP = "rewards-reward-events"


@pytest.fixture
def rewards_db(platform: RunningPlatform) -> Iterator[Engine]:
    engine = create_engine(normalise_url(platform.cluster.env.postgres_url_for["rewards"]))
    yield engine
    engine.dispose()


def register_player(platform: RunningPlatform) -> tuple[str, dict[str, str]]:
    """A player registered through auth, known to rewards, with their own access token."""
    player = Player(platform.url("auth"))
    points = f"{platform.url('rewards')}/api/v1/rewards/{player.id}"
    wait_until(lambda: requests.get(points, headers=player.headers, timeout=10).status_code == 200)
    return player.id, player.headers


def points_with_total(
    platform: RunningPlatform, player: str, headers: dict[str, str], total: int
) -> dict[str, Any] | None:
    """The player's points with their breakdown, once the total is ``total``."""
    answer: dict[str, Any] = requests.get(
        f"{platform.url('rewards')}/api/v1/rewards/{player}?breakdown=true",
        headers=headers,
        timeout=10,
    ).json()
    return answer if answer["totalPoints"] == total else None


def test_a_partner_submission_is_confirmed_and_counted_for_the_player(
    platform: RunningPlatform,
) -> None:
    player, player_headers = register_player(platform)
    confirmed = TopicProbe(platform.infra.kafka_bootstrap, "reward-confirmed")
    try:
        hotel = bearer(platform.client_token("hotel"))
        response = requests.post(
            f"{platform.url('rewards')}/api/v1/rewards/events",
            json={
                "events": [
                    {"eventType": "HOTEL_STAY", "user_id": player, "reference": "F-1", "nights": 3},
                    {"eventType": "HOTEL_STAY", "user_id": player, "reference": "F-2", "nights": 1},
                ]
            },
            headers=hotel,
            timeout=10,
        )
        assert response.status_code == 202, response.text
        assert response.json()["unregisteredPlayers"] == []
        stay, short = response.json()["accepted"]
        records = confirmed.wait_for(
            lambda r: r["value"].get("sourceEventId") in {stay, short}, count=2
        )
        # The short stay is cancelled: its points are taken back.
        cancel = requests.post(
            f"{platform.url('rewards')}/api/v1/rewards/events",
            json={"eventType": "HOTEL_STAY_REVERSED", "user_id": player, "originalEventId": short},
            headers=hotel,
            timeout=10,
        )
        assert cancel.status_code == 202, cancel.text
        (undo,) = cancel.json()["accepted"]
        records += confirmed.wait_for(lambda r: r["value"].get("sourceEventId") == undo)
    finally:
        confirmed.close()
    by_source = {r["value"]["sourceEventId"]: r for r in records}
    assert by_source[stay]["value"]["pointsAwarded"] == 30
    assert by_source[short]["value"]["pointsAwarded"] == 10
    assert by_source[undo]["value"]["pointsAwarded"] == -10
    assert by_source[stay]["key"] == player
    assert by_source[stay]["value"]["partnerId"] == "hotel"

    points = wait_until(lambda: points_with_total(platform, player, player_headers, 30))
    assert points["breakdown"]["HOTEL"] == {"points": 30, "events": 3}
    assert points["breakdown"]["CASINO"] == {"points": 0, "events": 0}
    # A partner with rewards.read sees the same; another player does not.
    dining = bearer(platform.client_token("dining", scope="rewards.read"))
    url = f"{platform.url('rewards')}/api/v1/rewards/{player}"
    assert requests.get(url, headers=dining, timeout=10).json()["totalPoints"] == 30
    _, someone_else = register_player(platform)
    assert requests.get(url, headers=someone_else, timeout=10).status_code == 403


def test_a_partner_sends_only_its_own_kind_of_events(platform: RunningPlatform) -> None:
    # The hotel system is registered for stays: a wager from it is refused, nothing accepted.
    hotel = bearer(platform.client_token("hotel"))
    player = str(uuid.uuid4())
    response = requests.post(
        f"{platform.url('rewards')}/api/v1/rewards/events",
        json={
            "events": [
                {"eventType": "HOTEL_STAY", "user_id": player, "reference": "F-7", "nights": 1},
                {
                    "eventType": "CASINO_SPEND",
                    "user_id": player,
                    "reference": "S-7",
                    "amountWagered": "5000.00",
                },
            ]
        },
        headers=hotel,
        timeout=10,
    )
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "REWARDS_EVENT_SOURCE_NOT_ALLOWED"
    assert error["details"] == {"events": {"1": "CASINO_SPEND"}, "allowedSources": ["HOTEL"]}


def test_a_partner_token_without_rewards_write_is_refused(platform: RunningPlatform) -> None:
    read_only = bearer(platform.client_token("casino", scope="rewards.read"))
    response = requests.post(
        f"{platform.url('rewards')}/api/v1/rewards/events",
        json={
            "eventType": "CASINO_SPEND",
            "user_id": str(uuid.uuid4()),
            "reference": "S-1",
            "amountWagered": "50.00",
        },
        headers=read_only,
        timeout=10,
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "FORBIDDEN"
    staff = bearer(platform.admin_token())
    rules = requests.get(
        f"{platform.url('rewards')}/api/v1/rewards/rules", headers=staff, timeout=10
    )
    assert rules.status_code == 200
    assert {r["ruleType"] for r in rules.json()["items"]} == {
        "HOTEL_STAY",
        "CASINO_SPEND",
        "DINING",
    }
    assert (
        requests.get(
            f"{platform.url('rewards')}/api/v1/rewards/rules", headers=read_only, timeout=10
        ).status_code
        == 403
    )


def test_bad_partner_events_go_to_the_dead_letter_topic_with_their_reason(
    platform: RunningPlatform,
) -> None:
    bootstrap = platform.infra.kafka_bootstrap
    player, _ = register_player(platform)
    dead_letters = TopicProbe(bootstrap, "reward-events.dlq")
    confirmed = TopicProbe(bootstrap, "reward-confirmed")
    try:
        stranger = str(uuid.uuid4())
        unknown = partner_message(stranger)
        other, _ = register_player(platform)
        foreign_original = partner_message(other, "DINING")
        mismatch = reversal_message(foreign_original, user_id=player)
        good = partner_message(player, "DINING", checkAmount="20.00")
        produce(bootstrap, "reward-events", foreign_original, key=other)
        # Recorded first: a reversal read before its original (another player's partition)
        # waits as PENDING and is refused later, without a dead letter (ADR 0502).
        confirmed.wait_for(lambda r: r["value"].get("sourceEventId") == foreign_original["eventId"])
        produce(bootstrap, "reward-events", unknown, key=stranger)
        produce(bootstrap, "reward-events", mismatch, key=player)
        produce(bootstrap, "reward-events", b"{not json", key=player)
        produce(bootstrap, "reward-events", good, key=player)

        def ours(record: dict[str, Any]) -> bool:
            return record["headers"].get("dlq-consumer-group") == EARNING_GROUP and record[
                "key"
            ] in {
                stranger,
                player,
            }

        # The unknown player's event first waits for a registration (10 s here).
        dead = dead_letters.wait_for(ours, count=3, timeout=40)
        (credited,) = confirmed.wait_for(
            lambda r: r["value"].get("sourceEventId") == good["eventId"]
        )
    finally:
        dead_letters.close()
        confirmed.close()
    reasons = sorted(r["headers"]["dlq-reason"] for r in dead)
    assert reasons == ["invalid_json", "reversal_mismatch", "unknown_player"]
    assert credited["value"]["pointsAwarded"] == 7


def test_a_resent_stay_earns_once_and_a_taken_event_id_is_refused_not_dropped(
    platform: RunningPlatform,
) -> None:
    bootstrap = platform.infra.kafka_bootstrap
    player, player_headers = register_player(platform)
    hotel = bearer(platform.client_token("hotel"))
    events_url = f"{platform.url('rewards')}/api/v1/rewards/events"
    stay = {"eventType": "HOTEL_STAY", "reference": "folio-resent", "nights": 2}
    # The same stay resent (its answer lost), the player id spelled three ways: one eventId.
    accepted = {
        requests.post(
            events_url, json={**stay, "user_id": spelling}, headers=hotel, timeout=10
        ).json()["accepted"][0]
        for spelling in (player, player.upper(), "{" + player + "}")
    }
    assert len(accepted) == 1
    (stay_id,) = accepted

    def hotel_points() -> Any:
        return points_with_total(platform, player, player_headers, 20)

    wait_until(hotel_points, what="the stay recorded")
    # That eventId on another event: refused at once over REST, now that it is recorded ...
    taken = requests.post(
        events_url,
        json={**stay, "eventId": stay_id, "user_id": player, "nights": 20},
        headers=hotel,
        timeout=10,
    )
    assert taken.status_code == 422, taken.text
    assert taken.json()["error"]["details"]["events"]["0"].startswith("event_id_conflict")
    # ... and dead-lettered with its reason when produced straight to Kafka (another partner's).
    squatter = partner_message(player, "CASINO_SPEND", eventId=stay_id)
    dead_letters = TopicProbe(bootstrap, "reward-events.dlq")
    try:
        produce(bootstrap, "reward-events", squatter, key=player)
        (dead,) = dead_letters.wait_for(
            lambda r: r["key"] == player and r["value"].get("eventType") == "CASINO_SPEND"
        )
    finally:
        dead_letters.close()
    assert dead["headers"]["dlq-reason"] == "event_id_conflict"
    points = hotel_points()
    assert points is not None, "the total changed"
    assert points["breakdown"]["HOTEL"] == {"points": 20, "events": 1}
    assert points["breakdown"]["CASINO"] == {"points": 0, "events": 0}


def test_a_reversal_read_before_an_original_it_does_not_fit_is_dead_lettered_when_it_comes(
    platform: RunningPlatform, rewards_db: Engine
) -> None:
    bootstrap = platform.infra.kafka_bootstrap
    player, _ = register_player(platform)
    other, _ = register_player(platform)
    original = partner_message(other, "DINING")
    foreign = reversal_message(original, user_id=player)
    dead_letters = TopicProbe(bootstrap, "reward-events.dlq")
    try:
        produce(bootstrap, "reward-events", foreign, key=player)
        wait_until(
            lambda: _status(rewards_db, foreign["eventId"]) == "PENDING",
            what="the reversal waiting for its original",
        )
        produce(bootstrap, "reward-events", original, key=other)
        (dead,) = dead_letters.wait_for(
            lambda r: r["key"] == player and r["value"].get("eventId") == foreign["eventId"]
        )
    finally:
        dead_letters.close()
    assert dead["headers"]["dlq-reason"] == "reversal_mismatch"
    assert dead["headers"]["dlq-consumer-group"] == EARNING_GROUP
    assert "dlq-original-offset" not in dead["headers"]  # refused after it was recorded
    assert dead["value"] == foreign
    assert _status(rewards_db, foreign["eventId"]) == "REJECTED"


def _status(engine: Engine, event_id: str) -> str | None:
    with engine.connect() as connection:
        status = connection.execute(
            text("SELECT status FROM reward_events WHERE event_id = :e"), {"e": event_id}
        ).scalar()
    return None if status is None else str(status)


def test_an_event_that_overtakes_the_registration_waits_for_it_and_earns_its_points(
    platform: RunningPlatform, rewards_db: Engine
) -> None:
    bootstrap = platform.infra.kafka_bootstrap
    newcomer = str(uuid.uuid4())
    stay = partner_message(newcomer, "HOTEL_STAY", nights=2)
    registration = IntegrationEvent(
        event_type="PLAYER_REGISTERED",
        user_id=newcomer,
        data={
            "email": f"{newcomer}@example.com",
            "registeredAt": format_timestamp(datetime.now(UTC)),
        },
    )
    confirmed = TopicProbe(bootstrap, "reward-confirmed")
    try:
        produce(bootstrap, "reward-events", stay, key=newcomer)
        wait_until(lambda: _parked(rewards_db, newcomer) == 1, what="the event parked")
        produce(bootstrap, "players", registration.to_message(), key=newcomer)
        (credited,) = confirmed.wait_for(
            lambda r: r["value"].get("sourceEventId") == stay["eventId"]
        )
    finally:
        confirmed.close()
    assert credited["value"]["pointsAwarded"] == 20
    assert _parked(rewards_db, newcomer) == 0
    assert _events_recorded(rewards_db, [stay["eventId"]]) == 1


def _parked(engine: Engine, player_id: str) -> int:
    with engine.connect() as connection:
        return int(
            connection.execute(
                text("SELECT count(*) FROM parked_reward_events WHERE player_id = :p"),
                {"p": player_id},
            ).scalar_one()
        )


def _events_recorded(engine: Engine, event_ids: list[str]) -> int:
    with engine.connect() as connection:
        return int(
            connection.execute(
                text(
                    "SELECT count(*) FROM reward_events WHERE event_id = ANY(CAST(:ids AS uuid[]))"
                ),
                {"ids": event_ids},
            ).scalar_one()
        )


def _wait_until_busy(engine: Engine, application: str, timeout: float = 60.0) -> None:
    """Until a backend of ``application`` is inside a transaction: the worker owns partitions
    of reward-events and is recording a batch of the stream right now."""
    deadline = time.monotonic() + timeout
    with engine.connect() as connection:
        while time.monotonic() < deadline:
            busy = connection.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE application_name = :name AND xact_start IS NOT NULL"
                ),
                {"name": application},
            ).scalar_one()
            if busy:
                return
            connection.rollback()  # a fresh snapshot of the activity view each time
            time.sleep(0.005)
    raise AssertionError(f"{application} never recorded a batch")


def test_a_worker_killed_mid_stream_loses_and_doubles_nothing(
    platform: RunningPlatform, rewards_db: Engine
) -> None:
    bootstrap = platform.infra.kafka_bootstrap
    spec = next(s for s in platform.cluster.services if s.name == "rewards")
    log_dir = platform.cluster.log_dir
    env = platform.cluster.env.for_service(spec)
    doomed_env = {**env, "LOYALTY__DATABASE__APPLICATION_NAME": "rewards-worker-doomed"}

    # Players as auth announces them; rewards must know them before their events count.
    players = [str(uuid.uuid4()) for _ in range(40)]
    for player in players:
        produce(
            bootstrap,
            "players",
            {
                "eventId": str(uuid.uuid4()),
                "eventType": "PLAYER_REGISTERED",
                "version": 1,
                "occurredAt": "2026-01-01T00:00:00Z",
                "correlationId": None,
                "user_id": player,
                "email": f"{player[:8]}@example.com",
                "registeredAt": "2026-01-01T00:00:00Z",
            },
            key=player,
        )

    def all_known() -> bool:
        with rewards_db.connect() as connection:
            found = connection.execute(
                text("SELECT count(*) FROM players WHERE id = ANY(CAST(:ids AS uuid[]))"),
                {"ids": players},
            ).scalar_one()
        return bool(found == len(players))

    wait_until(all_known)

    confirmed = TopicProbe(bootstrap, "reward-confirmed")
    # The doomed worker is the only member of the group, so it owns every partition and is
    # certainly mid-stream when killed; the restarted one then serves the platform again.
    for running in [p for p in platform.cluster.processes if p.name.startswith("rewards-worker")]:
        running.stop()
        platform.cluster.processes.remove(running)
    second = start_worker(spec, doomed_env, log_dir, name="rewards-worker-doomed")
    restarted = None
    try:
        events = [
            partner_message(
                players[i % len(players)], ("CASINO_SPEND", "DINING", "HOTEL_STAY")[i % 3]
            )
            for i in range(10_000)
        ]
        ids = [e["eventId"] for e in events]

        def stream() -> None:
            producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
            for index, event in enumerate(events):
                producer.produce(
                    "reward-events", key=event["user_id"].encode(), value=json.dumps(event).encode()
                )
                if index % 250 == 249:
                    producer.flush(10)
                    time.sleep(0.1)  # a stream, not one burst: ~2,500 events/s
            assert producer.flush(30) == 0

        streaming = threading.Thread(target=stream)
        streaming.start()
        # Killed once it has written some of the stream (it owns partitions), mid-stream.
        _wait_until_busy(rewards_db, "rewards-worker-doomed")
        os.kill(second.pid, signal.SIGKILL)
        second.process.wait(10)
        at_kill = _events_recorded(rewards_db, ids)
        assert at_kill < len(events), "the stream was over before the kill"
        restarted = start_worker(spec, env, log_dir, name="rewards-worker")
        platform.cluster.processes.append(restarted)
        streaming.join(60)
        wait_until(lambda: _events_recorded(rewards_db, ids) == len(events), timeout=120)
        wanted = set(ids)

        def sources() -> list[str]:
            return [
                r["value"]["sourceEventId"]
                for r in confirmed.matching(lambda r: r["value"].get("sourceEventId") in wanted)
            ]

        wait_until(lambda: len(set(sources())) == len(events), timeout=120)
        time.sleep(3)  # a doubled confirmation would arrive right behind
        delivered = sources()
    finally:
        confirmed.close()
        second.stop()
        if restarted is None:  # leave the platform with a rewards worker, whatever happened
            platform.cluster.processes.append(
                start_worker(spec, env, log_dir, name="rewards-worker")
            )
    assert len(set(delivered)) == len(events)
    assert len(delivered) == len(events)
    assert _events_recorded(rewards_db, ids) == len(events)
    with rewards_db.connect() as connection:
        statuses = connection.execute(
            text(
                "SELECT status, count(*) FROM reward_events "
                "WHERE event_id = ANY(CAST(:ids AS uuid[])) GROUP BY status"
            ),
            {"ids": ids},
        ).all()
    assert dict(statuses) == {"AWARDED": len(events)}


EARNING_ROUTES = {
    ("post", "/api/v1/rewards/events"): ("202", (401, 403, 413, 422, 503)),
    ("get", "/api/v1/rewards/rules"): ("200", (401, 403, 422)),
    ("post", "/api/v1/rewards/rules"): ("201", (401, 403, 409, 422)),
    ("get", "/api/v1/rewards/{player_id}"): ("200", (401, 403, 404, 422)),
}


def test_the_earning_api_is_documented(platform: RunningPlatform) -> None:
    spec = requests.get(f"{platform.url('rewards')}/rewards/openapi.json", timeout=10).json()
    assert unreadable_summaries(spec) == []
    for (method, path), (success, failures) in EARNING_ROUTES.items():
        operation = spec["paths"][path][method]
        assert operation["summary"], (method, path)
        assert operation["security"] == [{"bearerAuth": []}]
        assert "schema" in operation["responses"][success]["content"]["application/json"]
        for status in failures:
            content = operation["responses"][str(status)]["content"]["application/json"]
            assert content["schema"]["$ref"].endswith("/ErrorEnvelope"), (method, path, status)
        if method == "post":
            assert "requestBody" in operation, (method, path)
    parameters = spec["components"]["schemas"]["EarningParameters"]["properties"]
    assert parameters["unitAmount"]["type"] == "string"
