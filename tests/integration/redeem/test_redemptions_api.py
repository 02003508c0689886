"""Redemptions over REST on the real database: 202 with the request stored and its event in the
outbox, idempotency keys per caller, access rules, validation, and reading the outcome."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from redeem_service.container import Container
from redeem_service.controllers.consumers import RedeemRequestedHandler
from tests.integration.redeem.conftest import bearer
from tests.integration.redeem.support import (
    inbound,
    json_of,
    new_player,
    outbox_events,
    outbox_messages,
    registered_player,
)
from tests.support.tokens import TestSigner

URL = "/api/v1/redemptions"
BODY = {"points": 500, "rewardDescription": "Dinner for two"}


def redeem(client: FlaskClient, token: str, key: str | None = "key-1", **body: Any) -> Any:
    headers = bearer(token)
    if key is not None:
        headers["Idempotency-Key"] = key
    return client.post(URL, json={**BODY, **body}, headers=headers)


def stored(container: Container) -> list[Any]:
    with container.core.database().connect() as connection:
        return list(connection.execute(text("SELECT * FROM redemptions ORDER BY created_at")))


def test_a_player_s_request_is_accepted_pending_with_its_event(
    client: FlaskClient, redeem_container: Container, signer: TestSigner
) -> None:
    player = new_player()
    merchant = {"partnerId": "dining", "location": "Steakhouse", "reference": "table-4"}
    response = redeem(client, signer.user_token(player), merchant=merchant)
    assert response.status_code == 202, response.json
    body = json_of(response)
    assert body["status"] == "PENDING"
    redemption_id = body["redeemRequestId"]
    assert response.headers["Location"] == f"{URL}/{redemption_id}"
    [row] = stored(redeem_container)
    assert (str(row.id), row.player_id, row.points, row.status) == (
        redemption_id,
        player,
        500,
        "PENDING",
    )
    assert (row.requested_by, row.idempotency_key, row.channel) == (player, "key-1", "API")
    [event] = outbox_messages(redeem_container.core.database(), "redeem-events")
    assert event["eventType"] == "REDEEM_REQUESTED"
    assert event["user_id"] == player
    assert event["redeemRequestId"] == redemption_id
    assert event["merchant"] == merchant
    assert event["requestedBy"] == player


def test_a_retry_with_the_same_key_and_body_gets_the_first_answer(
    client: FlaskClient, redeem_container: Container, signer: TestSigner
) -> None:
    token = signer.user_token(new_player())
    first = redeem(client, token)
    again = redeem(client, token)
    assert again.status_code == 202
    assert json_of(again) == json_of(first)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert len(stored(redeem_container)) == 1
    assert len(outbox_messages(redeem_container.core.database())) == 1


def test_concurrent_retries_of_one_request_store_it_and_its_event_once(
    redeem_app: Flask, redeem_container: Container, signer: TestSigner
) -> None:
    token = signer.user_token(new_player())
    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(lambda _: redeem(redeem_app.test_client(), token), range(32)))
    assert {a.status_code for a in answers} == {202}
    assert len({json_of(a)["redeemRequestId"] for a in answers}) == 1
    assert sum("Idempotent-Replayed" not in a.headers for a in answers) == 1
    assert len(stored(redeem_container)) == 1
    assert len(outbox_messages(redeem_container.core.database())) == 1


def test_the_same_key_with_another_body_is_refused(
    client: FlaskClient, redeem_container: Container, signer: TestSigner
) -> None:
    token = signer.user_token(new_player())
    assert redeem(client, token).status_code == 202
    refused = redeem(client, token, points=501)
    assert refused.status_code == 422
    assert json_of(refused)["error"]["code"] == "REDEEM_IDEMPOTENCY_KEY_REUSED"
    assert len(stored(redeem_container)) == 1


def test_a_partner_with_rewards_redeem_names_the_player(
    client: FlaskClient, redeem_container: Container, signer: TestSigner
) -> None:
    player = new_player()
    token = signer.client_token("hotel", scope="rewards.redeem rewards.read")
    response = redeem(client, token, playerId=player)
    assert response.status_code == 202, response.json
    [row] = stored(redeem_container)
    assert (row.player_id, row.requested_by) == (player, "hotel")
    # Keys belong to their caller: the player may use the same key for their own request.
    assert redeem(client, signer.user_token(player)).status_code == 202
    assert len(stored(redeem_container)) == 2


@pytest.mark.parametrize(
    ("token_kind", "body", "status", "code"),
    [
        (None, {}, 401, "UNAUTHENTICATED"),
        ("other-player", {}, 403, "FORBIDDEN"),
        ("partner-without-scope", {"playerId": "p-1"}, 403, "FORBIDDEN"),
        ("staff", {"playerId": "p-1"}, 403, "FORBIDDEN"),
        ("partner", {}, 422, "REDEEM_INVALID_REDEMPTION"),
        ("player", {"points": 0}, 422, "VALIDATION_FAILED"),
        ("player", {"points": 12.5}, 422, "VALIDATION_FAILED"),
        ("player", {"points": "500"}, 422, "VALIDATION_FAILED"),
        ("player", {"points": 10_000_001}, 422, "VALIDATION_FAILED"),
        ("player", {"rewardDescription": ""}, 422, "VALIDATION_FAILED"),
        ("player", {"rewardDescription": "x" * 201}, 422, "VALIDATION_FAILED"),
        ("player", {"rewardDescription": "   "}, 422, "REDEEM_INVALID_REDEMPTION"),
        ("player", {"merchant": {"partnerId": "d", "table": 4}}, 422, "VALIDATION_FAILED"),
        ("player", {"unexpected": True}, 422, "VALIDATION_FAILED"),
    ],
)
def test_requests_that_are_refused_store_nothing(
    client: FlaskClient,
    redeem_container: Container,
    signer: TestSigner,
    token_kind: str | None,
    body: dict[str, Any],
    status: int,
    code: str,
) -> None:
    player = new_player()
    tokens = {
        "player": signer.user_token(player),
        "other-player": signer.user_token(new_player()),
        "staff": signer.user_token("staff-1", role="staff"),
        "partner": signer.client_token("hotel", scope="rewards.redeem"),
        "partner-without-scope": signer.client_token("hotel", scope="rewards.read"),
    }
    if token_kind == "other-player":
        body = {"playerId": player}
    headers = {"Idempotency-Key": "k-1"}
    if token_kind is not None:
        headers.update(bearer(tokens[token_kind]))
    response = client.post(URL, json={**BODY, **body}, headers=headers)
    assert response.status_code == status, response.json
    assert json_of(response)["error"]["code"] == code
    assert stored(redeem_container) == []


@pytest.mark.parametrize(
    ("key", "status", "code"),
    [
        (None, 400, "REDEEM_IDEMPOTENCY_KEY_REQUIRED"),
        ("has spaces", 422, "VALIDATION_FAILED"),
        ("x" * 101, 422, "VALIDATION_FAILED"),
    ],
)
def test_the_idempotency_key_is_required_and_bounded(
    client: FlaskClient,
    redeem_container: Container,
    signer: TestSigner,
    key: str | None,
    status: int,
    code: str,
) -> None:
    response = redeem(client, signer.user_token(new_player()), key=key)
    assert response.status_code == status
    assert json_of(response)["error"]["code"] == code
    assert stored(redeem_container) == []


def test_the_outcome_is_read_by_the_player_the_requester_and_staff_only(
    client: FlaskClient, redeem_container: Container, signer: TestSigner
) -> None:
    player = registered_player(redeem_container)
    hotel = signer.client_token("hotel", scope="rewards.redeem")
    accepted = json_of(redeem(client, hotel, playerId=player))
    redemption_id = accepted["redeemRequestId"]
    # The worker decides it: no points, so it is rejected.
    [event] = outbox_events(redeem_container.core.database(), "redeem-events")
    RedeemRequestedHandler(redeem_container.redemption_decisions()).handle(
        [inbound(event, "redeem-events")]
    )
    for token in (
        signer.user_token(player),
        hotel,
        signer.user_token("staff-1", role="staff"),
    ):
        response = client.get(f"{URL}/{redemption_id}", headers=bearer(token))
        assert response.status_code == 200, response.json
        body = json_of(response)
        assert body["status"] == "REJECTED"
        assert body["reason"] == "INSUFFICIENT_POINTS"
        assert body["pointsBalance"] == 0
        assert body["requestedBy"] == "hotel"
        assert body["decidedAt"] is not None
    for token in (
        signer.user_token(new_player()),
        signer.client_token("casino", scope="rewards.redeem"),
    ):
        hidden = client.get(f"{URL}/{redemption_id}", headers=bearer(token))
        assert hidden.status_code == 404
        assert json_of(hidden)["error"]["code"] == "REDEEM_REDEMPTION_NOT_FOUND"
    unknown = client.get(f"{URL}/{uuid.uuid4()}", headers=bearer(signer.user_token(player)))
    assert unknown.status_code == 404
    assert client.get(f"{URL}/not-a-uuid", headers=bearer(hotel)).status_code == 404


def test_a_partner_s_request_for_an_id_no_player_has_is_rejected_as_unknown(
    client: FlaskClient, redeem_container: Container, signer: TestSigner
) -> None:
    hotel = signer.client_token("hotel", scope="rewards.redeem")
    known, nobody = registered_player(redeem_container), new_player()
    ids = {
        player: json_of(redeem(client, hotel, playerId=player, key=f"k-{player}"))[
            "redeemRequestId"
        ]
        for player in (known, nobody)
    }
    events = outbox_events(redeem_container.core.database(), "redeem-events")
    RedeemRequestedHandler(redeem_container.redemption_decisions()).handle(
        [inbound(event, "redeem-events") for event in events if event.user_id in ids]
    )
    reasons = {
        player: json_of(client.get(f"{URL}/{ids[player]}", headers=bearer(hotel)))["reason"]
        for player in ids
    }
    assert reasons == {known: "INSUFFICIENT_POINTS", nobody: "UNKNOWN_PLAYER"}


def test_a_player_lists_their_redemptions_newest_first(
    client: FlaskClient, signer: TestSigner
) -> None:
    player = new_player()
    token = signer.user_token(player)
    ids = [json_of(redeem(client, token, key=f"k-{i}"))["redeemRequestId"] for i in range(3)]
    body = json_of(client.get(f"{URL}?pageSize=2", headers=bearer(token)))
    assert (body["total"], body["pageSize"]) == (3, 2)
    assert [r["redeemRequestId"] for r in body["items"]] == ids[::-1][:2]
    assert body["items"][0]["status"] == "PENDING"
    assert json_of(client.get(f"{URL}?status=CONFIRMED", headers=bearer(token)))["total"] == 0
    staff = bearer(signer.user_token("staff-1", role="staff"))
    assert json_of(client.get(f"{URL}?playerId={player}", headers=staff))["total"] == 3
    refused = client.get(f"{URL}?playerId={new_player()}", headers=bearer(token))
    assert refused.status_code == 403
    assert client.get(f"{URL}?colour=red", headers=bearer(token)).status_code == 422
    assert client.get(URL, headers=staff).status_code == 422


def test_the_redemption_api_is_documented(client: FlaskClient) -> None:
    spec = json_of(client.get("/redeem/openapi.json"))
    paths = spec["paths"]
    assert {"/api/v1/redemptions", "/api/v1/redemptions/{redeem_request_id}"} <= set(paths)
    post = paths["/api/v1/redemptions"]["post"]
    assert {"202", "400", "401", "403", "422"} <= set(post["responses"])
    assert any(p["name"] == "Idempotency-Key" and p["in"] == "header" for p in post["parameters"])
    body = spec["components"]["schemas"]["RedemptionCreate"]
    assert set(body["properties"]) == {"playerId", "points", "rewardDescription", "merchant"}
    assert body["required"] == ["points", "rewardDescription"]
