"""The REST API in process (real MongoDB and Redis): happy and unhappy paths, and its docs."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from notification_service.application.services import SourcedEvent
from notification_service.container import Container
from notification_service.domain.model import NotificationDraft
from shared.application.events import IntegrationEvent
from tests.integration.notification.conftest import bearer, body
from tests.support.openapi import unreadable_summaries
from tests.support.tokens import TokenMinter

T0 = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)


def store(container: Container, user_id: str, count: int = 1, first_minute: int = 0) -> list[str]:
    drafts = [
        NotificationDraft(
            user_id=user_id,
            type="PROMOTION",
            event_id=str(uuid.uuid4()),
            created_at=T0 + timedelta(minutes=i),
            content={"promotionId": f"p{i}", "amount": "10.00"},
            title=f"Promotion {i}",
        )
        for i in range(first_minute, first_minute + count)
    ]
    return [n.id for n in container.notifications().add_new(drafts).stored]


@pytest.fixture
def player_id() -> str:
    return str(uuid.uuid4())


@pytest.fixture
def player(minter: TokenMinter, player_id: str) -> dict[str, str]:
    return bearer(minter.token(player_id))


def test_a_player_lists_reads_and_counts_their_notifications(
    client: FlaskClient,
    notification_container: Container,
    player: dict[str, str],
    player_id: str,
) -> None:
    ids = store(notification_container, player_id, 3)
    store(notification_container, "someone-else", 2)

    listed = client.get("/api/v1/notifications?pageSize=2", headers=player)
    assert listed.status_code == 200, body(listed)
    page = body(listed)
    assert page["user_id"] == player_id
    assert (page["page"], page["pageSize"], page["total"]) == (1, 2, 3)
    assert [n["id"] for n in page["notifications"]] == [ids[2], ids[1]]
    first = page["notifications"][0]
    assert first == {
        "id": ids[2],
        "type": "PROMOTION",
        "title": "Promotion 2",
        "content": {"promotionId": "p2", "amount": "10.00"},
        "read": False,
        "createdAt": "2025-05-01T12:02:00.000Z",
    }

    marked = client.patch(f"/api/v1/notifications/{ids[2]}/read", headers=player)
    assert marked.status_code == 200, body(marked)
    assert body(marked)["read"] is True
    assert body(marked)["readAt"]
    again = client.patch(f"/api/v1/notifications/{ids[2]}/read", headers=player)
    assert body(again)["readAt"] == body(marked)["readAt"]

    unread = body(client.get("/api/v1/notifications?unread=true", headers=player))
    assert [n["id"] for n in unread["notifications"]] == [ids[1], ids[0]]
    count = body(client.get("/api/v1/notifications/unread-count", headers=player))
    assert count == {"user_id": player_id, "unreadCount": 2}

    all_read = client.post("/api/v1/notifications/read-all", headers=player)
    assert all_read.status_code == 200
    assert body(all_read) == {"user_id": player_id, "updated": 2}
    count = body(client.get("/api/v1/notifications/unread-count", headers=player))
    assert count["unreadCount"] == 0


def test_a_player_cannot_read_another_players_notifications(
    client: FlaskClient, notification_container: Container, player: dict[str, str]
) -> None:
    other = str(uuid.uuid4())
    [theirs] = store(notification_container, other)
    listed = client.get(f"/api/v1/notifications?userId={other}", headers=player)
    assert listed.status_code == 403
    assert body(listed)["error"]["code"] == "FORBIDDEN"
    counted = client.get(f"/api/v1/notifications/unread-count?userId={other}", headers=player)
    assert counted.status_code == 403
    marked = client.patch(f"/api/v1/notifications/{theirs}/read", headers=player)
    assert marked.status_code == 404
    assert body(marked)["error"]["code"] == "NOTIFICATION_NOT_FOUND"
    assert notification_container.notifications().count_unread(other) == 1


def test_marking_read_takes_an_empty_body_or_none(
    client: FlaskClient,
    notification_container: Container,
    player: dict[str, str],
    player_id: str,
) -> None:
    store(notification_container, player_id)
    bodies: list[dict[str, Any]] = [
        {},
        {"json": {}},
        {"data": b"", "content_type": "application/json"},
    ]
    for extra in bodies:
        answer = client.post("/api/v1/notifications/read-all", headers=player, **extra)
        assert answer.status_code == 200, extra


def test_pages_taken_with_before_neither_repeat_nor_skip_while_the_list_changes(
    client: FlaskClient,
    notification_container: Container,
    player: dict[str, str],
    player_id: str,
) -> None:
    # Offset pages drift: a notification arriving between two pages repeated the last one of
    # the first; marking each page read while reading the unread ones skipped a page's worth.
    ids = store(notification_container, player_id, 7)
    store(notification_container, player_id, 1, first_minute=3)  # a tie: ordered by id
    seen: list[str] = []
    before: str | None = None
    while True:
        query = "?unread=true&pageSize=3" + (f"&before={before}" if before else "")
        listed = body(client.get(f"/api/v1/notifications{query}", headers=player))
        page_ids = [n["id"] for n in listed["notifications"]]
        seen += page_ids
        for notification_id in page_ids:  # read as they are shown
            client.patch(f"/api/v1/notifications/{notification_id}/read", headers=player)
        store(notification_container, player_id, 1)  # and one arrives meanwhile (T0: oldest)
        before = listed["nextBefore"]
        if before is None:
            break
    assert len(seen) == len(set(seen))  # nothing twice
    assert set(ids) <= set(seen)  # nothing skipped
    assert listed["page"] == 1


@pytest.mark.parametrize("count", [4, 5])
def test_next_before_is_null_after_the_last_page_even_a_full_one(
    client: FlaskClient,
    notification_container: Container,
    player: dict[str, str],
    player_id: str,
    count: int,
) -> None:
    store(notification_container, player_id, count)
    pages: list[list[str]] = []
    query: str | None = "?pageSize=2"
    while query is not None:
        listed = body(client.get(f"/api/v1/notifications{query}", headers=player))
        pages.append([n["id"] for n in listed["notifications"]])
        before = listed["nextBefore"]
        query = f"?pageSize=2&before={before}" if before else None
    # 4: two full pages and no empty third; 5: the last page short.
    assert [len(page) for page in pages] == ([2, 2] if count == 4 else [2, 2, 1])
    exact = body(client.get("/api/v1/notifications?pageSize=4&page=1", headers=player))
    assert (exact["nextBefore"] is None) == (count == 4)


@pytest.mark.parametrize(
    "query",
    [
        "?before=0123456789abcdef01234567",  # nobody's
        "?before=not-an-id",
        "?before=THEIRS",  # another player's
        "?before=MINE&page=2",  # one way of paging at a time
    ],
)
def test_before_names_one_of_the_users_notifications(
    client: FlaskClient,
    notification_container: Container,
    player: dict[str, str],
    player_id: str,
    query: str,
) -> None:
    [mine] = store(notification_container, player_id)
    [theirs] = store(notification_container, "someone-else")
    path = "/api/v1/notifications" + query.replace("THEIRS", theirs).replace("MINE", mine)
    refused = client.get(path, headers=player)
    assert refused.status_code == 422, path
    assert body(refused)["error"]["code"] == "VALIDATION_FAILED"
    assert client.get(f"/api/v1/notifications?before={mine}", headers=player).status_code == 200


def test_staff_read_a_players_notifications_but_cannot_mark_them(
    client: FlaskClient, notification_container: Container, minter: TokenMinter
) -> None:
    other = str(uuid.uuid4())
    [theirs] = store(notification_container, other)
    staff = bearer(minter.token("staff-1", role="staff"))
    listed = client.get(f"/api/v1/notifications?userId={other.upper()}", headers=staff)
    assert listed.status_code == 200
    assert body(listed)["user_id"] == other
    assert body(listed)["total"] == 1
    counted = client.get(f"/api/v1/notifications/unread-count?userId={other}", headers=staff)
    assert body(counted)["unreadCount"] == 1
    assert client.patch(f"/api/v1/notifications/{theirs}/read", headers=staff).status_code == 404
    # "Whose" is not a parameter of marking: refused, not ignored (which marked the staff
    # member's own notifications read instead).
    store(notification_container, "staff-1")
    for method, path in (
        ("post", f"/api/v1/notifications/read-all?userId={other}"),
        ("patch", f"/api/v1/notifications/{theirs}/read?userId={other}"),
    ):
        refused = client.open(path, method=method.upper(), headers=staff)
        assert refused.status_code == 422, path
        assert body(refused)["error"]["code"] == "VALIDATION_FAILED"
    # Nor in a body.
    for method, path in (
        ("post", "/api/v1/notifications/read-all"),
        ("patch", f"/api/v1/notifications/{theirs}/read"),
    ):
        refused = client.open(path, method=method.upper(), headers=staff, json={"userId": other})
        assert refused.status_code == 422, path
        assert body(refused)["error"]["code"] == "VALIDATION_FAILED"
    assert notification_container.notifications().count_unread(other) == 1
    assert notification_container.notifications().count_unread("staff-1") == 1


def test_staff_and_administrators_read_players_notifications_only(
    client: FlaskClient, notification_container: Container, minter: TokenMinter
) -> None:
    accounts = {role: str(uuid.uuid4()) for role in ("player", "staff", "admin")}
    notification_container.ingestion().ingest(
        [
            SourcedEvent(
                "notifications",
                IntegrationEvent(
                    "PASSWORD_CHANGED",
                    user_id,
                    {"content": {"changedAt": "2025-05-01T12:00:00.000Z"}, "role": role},
                ),
            )
            for role, user_id in accounts.items()
        ]
    )
    for reader in ("staff", "admin"):
        headers = bearer(minter.token(f"{reader}-1", role=reader))
        for role in ("staff", "admin"):
            # Like an id of no player (this service keeps no list of accounts).
            listed = client.get(f"/api/v1/notifications?userId={accounts[role]}", headers=headers)
            assert listed.status_code == 200
            assert (body(listed)["total"], body(listed)["notifications"]) == (0, [])
            counted = client.get(
                f"/api/v1/notifications/unread-count?userId={accounts[role]}", headers=headers
            )
            assert body(counted)["unreadCount"] == 0
        listed = client.get(f"/api/v1/notifications?userId={accounts['player']}", headers=headers)
        assert [n["type"] for n in body(listed)["notifications"]] == ["PASSWORD_CHANGED"]
    # The owner reads theirs.
    own = bearer(minter.token(accounts["admin"], role="admin"))
    assert body(client.get("/api/v1/notifications", headers=own))["total"] == 1
    assert body(client.get("/api/v1/notifications/unread-count", headers=own))["unreadCount"] == 1


@pytest.mark.parametrize(
    "user_id",
    [
        "not-a-uuid",
        "admin",
        "client:hotel",
        "%C3%A9%C3%A9",
        "%7B%22%24ne%22%3Anull%7D",
        "%20%20{id}",
        "{id}%20",
        "%7B{id}%7D",
        "{id}%0A",
        "{bare}",
    ],
)
def test_staff_naming_no_player_id_are_refused_not_shown_an_empty_list(
    client: FlaskClient, notification_container: Container, minter: TokenMinter, user_id: str
) -> None:
    player = str(uuid.uuid4())
    store(notification_container, player)
    query = user_id.format(id=player, bare=player.replace("-", ""))
    admin = bearer(minter.token("admin-1", role="admin"))
    for path in ("/api/v1/notifications", "/api/v1/notifications/unread-count"):
        refused = client.get(f"{path}?userId={query}", headers=admin)
        assert refused.status_code == 422, (path, query)
        assert body(refused)["error"]["code"] == "VALIDATION_FAILED"
        assert "userId" in str(body(refused)["error"]["details"])


@pytest.mark.parametrize("notification_id", ["not-an-id", "0" * 24, "z" * 24, "1" * 64, "%24where"])
def test_an_unknown_or_malformed_id_is_a_404_in_the_envelope(
    client: FlaskClient, player: dict[str, str], notification_id: str
) -> None:
    response = client.patch(f"/api/v1/notifications/{notification_id}/read", headers=player)
    assert response.status_code == 404
    assert body(response)["error"]["code"] == "NOTIFICATION_NOT_FOUND"
    assert body(response)["error"]["correlationId"]


@pytest.mark.parametrize(
    "query",
    [
        "pageSize=0",
        "pageSize=101",
        "page=0",
        # Numbers int() would take: other scripts' digits, underscores, spaces.
        "page=%EF%BC%92",
        "page=1_0",
        "pageSize=%2010",
        "unread=maybe",
        "unread=yes",
        "unread=1",
        "userId=" + "x" * 65,
        "color=red",
    ],
)
def test_bad_query_parameters_are_refused(
    client: FlaskClient, player: dict[str, str], query: str
) -> None:
    response = client.get(f"/api/v1/notifications?{query}", headers=player)
    assert response.status_code == 422
    assert body(response)["error"]["code"] == "VALIDATION_FAILED"


def test_tokens_are_checked_like_everywhere_else(
    client: FlaskClient, notification_container: Container, minter: TokenMinter
) -> None:
    assert client.get("/api/v1/notifications").status_code == 401
    forged = TokenMinter().token("player-1")
    response = client.get("/api/v1/notifications", headers=bearer(forged))
    assert response.status_code == 401
    assert body(response)["error"]["code"] == "TOKEN_INVALID"
    foreign_kid = TokenMinter()
    response = client.get(
        "/api/v1/notifications", headers=bearer(foreign_kid.token("p", kid=minter.kid))
    )
    assert response.status_code == 401
    expired = client.get("/api/v1/notifications", headers=bearer(minter.token("p", lifetime=-60)))
    assert body(expired)["error"]["code"] == "TOKEN_EXPIRED"
    partner = bearer(minter.token("hotel", role=None, scope="rewards.read"))
    assert client.get("/api/v1/notifications", headers=partner).status_code == 403
    # Only the socket reads the query string.
    in_query = client.get(f"/api/v1/notifications?access_token={minter.token('p')}")
    assert in_query.status_code == 401


def test_an_inactive_account_is_refused(
    client: FlaskClient,
    notification_container: Container,
    player: dict[str, str],
    player_id: str,
) -> None:
    notification_container.core.inactive_users().mark(player_id, True)
    response = client.get("/api/v1/notifications", headers=player)
    assert response.status_code == 401
    assert body(response)["error"]["code"] == "ACCOUNT_INACTIVE"


def test_the_socket_refuses_before_the_upgrade(client: FlaskClient, minter: TokenMinter) -> None:
    upgrade = {"Upgrade": "websocket", "Connection": "Upgrade"}
    plain = client.get("/api/v1/notifications/ws", headers=bearer(minter.token("p")))
    assert plain.status_code == 426
    assert body(plain)["error"]["code"] == "NOTIFICATION_WEBSOCKET_UPGRADE_REQUIRED"
    missing = client.get("/api/v1/notifications/ws", headers=upgrade)
    assert missing.status_code == 401
    forged = TokenMinter().token("p")
    response = client.get(f"/api/v1/notifications/ws?access_token={forged}", headers=upgrade)
    assert response.status_code == 401
    assert body(response)["error"]["code"] == "TOKEN_INVALID"
    staff = minter.token("s", role="staff")
    response = client.get("/api/v1/notifications/ws", headers={**upgrade, **bearer(staff)})
    assert response.status_code == 403
    assert body(response)["error"]["code"] == "NOTIFICATION_PLAYERS_ONLY"


def test_a_token_offered_as_a_subprotocol_is_checked_like_the_header(
    client: FlaskClient, minter: TokenMinter
) -> None:
    upgrade = {"Upgrade": "websocket", "Connection": "Upgrade"}

    def offering(*protocols: str) -> dict[str, str]:
        return {**upgrade, "Sec-WebSocket-Protocol": ", ".join(protocols)}

    forged = TokenMinter().token("p")
    response = client.get(
        "/api/v1/notifications/ws", headers=offering("loyalty.notifications.v1", f"bearer.{forged}")
    )
    assert response.status_code == 401
    assert body(response)["error"]["code"] == "TOKEN_INVALID"
    staff = minter.token("s", role="staff")
    response = client.get(
        "/api/v1/notifications/ws", headers=offering("loyalty.notifications.v1", f"bearer.{staff}")
    )
    assert body(response)["error"]["code"] == "NOTIFICATION_PLAYERS_ONLY"
    # A browser would drop a socket whose server chose none of its subprotocols.
    response = client.get(
        "/api/v1/notifications/ws", headers=offering(f"bearer.{minter.token('p')}")
    )
    assert response.status_code == 400
    assert body(response)["error"]["code"] == "NOTIFICATION_WEBSOCKET_PROTOCOL_REQUIRED"
    # The header wins over the subprotocol.
    response = client.get(
        "/api/v1/notifications/ws",
        headers={
            **offering("loyalty.notifications.v1", f"bearer.{minter.token('p')}"),
            **bearer(staff),
        },
    )
    assert body(response)["error"]["code"] == "NOTIFICATION_PLAYERS_ONLY"


def test_readiness_checks_mongodb_redis_and_the_live_channel(client: FlaskClient) -> None:
    response = client.get("/health/ready")
    assert response.status_code == 200, body(response)
    assert set(body(response)["checks"]) == {"mongodb", "redis", "live_channel"}


def test_swagger_lists_every_route_with_its_schemas_and_errors(client: FlaskClient) -> None:
    spec = body(client.get("/notification/openapi.json"))
    assert unreadable_summaries(spec) == []
    paths = spec["paths"]
    expected = {
        ("/api/v1/notifications", "get"): {"200", "401", "403", "422"},
        ("/api/v1/notifications/unread-count", "get"): {"200", "401", "403", "422"},
        ("/api/v1/notifications/{notification_id}/read", "patch"): {
            "200",
            "401",
            "403",
            "404",
            "422",
        },
        ("/api/v1/notifications/read-all", "post"): {"200", "401", "403", "422"},
        ("/api/v1/notifications/ws", "get"): {"101", "401", "403", "426"},
    }
    for (path, method), statuses in expected.items():
        operation = paths[path][method]
        assert statuses <= set(operation["responses"]), (path, method)
        assert operation["security"][0] == {"bearerAuth": []}
        for status in statuses - {"101"}:
            content = operation["responses"][status]["content"]["application/json"]
            assert "$ref" in content["schema"] or content["schema"]
    for path in ("/api/v1/notifications", "/api/v1/notifications/unread-count"):
        [user_id] = [p for p in paths[path]["get"]["parameters"] if p["name"] == "userId"]
        assert user_id["schema"]["format"] == "uuid"
        assert re.fullmatch(user_id["schema"]["pattern"].strip("^$"), str(uuid.uuid4()).upper())
    schemas = spec["components"]["schemas"]
    assert "ErrorEnvelope" in schemas
    assert {"Notification", "NotificationList", "UnreadCount", "MarkedRead"} <= set(schemas)
    ui = client.get("/notification/api-docs")
    assert ui.status_code == 200
    assert b"swagger" in ui.data.lower()


def test_the_warm_up_reaches_every_dependency_before_traffic(notification_app: Flask) -> None:
    # Gunicorn runs these in each fresh worker before it accepts requests; called one by one
    # here, a dependency the step cannot reach raises instead of being logged.
    steps = notification_app.extensions["warm_up"].args[0]
    # The tests' keys are static, so there is no JWKS to fetch.
    assert [step.name for step in steps] == ["mongodb", "redis", "inactive_users"]
    for step in steps:
        step.run()


def test_a_malformed_handshake_is_the_clients_error(
    client: FlaskClient, minter: TokenMinter
) -> None:
    upgrade = {"Upgrade": "websocket", "Connection": "Upgrade", **bearer(minter.token("p"))}
    no_key = client.get(
        "/api/v1/notifications/ws", headers={**upgrade, "Sec-WebSocket-Version": "13"}
    )
    assert no_key.status_code == 400
    assert body(no_key)["error"]["code"] == "NOTIFICATION_WEBSOCKET_HANDSHAKE_INVALID"
    bad_key = client.get(
        "/api/v1/notifications/ws",
        headers={**upgrade, "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "not base64!"},
    )
    assert bad_key.status_code == 400
    old = client.get(
        "/api/v1/notifications/ws",
        headers={
            **upgrade,
            "Sec-WebSocket-Version": "8",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        },
    )
    assert old.status_code == 426
    assert old.headers["Sec-WebSocket-Version"] == "13"
    assert body(old)["error"]["code"] == "NOTIFICATION_WEBSOCKET_UPGRADE_REQUIRED"
    # Token lists the library decodes as ASCII (a 500 before).
    valid = {
        **upgrade,
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
    }
    for name, value in (
        ("Sec-WebSocket-Protocol", "\u00e9"),
        ("Sec-WebSocket-Extensions", "\u00e9"),
        ("Connection", "Upgrade, \u00e9"),
    ):
        refused = client.get("/api/v1/notifications/ws", headers={**valid, name: value})
        assert refused.status_code == 400, name
        assert body(refused)["error"]["code"] == "NOTIFICATION_WEBSOCKET_HANDSHAKE_INVALID"


def test_a_player_naming_themself_in_capitals_reads_their_own(
    client: FlaskClient, notification_container: Container, minter: TokenMinter
) -> None:
    me = str(uuid.uuid4())
    store(notification_container, me)
    headers = bearer(minter.token(me))
    listed = client.get(f"/api/v1/notifications?userId={me.upper()}", headers=headers)
    assert listed.status_code == 200
    assert body(listed)["user_id"] == me
    counted = client.get(f"/api/v1/notifications/unread-count?userId={me.upper()}", headers=headers)
    assert body(counted)["unreadCount"] == 1
