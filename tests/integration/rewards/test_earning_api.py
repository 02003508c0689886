"""The earning REST API against PostgreSQL, Redis and the broker: partner submissions, the
earning rules, and a player's points (access rules, periods, the cache)."""

from __future__ import annotations

import random
import socket
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlencode

import pytest
from confluent_kafka import Producer
from dependency_injector import providers
from redis import Redis

from rewards_service.adapters.cache import RedisPointsCache
from rewards_service.adapters.messaging import KafkaPartnerEventPublisher
from rewards_service.application.earning import default_event_id
from rewards_service.container import Container
from rewards_service.domain.earning import EarningType, RuleBook
from tests.integration.rewards.conftest import ApiClient, Tokens, add_players
from tests.integration.rewards.support import handle
from tests.support.infra import Infra
from tests.support.kafka import TopicProbe
from tests.support.partner_events import partner_message, reversal_message

EVENTS = "/api/v1/rewards/events"
RULES = "/api/v1/rewards/rules"


def points_url(player: str, **query: Any) -> str:
    return f"/api/v1/rewards/{player}" + (f"?{urlencode(query)}" if query else "")


@pytest.fixture
def reward_events(infra: Infra) -> Iterator[TopicProbe]:
    probe = TopicProbe(infra.kafka_bootstrap, "reward-events")
    yield probe
    probe.close()


# -- partner submissions ------------------------------------------------------------------------


def test_a_partner_submits_a_batch_and_it_is_on_the_topic_when_accepted(
    client: ApiClient, tokens: Tokens, reward_events: TopicProbe
) -> None:
    player = str(uuid.uuid4())
    own_id = str(uuid.uuid4())
    body = {
        "events": [
            {
                "eventType": "CASINO_SPEND",
                "user_id": player,
                "reference": "S-1",
                "amountWagered": "80.00",
            },
            {
                "eventId": own_id,
                "eventType": "CASINO_SPEND_REVERSED",
                "user_id": player,
                "originalEventId": str(uuid.uuid4()),
                "occurredAt": "2026-01-01T10:00:00Z",
            },
        ]
    }
    headers = {**tokens.client("casino", "rewards.write"), "X-Correlation-ID": "casino-req-42"}
    response = client.post(EVENTS, json=body, headers=headers)
    assert response.status_code == 202, response.json
    accepted = response.json["accepted"]
    assert accepted[1] == own_id
    assert response.json["unregisteredPlayers"] == [player]  # not registered: its events wait
    records = reward_events.wait_for(lambda r: r["value"].get("eventId") in accepted, count=2)
    by_id = {r["value"]["eventId"]: r for r in records}
    generated = by_id[accepted[0]]
    assert generated["key"] == player
    assert generated["value"]["partnerId"] == "casino"
    assert generated["value"]["version"] == 1
    assert generated["value"]["correlationId"] == "casino-req-42"
    assert generated["headers"]["X-Correlation-ID"] == "casino-req-42"
    assert by_id[own_id]["value"]["occurredAt"] == "2026-01-01T10:00:00Z"


def test_a_partner_sends_only_the_kinds_of_events_its_client_is_registered_for(
    client: ApiClient, tokens: Tokens, reward_events: TopicProbe
) -> None:
    player = str(uuid.uuid4())
    stay = {"eventType": "HOTEL_STAY", "user_id": player, "reference": "F-9", "nights": 1}
    wager = {"eventType": "CASINO_SPEND", "user_id": player, "reference": "W-9"}
    hotel = tokens.client("hotel", "rewards.write", event_sources=["HOTEL"])
    refused = client.post(
        EVENTS, json={"events": [stay, {**wager, "amountWagered": "500.00"}]}, headers=hotel
    )
    assert refused.status_code == 403
    error = refused.json["error"]
    assert error["code"] == "REWARDS_EVENT_SOURCE_NOT_ALLOWED"
    assert error["details"] == {"events": {"1": "CASINO_SPEND"}, "allowedSources": ["HOTEL"]}
    assert "HOTEL" in error["message"]
    # Its own kind, and the reversal of it, are accepted.
    accepted = client.post(
        EVENTS,
        json={
            "events": [
                stay,
                {
                    "eventType": "HOTEL_STAY_REVERSED",
                    "user_id": player,
                    "originalEventId": str(uuid.uuid4()),
                },
            ]
        },
        headers=hotel,
    )
    assert accepted.status_code == 202, accepted.json
    published = reward_events.wait_for(lambda r: r["key"] == player, count=2)
    assert {r["value"]["eventType"] for r in published} == {"HOTEL_STAY", "HOTEL_STAY_REVERSED"}
    # A token naming no source at all may send none.
    nothing = tokens.client("spa", "rewards.write", event_sources=[])
    assert client.post(EVENTS, json=stay, headers=nothing).status_code == 403


def test_a_single_event_may_be_sent_on_its_own(
    client: ApiClient, tokens: Tokens, reward_events: TopicProbe
) -> None:
    body = {"eventType": "HOTEL_STAY", "user_id": str(uuid.uuid4()), "reference": "F", "nights": 2}
    response = client.post(EVENTS, json=body, headers=tokens.client("hotel", "rewards.write"))
    assert response.status_code == 202
    (event_id,) = response.json["accepted"]
    reward_events.wait_for(lambda r: r["value"].get("eventId") == event_id)


def test_the_api_documents_both_forms_of_a_submission(client: ApiClient, tokens: Tokens) -> None:
    spec = client.get("/rewards/openapi.json").json
    body = spec["paths"][EVENTS]["post"]["requestBody"]["content"]["application/json"]
    forms = [
        spec["components"]["schemas"][ref["$ref"].rsplit("/", 1)[1]]
        for ref in body["schema"]["oneOf"]
    ]
    one, several = sorted(forms, key=lambda form: "events" in form["properties"])
    assert one["additionalProperties"] is True
    assert set(one["required"]) == {"eventType", "user_id"}
    assert "HOTEL_STAY" in one["properties"]["eventType"]["enum"]
    assert several["required"] == ["events"]
    assert several["additionalProperties"] is False
    assert several["properties"]["events"]["maxItems"] == 500
    # Each documented example is accepted as it stands (a casino's wager).
    casino = tokens.client("casino", "rewards.write")
    for name, example in body["examples"].items():
        answer = client.post(EVENTS, json=example["value"], headers=casino)
        assert answer.status_code == 202, (name, answer.json)


def test_only_partners_with_rewards_write_may_submit(
    client: ApiClient, tokens: Tokens, staff: dict[str, str]
) -> None:
    body = {
        "eventType": "DINING",
        "user_id": str(uuid.uuid4()),
        "reference": "C",
        "checkAmount": "1",
    }
    for headers in (tokens.client("dining", "rewards.read"), staff, {}):
        response = client.post(EVENTS, json=body, headers=headers)
        assert response.status_code in (401, 403)
    refused = client.post(EVENTS, json=body, headers=tokens.client("dining", "rewards.read"))
    assert refused.status_code == 403
    assert refused.json["error"]["code"] == "FORBIDDEN"
    assert client.post(EVENTS, json=body, headers={}).status_code == 401


def test_a_partner_may_not_submit_in_another_partners_name(
    client: ApiClient, tokens: Tokens
) -> None:
    body = {
        "eventType": "DINING",
        "user_id": str(uuid.uuid4()),
        "partnerId": "hotel",
        "reference": "C",
        "checkAmount": "10.00",
    }
    response = client.post(EVENTS, json=body, headers=tokens.client("dining", "rewards.write"))
    assert response.status_code == 403
    assert response.json["error"]["code"] == "REWARDS_PARTNER_MISMATCH"


def test_invalid_events_refuse_the_submission_with_the_problems_by_index(
    client: ApiClient, tokens: Tokens
) -> None:
    player = str(uuid.uuid4())
    good = {"eventType": "DINING", "user_id": player, "reference": "C-9", "checkAmount": "12.00"}
    body = {
        "events": [
            good,
            {**good, "checkAmount": 12.5},
            {**good, "nights": 2},
            {**good, "occurredAt": (datetime.now(UTC) + timedelta(hours=1)).isoformat()},
            {"eventType": "DINING_REVERSED", "user_id": player},
        ]
    }
    response = client.post(EVENTS, json=body, headers=tokens.client("dining", "rewards.write"))
    assert response.status_code == 422
    error = response.json["error"]
    assert error["code"] == "REWARDS_INVALID_EVENTS"
    problems = error["details"]["events"]
    assert set(problems) == {"1", "2", "3", "4"}
    assert "checkAmount" in problems["1"]
    assert "nights" in problems["2"]
    assert problems["3"].startswith("occurred_in_future")
    assert "originalEventId" in problems["4"]


@pytest.mark.parametrize(
    "body",
    [
        {"events": []},
        {"events": [{"eventType": "DINING"}], "extra": True},
        {"events": "nope"},
        [1, 2, 3],
    ],
)
def test_malformed_submissions_are_refused(client: ApiClient, tokens: Tokens, body: Any) -> None:
    response = client.post(EVENTS, json=body, headers=tokens.client("dining", "rewards.write"))
    assert response.status_code == 422
    assert response.json["error"]["code"] == "VALIDATION_FAILED"


def test_at_most_500_events_per_submission(client: ApiClient, tokens: Tokens) -> None:
    event = {
        "eventType": "DINING",
        "user_id": str(uuid.uuid4()),
        "reference": "C",
        "checkAmount": "1",
    }
    response = client.post(
        EVENTS, json={"events": [event] * 501}, headers=tokens.client("dining", "rewards.write")
    )
    assert response.status_code == 422


def test_when_the_broker_does_not_acknowledge_the_answer_is_503(
    rewards_container: Container, client: ApiClient, tokens: Tokens
) -> None:
    unreachable = Producer(
        {"bootstrap.servers": "127.0.0.1:9", "message.timeout.ms": 1000, "enable.idempotence": True}
    )
    rewards_container.partner_event_publisher.override(
        providers.Object(KafkaPartnerEventPublisher(unreachable, timeout_seconds=3.0))
    )
    try:
        body = {
            "eventType": "DINING",
            "user_id": str(uuid.uuid4()),
            "reference": "C",
            "checkAmount": "1",
        }
        response = client.post(EVENTS, json=body, headers=tokens.client("dining", "rewards.write"))
    finally:
        rewards_container.partner_event_publisher.reset_override()
    assert response.status_code == 503
    assert response.json["error"]["code"] == "REWARDS_BROKER_UNAVAILABLE"
    # The event may still reach the broker: the partner resends it under the same eventId (the
    # one derived from its reference), which is recorded once.
    assert "some may still be recorded" in response.json["error"]["message"]
    assert response.json["error"]["details"] == {"eventIds": [default_event_id("dining", body)]}


# -- earning rules ------------------------------------------------------------------------------


def test_staff_list_the_rules_and_schedule_a_version(
    client: ApiClient, staff: dict[str, str]
) -> None:
    listed = client.get(RULES, headers=staff)
    assert listed.status_code == 200
    current = {r["ruleType"]: r for r in listed.json["items"]}
    assert current["HOTEL_STAY"]["parameters"]["pointsPerNight"] == 10
    assert current["DINING"]["parameters"] == {
        "pointsPerEvent": 5,
        "pointsPerNight": 0,
        "pointsPerUnit": 1,
        "unitAmount": "10.00",
    }
    assert current["CASINO_SPEND"]["status"] == "CURRENT"
    assert {r["version"] for r in listed.json["items"]} == {1}

    start = datetime.now(UTC) + timedelta(days=7)
    created = client.post(
        RULES,
        json={
            "ruleType": "HOTEL_STAY",
            "effectiveFrom": start.isoformat(),
            "parameters": {"pointsPerNight": 25},
        },
        headers=staff,
    )
    assert created.status_code == 201, created.json
    assert created.json["version"] == 2
    assert created.json["status"] == "SCHEDULED"
    assert created.json["parameters"]["pointsPerNight"] == 25
    assert created.json["createdBy"]
    hotel = client.get(f"{RULES}?ruleType=HOTEL_STAY", headers=staff).json["items"]
    assert [(r["version"], r["status"]) for r in hotel] == [(2, "SCHEDULED"), (1, "CURRENT")]

    # Answered in UTC, as every later read answers it, whatever offset it was sent with.
    india = timezone(timedelta(hours=5, minutes=30))
    later = (start + timedelta(days=1)).replace(microsecond=0)
    dining = client.post(
        RULES,
        json={
            "ruleType": "DINING",
            "effectiveFrom": later.astimezone(india).isoformat(),
            "parameters": {"pointsPerEvent": 6},
        },
        headers=staff,
    )
    assert dining.json["effectiveFrom"] == later.isoformat()
    stored = client.get(f"{RULES}?ruleType=DINING", headers=staff).json["items"][0]
    assert stored["effectiveFrom"] == dining.json["effectiveFrom"]


def test_a_version_starting_too_soon_or_before_the_latest_is_refused(
    client: ApiClient, staff: dict[str, str]
) -> None:
    soon = client.post(
        RULES,
        json={
            "ruleType": "DINING",
            "effectiveFrom": (datetime.now(UTC) + timedelta(seconds=30)).isoformat(),
            "parameters": {"pointsPerEvent": 7},
        },
        headers=staff,
    )
    assert soon.status_code == 422
    assert soon.json["error"]["code"] == "REWARDS_INVALID_EARNING_RULE"
    later = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    body = {"ruleType": "DINING", "effectiveFrom": later, "parameters": {"pointsPerEvent": 7}}
    assert client.post(RULES, json=body, headers=staff).status_code == 201
    earlier = {**body, "effectiveFrom": (datetime.now(UTC) + timedelta(days=10)).isoformat()}
    conflict = client.post(RULES, json=earlier, headers=staff)
    assert conflict.status_code == 409
    assert conflict.json["error"]["code"] == "REWARDS_EARNING_RULE_SCHEDULE_CONFLICT"


def test_a_version_scheduled_by_mistake_is_withdrawn_before_it_takes_effect(
    rewards_container: Container, client: ApiClient, staff: dict[str, str], tokens: Tokens
) -> None:
    player = str(uuid.uuid4())
    typo = {
        "ruleType": "HOTEL_STAY",
        "effectiveFrom": "2096-01-01T00:00:00Z",
        "parameters": {"pointsPerNight": 1000},
    }
    assert client.post(RULES, json=typo, headers=staff).json["version"] == 2
    meant = {**typo, "effectiveFrom": (datetime.now(UTC) + timedelta(days=3)).isoformat()}
    assert client.post(RULES, json=meant, headers=staff).status_code == 409
    with rewards_container.uow() as uow:
        before = uow.earning_rules.revision()

    for other_digits in ("%D9%A2", "%EF%BC%92"):  # Arabic-Indic and full-width "2"
        unknown = client.post(f"{RULES}/HOTEL_STAY/{other_digits}/withdraw", headers=staff)
        assert unknown.status_code == 404
    withdrawn = client.post(f"{RULES}/HOTEL_STAY/2/withdraw", headers=staff)
    assert withdrawn.status_code == 200, withdrawn.json
    assert withdrawn.json["status"] == "WITHDRAWN"
    assert withdrawn.json["withdrawnAt"]
    assert withdrawn.json["withdrawnBy"] == withdrawn.json["createdBy"]
    again = client.post(f"{RULES}/HOTEL_STAY/2/withdraw", headers=staff)
    assert again.status_code == 200
    assert again.json == withdrawn.json
    scheduled = client.post(RULES, json=meant, headers=staff)
    assert scheduled.status_code == 201, scheduled.json
    assert scheduled.json["version"] == 3
    hotel = client.get(f"{RULES}?ruleType=HOTEL_STAY", headers=staff).json["items"]
    assert [(r["version"], r["status"]) for r in hotel] == [
        (3, "SCHEDULED"),
        (2, "WITHDRAWN"),
        (1, "CURRENT"),
    ]
    # What the consumer reloads when the revision moves: version 2 never prices anything.
    with rewards_container.uow() as uow:
        assert uow.earning_rules.revision() > before
        book = RuleBook(uow.earning_rules.list())
    in_2097 = book.rule_at(EarningType.HOTEL_STAY, datetime(2097, 1, 1, tzinfo=UTC))
    assert in_2097 is not None
    assert in_2097.version == 3
    unchanged = client.post(f"{RULES}/HOTEL_STAY/1/withdraw", headers=staff)
    assert unchanged.status_code == 409
    assert unchanged.json["error"]["code"] == "REWARDS_EARNING_RULE_IN_EFFECT"
    for missing in ("HOTEL_STAY/9", "SPA/2", "HOTEL_STAY/x"):
        gone = client.post(f"{RULES}/{missing}/withdraw", headers=staff)
        assert gone.status_code == 404, missing
        assert "error" in gone.json
    assert (
        client.post(f"{RULES}/HOTEL_STAY/9/withdraw", headers=staff).json["error"]["code"]
        == "REWARDS_EARNING_RULE_NOT_FOUND"
    )
    player_headers = tokens.headers(player, "player")
    assert client.post(f"{RULES}/HOTEL_STAY/3/withdraw", headers=player_headers).status_code == 403


ONE = {"pointsPerEvent": 1}


@pytest.mark.parametrize(
    "body",
    [
        {"ruleType": "SPA", "effectiveFrom": "2030-01-01T00:00:00Z", "parameters": ONE},
        {"ruleType": "DINING", "effectiveFrom": "2030-01-01T00:00:00", "parameters": ONE},
        # Nothing said about points: a version that would award none by mistake.
        {"ruleType": "DINING", "effectiveFrom": "2030-01-01T00:00:00Z", "parameters": {}},
        {
            "ruleType": "DINING",
            "effectiveFrom": "2030-01-01T00:00:00Z",
            "parameters": {"unitAmount": "5.00"},
        },
        {"ruleType": "DINING", "effectiveFrom": "2030-01-01T00:00:00Z", "parameters": {"x": 1}},
        {
            "ruleType": "DINING",
            "effectiveFrom": "2030-01-01T00:00:00Z",
            "parameters": {"unitAmount": 10.0},
        },
        {
            "ruleType": "CASINO_SPEND",
            "effectiveFrom": "2030-01-01T00:00:00Z",
            "parameters": {"pointsPerNight": 3},
        },
        {
            "ruleType": "DINING",
            "effectiveFrom": "2030-01-01T00:00:00Z",
            "parameters": {"pointsPerEvent": 100001},
        },
        {
            "ruleType": "DINING",
            "effectiveFrom": "2030-01-01T00:00:00Z",
            "parameters": {"pointsPerEvent": 1.7},
        },
        {"ruleType": "DINING", "effectiveFrom": "9999-12-31T23:00:00-05:00", "parameters": ONE},
    ],
)
def test_invalid_rules_are_refused(
    client: ApiClient, staff: dict[str, str], body: dict[str, Any]
) -> None:
    response = client.post(RULES, json=body, headers=staff)
    assert response.status_code == 422, response.json


def test_a_version_that_awards_nothing_says_so_with_a_zero(
    client: ApiClient, staff: dict[str, str]
) -> None:
    body = {
        "ruleType": "DINING",
        "effectiveFrom": "2031-01-01T00:00:00Z",
        "parameters": {"pointsPerEvent": 0},
    }
    response = client.post(RULES, json=body, headers=staff)
    assert response.status_code == 201, response.json
    assert response.json["parameters"]["pointsPerEvent"] == 0
    assert response.json["parameters"]["pointsPerUnit"] == 0


def test_players_and_partners_cannot_manage_rules(client: ApiClient, tokens: Tokens) -> None:
    player = tokens.headers(str(uuid.uuid4()), "player")
    partner = tokens.client("casino", "rewards.read", "rewards.write")
    for headers in (player, partner):
        assert client.get(RULES, headers=headers).status_code == 403
        body = {"ruleType": "DINING", "effectiveFrom": "2030-01-01T00:00:00Z", "parameters": ONE}
        assert client.post(RULES, json=body, headers=headers).status_code == 403


# -- a player's points --------------------------------------------------------------------------


@pytest.fixture
def player(rewards_container: Container) -> str:
    (player,) = add_players(rewards_container, 1)
    return player


def test_who_may_read_a_players_points(
    rewards_container: Container, client: ApiClient, tokens: Tokens, player: str
) -> None:
    handle(rewards_container, partner_message(player, "HOTEL_STAY", nights=1))
    allowed = [
        tokens.headers(player, "player"),
        tokens.headers(str(uuid.uuid4()), "staff"),
        tokens.headers(str(uuid.uuid4()), "admin"),
        tokens.client("hotel", "rewards.read"),
    ]
    for headers in allowed:
        response = client.get(points_url(player), headers=headers)
        assert response.status_code == 200, response.json
        assert response.json["totalPoints"] == 10
    refused = [tokens.headers(str(uuid.uuid4()), "player"), tokens.client("hotel", "rewards.write")]
    for headers in refused:
        response = client.get(points_url(player), headers=headers)
        assert response.status_code == 403
    assert client.get(points_url(player)).status_code == 401


def test_points_with_a_breakdown_by_source(
    rewards_container: Container, client: ApiClient, staff: dict[str, str], player: str
) -> None:
    stay = partner_message(player, "HOTEL_STAY", nights=2)
    handle(
        rewards_container,
        stay,
        partner_message(player, "DINING", checkAmount="48.20"),
        partner_message(player, "CASINO_SPEND", amountWagered="129.99"),
        reversal_message(stay),
    )
    plain = client.get(points_url(player), headers=staff).json
    assert plain["totalPoints"] == 21
    assert plain["playerId"] == player
    assert "breakdown" not in plain
    assert plain["calculationTimestamp"]
    detailed = client.get(points_url(player, breakdown="true"), headers=staff).json
    assert detailed["breakdown"] == {
        "HOTEL": {"points": 0, "events": 2},
        "DINING": {"points": 9, "events": 1},
        "CASINO": {"points": 12, "events": 1},
    }


def test_an_unknown_player_is_404_and_bad_periods_422(
    client: ApiClient, staff: dict[str, str], player: str, tokens: Tokens
) -> None:
    missing = client.get(points_url(str(uuid.uuid4())), headers=staff)
    assert missing.status_code == 404
    assert missing.json["error"]["code"] == "REWARDS_PLAYER_NOT_FOUND"
    assert client.get(points_url(player), headers=staff).json["totalPoints"] == 0
    # Signed up a moment ago, before the registration reached rewards: zero, not a 404.
    newcomer = str(uuid.uuid4())
    own = client.get(points_url(newcomer), headers=tokens.headers(newcomer, "player"))
    assert own.status_code == 200
    assert own.json["totalPoints"] == 0
    bad_queries = [
        {"from": "2026-02-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"},
        {"from": "2026-02-01T00:00:00"},
        {"from": "1999-01-01T00:00:00Z"},
        {"to": "2200-01-01T00:00:00Z"},
        {"breakdown": "maybe"},
        {"breakdown": "yes"},
        {"breakdown": "1"},
        # A misspelt "from" counted the player's whole history instead.
        {"form": "2026-02-01T00:00:00Z"},
    ]
    for query in bad_queries:
        response = client.get(points_url(player, **query), headers=staff)
        assert response.status_code == 422, query


def test_any_period_adds_up_to_the_events_inside_it(
    rewards_container: Container, client: ApiClient, staff: dict[str, str], player: str
) -> None:
    rng = random.Random(11)
    # Whole seconds: occurredAt travels with millisecond precision.
    now = datetime.now(UTC).replace(microsecond=0)
    moments = sorted(now - timedelta(seconds=rng.randrange(120 * 86400)) for _ in range(300))
    # Each wager earns 10; every fifth is reversed (at its own time plus a few hours).
    messages = [partner_message(player, occurred_at=m, amountWagered="100.00") for m in moments]
    reversals = [
        reversal_message(
            m, occurredAt=(moments[i] + timedelta(hours=rng.randrange(1, 72))).isoformat()
        )
        for i, m in enumerate(messages)
        if i % 5 == 0
    ]
    handle(rewards_container, *messages)
    handle(
        rewards_container, *[r for r in reversals if datetime.fromisoformat(r["occurredAt"]) < now]
    )
    ledger = [(m, 10) for m in moments] + [
        (datetime.fromisoformat(r["occurredAt"]), -10)
        for r in reversals
        if datetime.fromisoformat(r["occurredAt"]) < now
    ]

    def expected(start: datetime | None, end: datetime | None) -> int:
        return sum(
            p for t, p in ledger if (start is None or t >= start) and (end is None or t < end)
        )

    windows: list[tuple[datetime | None, datetime | None]] = [(None, None)]
    for _ in range(25):
        a = now - timedelta(seconds=rng.randrange(130 * 86400))
        b = a + timedelta(seconds=rng.randrange(1, 90 * 86400))
        windows.append((a, b))
    windows += [(moments[10], None), (None, moments[200]), (moments[5], moments[5])]
    for start, end in windows:
        if start is not None and end is not None and end <= start:
            continue
        query: dict[str, str] = {}
        if start is not None:
            query["from"] = start.isoformat()
        if end is not None:
            query["to"] = end.isoformat()
        response = client.get(points_url(player, **query), headers=staff)
        assert response.status_code == 200, response.json
        assert response.json["totalPoints"] == expected(start, end), query


def test_answers_are_cached_until_a_new_event_counts_for_the_player(
    rewards_container: Container, client: ApiClient, staff: dict[str, str], player: str
) -> None:
    handle(rewards_container, partner_message(player, "DINING", checkAmount="0"))
    first = client.get(points_url(player), headers=staff).json
    again = client.get(points_url(player), headers=staff).json
    assert again == first  # same calculationTimestamp: served from the cache
    other = add_players(rewards_container, 1)[0]
    handle(rewards_container, partner_message(other, "DINING"))
    assert client.get(points_url(player), headers=staff).json == first  # not this player's

    handle(rewards_container, partner_message(player, "HOTEL_STAY", nights=1))
    fresh = client.get(points_url(player), headers=staff).json
    assert fresh["totalPoints"] == 15
    assert fresh["calculationTimestamp"] != first["calculationTimestamp"]


def test_without_redis_the_points_are_still_answered(
    rewards_container: Container, client: ApiClient, staff: dict[str, str], player: str
) -> None:
    handle(rewards_container, partner_message(player, "HOTEL_STAY", nights=1))
    dead = Redis.from_url("redis://127.0.0.1:9/0", socket_connect_timeout=0.2, socket_timeout=0.2)
    rewards_container.points_cache.override(providers.Object(RedisPointsCache(dead, 30)))
    try:
        response = client.get(points_url(player), headers=staff)
        assert response.status_code == 200
        assert response.json["totalPoints"] == 10
        # The consumer's invalidation fails quietly too (the entries expire on their own).
        handle(rewards_container, partner_message(player, "HOTEL_STAY", nights=1))
    finally:
        rewards_container.points_cache.reset_override()
        dead.close()
    assert client.get(points_url(player), headers=staff).json["totalPoints"] == 20


class CountingRedis(Redis):
    """A real client that counts the commands it sends."""

    commands = 0

    def execute_command(self, *args: Any, **options: Any) -> Any:
        self.commands += 1
        return super().execute_command(*args, **options)  # type: ignore[no-untyped-call, unused-ignore]


def test_a_redis_that_hangs_costs_one_query_one_timeout_not_every_query(
    rewards_container: Container, client: ApiClient, staff: dict[str, str], player: str
) -> None:
    handle(rewards_container, partner_message(player, "HOTEL_STAY", nights=1))
    # A server that accepts connections and never answers: every command times out.
    silent = socket.create_server(("127.0.0.1", 0))
    host, port = silent.getsockname()
    hung = CountingRedis(host=host, port=port, socket_connect_timeout=0.3, socket_timeout=0.3)
    rewards_container.points_cache.override(providers.Object(RedisPointsCache(hung, 30)))
    try:
        first = client.get(points_url(player), headers=staff)
        sent_by_first = hung.commands
        later = [client.get(points_url(player), headers=staff) for _ in range(5)]
    finally:
        rewards_container.points_cache.reset_override()
        hung.close()
        silent.close()
    assert first.status_code == 200
    assert first.json["totalPoints"] == 10
    assert [(r.status_code, r.json["totalPoints"]) for r in later] == [(200, 10)] * 5
    # The first command timed out and opened the breaker: the rest of that query and the five
    # after it were answered from PostgreSQL without waiting on Redis (three commands each,
    # three timeouts each, without the breaker).
    assert sent_by_first == 1
    assert hung.commands == 1
