"""The wallet REST API on the real database: own wallet, staff view, admin adjustments."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from dependency_injector import providers
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text

from redeem_service.application.commands import RecordTransaction
from redeem_service.container import Container
from redeem_service.domain.model import Currency, TransactionType
from tests.integration.redeem.conftest import bearer
from tests.integration.redeem.support import (
    json_of,
    ledger,
    new_player,
    registered_player,
    transaction_count,
)
from tests.support.openapi import unreadable_summaries
from tests.support.tokens import TestSigner


def credit(
    container: Container, player: str, amount: str | int, currency: Currency = Currency.BONUS
) -> None:
    container.wallet_service().record(
        RecordTransaction(player, currency, TransactionType.CREDIT, amount, uuid.uuid4().hex),
        actor="rewards-service",
    )


def adjust(
    client: FlaskClient, token: str, player: str, key: str | None = None, **body: Any
) -> Any:
    payload = {"currency": "BONUS", "type": "CREDIT", "amount": "10.00", "reason": "Goodwill"}
    payload.update(body)
    headers = bearer(token)
    if key != "":  # "" sends none; None a fresh one
        headers["Idempotency-Key"] = key or uuid.uuid4().hex
    return client.post(
        f"/api/v1/wallet/players/{player}/adjustments", json=payload, headers=headers
    )


def test_a_player_reads_their_balances_and_transactions_newest_first(
    client: FlaskClient, redeem_container: Container, signer: TestSigner
) -> None:
    player = new_player()
    credit(redeem_container, player, "10.00")
    credit(redeem_container, player, 250, Currency.POINTS)
    credit(redeem_container, player, "2.50")
    response = client.get("/api/v1/wallet/me?pageSize=2", headers=bearer(signer.user_token(player)))
    assert response.status_code == 200, response.json
    body = json_of(response)
    assert body["playerId"] == player
    assert body["balances"] == {"bonus": "12.50", "points": 250}
    page = body["transactions"]
    assert (page["total"], page["page"], page["pageSize"]) == (3, 1, 2)
    newest, previous = page["items"]
    assert (newest["amount"], newest["currency"], newest["type"]) == ("2.50", "BONUS", "CREDIT")
    assert newest["balanceAfter"] == "12.50"
    assert (previous["amount"], previous["currency"]) == ("250", "POINTS")
    assert newest["actor"] == "rewards-service"
    filtered = json_of(
        client.get("/api/v1/wallet/me?currency=POINTS", headers=bearer(signer.user_token(player)))
    )
    assert [t["amount"] for t in filtered["transactions"]["items"]] == ["250"]


def test_a_new_player_has_an_empty_wallet(client: FlaskClient, signer: TestSigner) -> None:
    player = new_player()
    body = json_of(client.get("/api/v1/wallet/me", headers=bearer(signer.user_token(player))))
    assert body["balances"] == {"bonus": "0.00", "points": 0}
    assert body["transactions"]["items"] == []


@pytest.mark.parametrize(
    ("path", "token_role", "status"),
    [
        ("/api/v1/wallet/me", None, 401),
        ("/api/v1/wallet/me", "staff", 403),
        ("/api/v1/wallet/players/someone", "player", 403),
        ("/api/v1/wallet/players/someone", None, 401),
        ("/api/v1/wallet/me?pageSize=1000", "player", 422),
        ("/api/v1/wallet/me?currency=EUR", "player", 422),
        ("/api/v1/wallet/me?unknown=1", "player", 422),
        ("/api/v1/wallet/players/bad%20id", "staff", 422),
    ],
)
def test_reads_are_refused_to_the_wrong_callers_and_bad_queries(
    client: FlaskClient, signer: TestSigner, path: str, token_role: str | None, status: int
) -> None:
    headers = bearer(signer.user_token(new_player(), token_role)) if token_role else {}
    response = client.get(path, headers=headers)
    assert response.status_code == status
    assert json_of(response)["error"]["code"]
    assert json_of(response)["error"]["correlationId"]


def test_staff_read_any_players_wallet(
    client: FlaskClient, redeem_container: Container, signer: TestSigner
) -> None:
    player = new_player()
    credit(redeem_container, player, "3.00")
    for role in ("staff", "admin"):
        response = client.get(
            f"/api/v1/wallet/players/{player}", headers=bearer(signer.user_token("s1", role))
        )
        assert response.status_code == 200
        assert json_of(response)["balances"]["bonus"] == "3.00"
    # A registered player without a wallet yet: an empty one.
    newcomer = registered_player(redeem_container)
    empty = client.get(
        f"/api/v1/wallet/players/{newcomer}", headers=bearer(signer.user_token("s1", "staff"))
    )
    assert (empty.status_code, json_of(empty)["balances"]) == (200, {"bonus": "0.00", "points": 0})


@pytest.mark.parametrize("who", ["nobody-at-all", "00000000-0000-4000-8000-000000000000"])
def test_staff_reading_an_id_that_is_nobodys_get_a_404(
    client: FlaskClient, signer: TestSigner, who: str
) -> None:
    # Not an empty wallet a mistyped id would pass for; as adjustments and rewards answer.
    response = client.get(
        f"/api/v1/wallet/players/{who}", headers=bearer(signer.user_token("s1", "staff"))
    )
    assert response.status_code == 404
    assert json_of(response)["error"]["code"] == "REDEEM_PLAYER_NOT_FOUND"


def test_an_admin_adjustment_is_recorded_with_the_actor_and_reason_and_notified(
    client: FlaskClient, redeem_container: Container, signer: TestSigner
) -> None:
    player = registered_player(redeem_container)
    admin = f"admin-{uuid.uuid4().hex[:8]}"
    response = adjust(
        client, signer.user_token(admin, "admin"), player, amount="15.25", reason="Lost voucher"
    )
    assert response.status_code == 201, response.json
    body = json_of(response)
    assert body["replayed"] is False
    assert body["balances"] == {"bonus": "15.25", "points": 0}
    transaction = body["transaction"]
    assert transaction["actor"] == admin
    assert transaction["source"] == "ADJUSTMENT"
    assert transaction["description"] == "Lost voucher"
    with redeem_container.core.database().connect() as connection:
        events = connection.execute(
            text("SELECT topic, payload FROM outbox WHERE message_key = :p"), {"p": player}
        ).all()
    [(topic, payload)] = events
    assert topic == "notifications"
    assert payload["eventType"] == "WALLET_ADJUSTED"
    assert payload["content"]["transactionId"] == transaction["id"]


def test_an_adjustment_retried_with_its_key_applies_once(
    client: FlaskClient, redeem_container: Container, signer: TestSigner
) -> None:
    player = registered_player(redeem_container)
    token = signer.user_token("admin-1", "admin")
    first = adjust(client, token, player, key="adj-42", currency="POINTS", amount="500")
    again = adjust(client, token, player, key="adj-42", currency="POINTS", amount="500")
    assert first.status_code == again.status_code == 201
    assert json_of(again)["replayed"] is True
    assert json_of(again)["transaction"]["id"] == json_of(first)["transaction"]["id"]
    other = adjust(client, token, player, key="adj-42", currency="POINTS", amount="501")
    assert other.status_code == 409
    assert json_of(other)["error"]["code"] == "REDEEM_IDEMPOTENCY_KEY_REUSED"
    assert ledger(redeem_container.core.database(), player)["points"] == 500


def test_a_debit_adjustment_below_zero_is_refused_with_nothing_recorded(
    client: FlaskClient, redeem_container: Container, signer: TestSigner
) -> None:
    player = new_player()
    credit(redeem_container, player, "5.00")
    response = adjust(
        client, signer.user_token("admin-1", "admin"), player, type="DEBIT", amount="5.01"
    )
    assert response.status_code == 409
    assert json_of(response)["error"]["code"] == "REDEEM_INSUFFICIENT_BALANCE"
    engine = redeem_container.core.database()
    assert transaction_count(engine, player) == 1
    assert ledger(engine, player)["bonus"] == Decimal("5.00")


@pytest.mark.parametrize(
    ("role", "body", "key", "status", "code"),
    [
        ("staff", {}, None, 403, "FORBIDDEN"),
        ("player", {}, None, 403, "FORBIDDEN"),
        ("admin", {"reason": ""}, None, 422, "VALIDATION_FAILED"),
        ("admin", {"reason": "   "}, None, 422, "REDEEM_INVALID_TRANSACTION"),
        ("admin", {"amount": 10.5}, None, 422, "VALIDATION_FAILED"),
        ("admin", {"amount": "1e3"}, None, 422, "VALIDATION_FAILED"),
        ("admin", {"currency": "POINTS", "amount": "2.50"}, None, 422, "REDEEM_INVALID_AMOUNT"),
        ("admin", {"amount": "0"}, None, 422, "REDEEM_INVALID_AMOUNT"),
        ("admin", {"type": "REFUND"}, None, 422, "VALIDATION_FAILED"),
        ("admin", {"extra": "field"}, None, 422, "VALIDATION_FAILED"),
        ("admin", {}, "bad key with spaces", 422, "VALIDATION_FAILED"),
        ("admin", {}, "", 400, "REDEEM_IDEMPOTENCY_KEY_REQUIRED"),
    ],
)
def test_bad_adjustments_are_refused_with_nothing_recorded(
    client: FlaskClient,
    redeem_container: Container,
    signer: TestSigner,
    role: str,
    body: dict[str, Any],
    key: str | None,
    status: int,
    code: str,
) -> None:
    player = registered_player(redeem_container)
    response = adjust(client, signer.user_token("u1", role), player, key=key, **body)
    assert response.status_code == status, response.json
    assert json_of(response)["error"]["code"] == code
    assert transaction_count(redeem_container.core.database(), player) == 0


def test_an_adjustment_for_an_id_that_is_nobodys_is_404_with_nothing_recorded(
    client: FlaskClient, redeem_container: Container, signer: TestSigner
) -> None:
    nobody = new_player()
    token = signer.user_token("admin-1", "admin")
    response = adjust(client, token, nobody, amount="500.00")
    assert response.status_code == 404
    assert json_of(response)["error"]["code"] == "REDEEM_PLAYER_NOT_FOUND"
    engine = redeem_container.core.database()
    assert transaction_count(engine, nobody) == 0
    with engine.connect() as connection:
        wallets = connection.execute(
            text("SELECT count(*) FROM wallets WHERE player_id = :p"), {"p": nobody}
        ).scalar_one()
    assert wallets == 0
    # Once the registration is in, the same request goes through.
    redeem_container.player_directory().record([(nobody, datetime.now(UTC))])
    assert adjust(client, token, nobody, amount="500.00").status_code == 201


def test_partners_read_a_players_points_balance_and_nothing_more(
    client: FlaskClient, redeem_container: Container, signer: TestSigner
) -> None:
    player = registered_player(redeem_container)
    credit(redeem_container, player, 340, Currency.POINTS)
    credit(redeem_container, player, "25.00")
    url = f"/api/v1/wallet/players/{player}/balance"
    for token in (
        signer.client_token("hotel", "rewards.read"),
        signer.client_token("dining", "rewards.redeem"),
        signer.user_token("s1", "staff"),
    ):
        response = client.get(url, headers=bearer(token))
        assert response.status_code == 200, response.json
        assert json_of(response) == {"playerId": player, "points": 340}  # no bonus money
    refused = client.get(url, headers=bearer(signer.client_token("casino", "rewards.write")))
    assert refused.status_code == 403
    error = json_of(refused)["error"]
    assert error["details"] == {"requiredScopes": ["rewards.read", "rewards.redeem"]}
    assert "rewards.read" in error["message"]
    assert client.get(url, headers=bearer(signer.user_token(player))).status_code == 403
    nobody = client.get(
        f"/api/v1/wallet/players/{new_player()}/balance",
        headers=bearer(signer.client_token("hotel", "rewards.read")),
    )
    assert nobody.status_code == 404
    assert json_of(nobody)["error"]["code"] == "REDEEM_PLAYER_NOT_FOUND"


def test_an_inactive_player_is_refused(
    client: FlaskClient, redeem_container: Container, signer: TestSigner
) -> None:
    player = new_player()
    redeem_container.core.inactive_users().mark(player, inactive=True)
    response = client.get("/api/v1/wallet/me", headers=bearer(signer.user_token(player)))
    assert response.status_code == 401
    assert json_of(response)["error"]["code"] == "ACCOUNT_INACTIVE"


def test_the_api_is_documented(client: FlaskClient) -> None:
    spec = json_of(client.get("/redeem/openapi.json"))
    assert unreadable_summaries(spec) == []
    paths = spec["paths"]
    assert {
        "/api/v1/wallet/me",
        "/api/v1/wallet/players/{player_id}",
        "/api/v1/wallet/players/{player_id}/adjustments",
    } <= set(paths)
    for path in ("/api/v1/wallet/players/{player_id}/adjustments", "/api/v1/redemptions"):
        [key] = [
            p
            for p in paths[path]["post"]["parameters"]
            if p["name"] == "Idempotency-Key" and p["in"] == "header"
        ]
        assert key["required"] is True, path  # generated clients must send it
    assert client.get("/redeem/api-docs").status_code == 200


def test_an_unreachable_database_is_a_retryable_503_not_a_500(
    client: FlaskClient, signer: TestSigner, redeem_container: Container
) -> None:
    unreachable = create_engine(
        "postgresql+psycopg://loyalty@127.0.0.1:9/redeem", connect_args={"connect_timeout": 1}
    )
    with redeem_container.core.database.override(providers.Object(unreachable)):
        response = client.get("/api/v1/wallet/me", headers=bearer(signer.user_token(new_player())))
    unreachable.dispose()
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert json_of(response)["error"]["code"] == "SERVICE_UNAVAILABLE"
