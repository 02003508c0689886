"""Promotions API against PostgreSQL: create, read, list with filters, revise, and the database
refusing overlapping welcome promotions."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from rewards_service.container import Container
from tests.integration.rewards.conftest import (
    ApiClient,
    Tokens,
    add_players,
    create_promotion,
    promotion_body,
)
from tests.support.openapi import unreadable_summaries

NOW = datetime.now(UTC)


def iso(moment: datetime) -> str:
    return moment.isoformat()


def test_staff_create_a_promotion_and_read_it_back(
    client: ApiClient, staff: dict[str, str]
) -> None:
    created = create_promotion(client, staff, amount="10.5", maxClaims=100, maxClaimsPerPlayer=3)
    assert created["amount"] == "10.50"
    assert created["isActive"] is True
    assert created["maxClaims"] == 100
    assert created["maxClaimsPerPlayer"] == 3
    assert created["claimsCount"] == 0

    fetched = client.get(f"/api/v1/promotions/{created['id']}", headers=staff)
    assert fetched.status_code == 200
    assert fetched.json == created


def test_amounts_are_strings_with_at_most_two_decimals(
    client: ApiClient, staff: dict[str, str]
) -> None:
    for amount in ["1.005", 10.5, "-1.00", "abc", "1e3"]:
        response = client.post(
            "/api/v1/promotions", json=promotion_body(amount=amount), headers=staff
        )
        assert response.status_code == 422, amount
        assert response.json["error"]["code"] == "VALIDATION_FAILED"
        assert "amount" in response.json["error"]["details"]["json"]
    too_big = client.post(
        "/api/v1/promotions", json=promotion_body(amount="1000000.01"), headers=staff
    )
    assert too_big.status_code == 422
    assert too_big.json["error"]["code"] == "REWARDS_INVALID_PROMOTION"


def test_invalid_promotions_are_refused_with_the_field_named(
    client: ApiClient, staff: dict[str, str]
) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"endDate": iso(NOW - timedelta(days=2))}, "endDate"),
        ({"startDate": "2025-01-01T00:00:00"}, "startDate"),  # no offset
        ({"type": "LOTTERY"}, "type"),
        ({"title": ""}, "title"),
        ({"maxClaims": 0}, "maxClaims"),
        ({"maxClaims": 2.9}, "maxClaims"),  # never silently 2
        ({"maxClaimsPerPlayer": 1.5}, "maxClaimsPerPlayer"),
        ({"surprise": True}, "surprise"),
        # Year 10000 and 1 BC in UTC: stored, such a row could never be read back.
        ({"endDate": "9999-12-31T23:59:59-05:00"}, "endDate"),
        ({"startDate": "0001-01-01T00:00:00+05:00"}, "startDate"),
    ]
    for change, field in cases:
        response = client.post("/api/v1/promotions", json=promotion_body(**change), headers=staff)
        assert response.status_code == 422, change
        assert field in response.json["error"]["details"]["json"], response.json


def test_titles_players_could_not_read_are_refused_like_blank_ones(
    client: ApiClient, staff: dict[str, str]
) -> None:
    for title in [
        "   ",
        "\u200b",
        "\ufeff",
        "\x7f",
        "\x1b[2J\x1b[31mFREE MONEY",
        "\u202eSUNOB 001",
    ]:
        refused = client.post("/api/v1/promotions", json=promotion_body(title=title), headers=staff)
        assert refused.status_code == 422, repr(title)
        assert refused.json["error"]["code"] == "REWARDS_INVALID_PROMOTION", repr(title)
    refused = client.post(
        "/api/v1/promotions", json=promotion_body(description="\x1b[31mred"), headers=staff
    )
    assert refused.json["error"]["code"] == "REWARDS_INVALID_PROMOTION"
    assert client.get("/api/v1/promotions", headers=staff).json["total"] == 0

    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467 Family weekend"
    created = create_promotion(client, staff, title=family, description="Friday\nto Sunday")
    fetched = client.get(f"/api/v1/promotions/{created['id']}", headers=staff).json
    assert (fetched["title"], fetched["description"]) == (family, "Friday\nto Sunday")


def test_dates_are_answered_in_utc_however_they_were_sent(
    client: ApiClient, staff: dict[str, str]
) -> None:
    created = create_promotion(
        client, staff, startDate="2027-02-01T00:00:00+05:00", endDate="2027-03-01T00:00:00+05:00"
    )
    assert (created["startDate"], created["endDate"]) == (
        "2027-01-31T19:00:00+00:00",
        "2027-02-28T19:00:00+00:00",
    )
    moved = client.patch(
        f"/api/v1/promotions/{created['id']}",
        json={"endDate": "2027-03-01T00:00:00-08:00"},
        headers=staff,
    )
    assert moved.json["endDate"] == "2027-03-01T08:00:00+00:00"
    fetched = client.get(f"/api/v1/promotions/{created['id']}", headers=staff)
    assert fetched.json == moved.json


def test_the_active_flag_is_a_json_boolean_nothing_else(
    client: ApiClient, staff: dict[str, str]
) -> None:
    loose: list[Any] = ["yes", "1", "true", "false", "off", "no", 1, 0, 1.0, None]
    for value in loose:
        refused = client.post(
            "/api/v1/promotions", json=promotion_body(isActive=value), headers=staff
        )
        assert refused.status_code == 422, value
        assert refused.json["error"]["code"] == "VALIDATION_FAILED"
        assert "isActive" in refused.json["error"]["details"]["json"], value
    assert client.get("/api/v1/promotions", headers=staff).json["total"] == 0

    live = create_promotion(client, staff)
    for value in loose:
        refused = client.patch(
            f"/api/v1/promotions/{live['id']}", json={"isActive": value}, headers=staff
        )
        assert refused.status_code == 422, value
        assert "isActive" in refused.json["error"]["details"]["json"], value
    assert client.get(f"/api/v1/promotions/{live['id']}", headers=staff).json["isActive"] is True
    off = client.patch(f"/api/v1/promotions/{live['id']}", json={"isActive": False}, headers=staff)
    assert off.status_code == 200
    assert off.json["isActive"] is False


def test_a_second_overlapping_active_welcome_promotion_is_refused(
    client: ApiClient, staff: dict[str, str]
) -> None:
    first = create_promotion(
        client,
        staff,
        type="WELCOME_BONUS",
        startDate=iso(NOW - timedelta(days=1)),
        endDate=iso(NOW + timedelta(days=30)),
    )
    overlapping = client.post(
        "/api/v1/promotions",
        json=promotion_body(
            type="WELCOME_BONUS",
            startDate=iso(NOW + timedelta(days=10)),
            endDate=iso(NOW + timedelta(days=60)),
        ),
        headers=staff,
    )
    assert overlapping.status_code == 409
    assert overlapping.json["error"]["code"] == "REWARDS_PROMOTION_OVERLAP"

    # Back to back, inactive, or of another type: all allowed.
    create_promotion(
        client,
        staff,
        type="WELCOME_BONUS",
        startDate=first["endDate"],
        endDate=iso(NOW + timedelta(days=60)),
    )
    create_promotion(client, staff, type="WELCOME_BONUS", isActive=False)
    create_promotion(client, staff, type="BONUS")
    create_promotion(client, staff, type="BONUS")


def test_reactivating_or_moving_into_an_overlap_is_refused(
    client: ApiClient, staff: dict[str, str]
) -> None:
    create_promotion(client, staff, type="WELCOME_BONUS")
    later = create_promotion(
        client,
        staff,
        type="WELCOME_BONUS",
        startDate=iso(NOW + timedelta(days=30)),
        endDate=iso(NOW + timedelta(days=40)),
    )
    dormant = create_promotion(client, staff, type="WELCOME_BONUS", isActive=False)

    moved = client.patch(
        f"/api/v1/promotions/{later['id']}",
        json={"startDate": iso(NOW + timedelta(days=3))},
        headers=staff,
    )
    assert moved.status_code == 409
    assert moved.json["error"]["code"] == "REWARDS_PROMOTION_OVERLAP"
    reactivated = client.patch(
        f"/api/v1/promotions/{dormant['id']}", json={"isActive": True}, headers=staff
    )
    assert reactivated.status_code == 409
    unchanged = client.get(f"/api/v1/promotions/{later['id']}", headers=staff)
    assert unchanged.json["startDate"] == later["startDate"]


def test_staff_deactivate_and_move_a_promotion(client: ApiClient, staff: dict[str, str]) -> None:
    promotion = create_promotion(client, staff)
    new_end = NOW + timedelta(days=90)
    response = client.patch(
        f"/api/v1/promotions/{promotion['id']}",
        json={"isActive": False, "endDate": iso(new_end)},
        headers=staff,
    )
    assert response.status_code == 200
    assert response.json["isActive"] is False
    assert datetime.fromisoformat(response.json["endDate"]) == new_end
    assert response.json["amount"] == promotion["amount"]

    for body, status in [
        ({}, 422),
        ({"amount": "99.00"}, 422),
        ({"endDate": iso(NOW - timedelta(days=5))}, 422),
    ]:
        refused = client.patch(f"/api/v1/promotions/{promotion['id']}", json=body, headers=staff)
        assert refused.status_code == status, body
    missing = client.patch(
        f"/api/v1/promotions/{uuid.uuid4()}", json={"isActive": False}, headers=staff
    )
    assert missing.status_code == 404
    assert missing.json["error"]["code"] == "REWARDS_PROMOTION_NOT_FOUND"


def test_list_filters_by_type_flag_window_and_text(
    client: ApiClient, staff: dict[str, str]
) -> None:
    spins = create_promotion(client, staff, type="FREE_SPINS", title="100% spins_on slots")
    vip = create_promotion(
        client,
        staff,
        type="VIP",
        title="VIP dinner",
        description="Chef's table",
        startDate=iso(NOW + timedelta(days=20)),
        endDate=iso(NOW + timedelta(days=25)),
    )
    old = create_promotion(
        client,
        staff,
        type="BONUS",
        title="Old bonus",
        isActive=False,
        startDate=iso(NOW - timedelta(days=60)),
        endDate=iso(NOW - timedelta(days=30)),
    )

    def ids(query: str) -> list[str]:
        response = client.get(f"/api/v1/promotions?{query}", headers=staff)
        assert response.status_code == 200, response.json
        return [p["id"] for p in response.json["items"]]

    assert ids("") == [vip["id"], spins["id"], old["id"]]
    assert ids("type=VIP") == [vip["id"]]
    assert ids("active=false") == [old["id"]]
    window = f"from={iso(NOW + timedelta(days=21))}&to={iso(NOW + timedelta(days=22))}"
    assert ids(window.replace("+", "%2B")) == [vip["id"]]
    assert ids("q=CHEF") == [vip["id"]]
    assert ids("q=100%25") == [spins["id"]]  # % is matched literally
    assert ids("q=s_on") == [spins["id"]]  # and so is _
    assert ids("q=x%25y") == []


def test_list_pages_are_bounded_and_counted(client: ApiClient, staff: dict[str, str]) -> None:
    for index in range(3):
        create_promotion(client, staff, title=f"Promotion {index}")
    page = client.get("/api/v1/promotions?page=2&pageSize=2", headers=staff)
    assert page.status_code == 200
    assert page.json["total"] == 3
    assert page.json["page"] == 2
    assert page.json["pageSize"] == 2
    assert len(page.json["items"]) == 1
    # Misspelt parameters are refused, not ignored (pagesize=2 silently listed 20).
    for query in ["pageSize=101", "page=0", "type=NOPE", "active=maybe", "pagesize=2"]:
        assert client.get(f"/api/v1/promotions?{query}", headers=staff).status_code == 422
    # The flag is "true" or "false", spelt so: "yes" or "0" are refused, not read as either.
    for query in ["active=yes", "active=0", "active=off", "active=True", "active="]:
        refused = client.get(f"/api/v1/promotions?{query}", headers=staff)
        assert refused.status_code == 422, query
        assert "active" in refused.json["error"]["details"]["query"], query
    assert client.get("/api/v1/promotions?active=true", headers=staff).json["total"] == 3


def test_players_and_anonymous_callers_cannot_manage_promotions(
    client: ApiClient, tokens: Tokens, staff: dict[str, str]
) -> None:
    promotion = create_promotion(client, staff)
    player = tokens.headers(str(uuid.uuid4()), "player")
    assert (
        client.post("/api/v1/promotions", json=promotion_body(), headers=player).status_code == 403
    )
    assert client.get("/api/v1/promotions", headers=player).status_code == 403
    assert (
        client.patch(
            f"/api/v1/promotions/{promotion['id']}", json={"isActive": False}, headers=player
        ).status_code
        == 403
    )
    # A player cannot tell a promotion they do not hold from one that does not exist.
    hidden = client.get(f"/api/v1/promotions/{promotion['id']}", headers=player)
    assert hidden.status_code == 404
    anonymous = client.get("/api/v1/promotions")
    assert anonymous.status_code == 401
    assert anonymous.json["error"]["code"] == "UNAUTHENTICATED"


def test_a_holder_reads_the_promotion_without_the_staff_only_fields(
    client: ApiClient, staff: dict[str, str], tokens: Tokens, rewards_container: Container
) -> None:
    promotion = create_promotion(client, staff, maxClaims=100, maxClaimsPerPlayer=2)
    (player,) = add_players(rewards_container)
    assigned = client.post(
        f"/api/v1/promotions/{promotion['id']}/assign", json={"playerIds": [player]}, headers=staff
    )
    assert assigned.status_code == 200

    held = client.get(
        f"/api/v1/promotions/{promotion['id']}", headers=tokens.headers(player, "player")
    )
    assert held.status_code == 200
    summary = ["id", "title", "description", "type", "amount", "isActive", "startDate", "endDate"]
    # The promotion as the holder's list shows it: no author, counts, limits or audit times.
    assert held.json == {field: promotion[field] for field in summary}
    listed = client.get(f"/api/v1/promotions/players/{player}", headers=staff)
    assert held.json == listed.json["items"][0]["promotion"]

    assert client.get(f"/api/v1/promotions/{promotion['id']}", headers=staff).json == promotion


def test_the_api_documents_both_views_of_a_promotion(client: ApiClient) -> None:
    spec = client.get("/rewards/openapi.json").json
    assert unreadable_summaries(spec) == []
    ok = spec["paths"]["/api/v1/promotions/{promotion_id}"]["get"]["responses"]["200"]
    assert ok["content"]["application/json"]["schema"] == {
        "oneOf": [
            {"$ref": "#/components/schemas/Promotion"},
            {"$ref": "#/components/schemas/PromotionSummary"},
        ]
    }
    assert "PromotionSummary" in ok["description"]


def test_the_claim_answer_documents_any_balance_the_wallet_may_hold(client: ApiClient) -> None:
    spec = client.get("/rewards/openapi.json").json
    claim = spec["components"]["schemas"]["ClaimResult"]["properties"]
    balance = re.compile(claim["bonusBalance"]["pattern"])
    for held in ("0.00", "10000000.00", "999999999999.99"):
        assert balance.fullmatch(held), held
    assert not balance.fullmatch("25.5")  # answers always have two decimals


def test_a_query_parameter_given_twice_is_refused_not_half_read(
    client: ApiClient, staff: dict[str, str]
) -> None:
    for query in ("page=1&page=2", "active=true&active=false"):
        response = client.get(f"/api/v1/promotions?{query}", headers=staff)
        assert response.status_code == 400, query
        assert response.json["error"]["code"] == "BAD_REQUEST"
    assert client.get("/api/v1/promotions?page=1&pageSize=5", headers=staff).status_code == 200
