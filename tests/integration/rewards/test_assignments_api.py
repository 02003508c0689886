"""Assigning promotions and reading a player's promotions, against PostgreSQL: one row per
player and promotion, one PROMOTION notification per new assignment, in the outbox."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from dependency_injector import providers

from rewards_service.container import Container
from shared.messaging.schemas import event_schemas
from tests.integration.rewards.conftest import (
    ApiClient,
    Tokens,
    add_players,
    create_promotion,
    outbox_messages,
)
from tests.unit.rewards.fakes import FakeWallet

NOW = datetime.now(UTC)


def assign(client: ApiClient, headers: dict[str, str], promotion_id: str, ids: list[str]) -> Any:
    return client.post(
        f"/api/v1/promotions/{promotion_id}/assign", json={"playerIds": ids}, headers=headers
    )


@pytest.fixture
def wallet(rewards_container: Container) -> Iterator[FakeWallet]:
    """Claims over the API credit this wallet instead of redeem's gRPC server."""
    fake = FakeWallet()
    rewards_container.wallet.override(providers.Object(fake))
    yield fake
    rewards_container.wallet.reset_override()


def claim(client: ApiClient, headers: dict[str, str], promotion_id: str) -> Any:
    return client.post(
        "/api/v1/promotions/claim", json={"promotionId": promotion_id}, headers=headers
    )


def test_assign_reports_new_and_existing_holders_and_notifies_only_the_new(
    client: ApiClient, staff: dict[str, str], rewards_container: Container
) -> None:
    promotion = create_promotion(client, staff, type="BONUS", title="Birthday bonus")
    first, second, third = add_players(rewards_container, 3)

    response = assign(client, staff, promotion["id"], [first, second, first])
    assert response.status_code == 200, response.json
    assert sorted(response.json["assigned"]) == sorted([first, second])
    assert response.json["alreadyAssigned"] == []

    again = assign(client, staff, promotion["id"], [second, third])
    assert again.json["assigned"] == [third]
    assert again.json["alreadyAssigned"] == [second]

    messages = outbox_messages(rewards_container)
    assert sorted(m["user_id"] for m in messages) == sorted([first, second, third])
    for message in messages:
        assert message["topic"] == "notifications"
        assert message["eventType"] == "PROMOTION"
        assert message["content"]["promotionId"] == promotion["id"]
        assert message["content"]["amount"] == promotion["amount"]
        assert message["content"]["source"] == "STAFF"
        event_schemas().validate({k: v for k, v in message.items() if k != "topic"})


def test_only_a_running_promotion_can_be_assigned(
    client: ApiClient, staff: dict[str, str], rewards_container: Container
) -> None:
    (player,) = add_players(rewards_container)
    inactive = create_promotion(client, staff, isActive=False)
    expired = create_promotion(
        client,
        staff,
        startDate=(NOW - timedelta(days=10)).isoformat(),
        endDate=(NOW - timedelta(days=1)).isoformat(),
    )
    upcoming = create_promotion(
        client,
        staff,
        startDate=(NOW + timedelta(days=1)).isoformat(),
        endDate=(NOW + timedelta(days=10)).isoformat(),
    )
    for promotion, reason in [
        (inactive, "inactive"),
        (expired, "ended"),
        (upcoming, "not started"),
    ]:
        response = assign(client, staff, promotion["id"], [player])
        assert response.status_code == 409
        assert response.json["error"]["code"] == "REWARDS_PROMOTION_NOT_ASSIGNABLE"
        assert reason in response.json["error"]["message"]
    assert outbox_messages(rewards_container) == []


def test_unknown_players_refuse_the_whole_assignment_with_their_ids(
    client: ApiClient, staff: dict[str, str], rewards_container: Container
) -> None:
    promotion = create_promotion(client, staff)
    (known,) = add_players(rewards_container)
    stranger = str(uuid.uuid4())
    response = assign(client, staff, promotion["id"], [known, stranger])
    assert response.status_code == 422
    assert response.json["error"]["code"] == "REWARDS_UNKNOWN_PLAYERS"
    assert response.json["error"]["details"] == {"unknownPlayerIds": [stranger]}
    assert outbox_messages(rewards_container) == []
    player_view = client.get(f"/api/v1/promotions/players/{known}", headers=staff)
    assert player_view.json["total"] == 0
    # An id that is nobody's: not an empty list a mistyped id would pass for.
    nobody = client.get(f"/api/v1/promotions/players/{stranger}", headers=staff)
    assert nobody.status_code == 404
    assert nobody.json["error"]["code"] == "REWARDS_PLAYER_NOT_FOUND"


def test_a_deactivated_player_is_offered_no_promotion(
    client: ApiClient, staff: dict[str, str], rewards_container: Container
) -> None:
    promotion = create_promotion(client, staff)
    active, excluded = add_players(rewards_container, 2)
    inactive_users = rewards_container.core.inactive_users()
    inactive_users.mark(excluded, inactive=True)
    try:
        response = assign(client, staff, promotion["id"], [active, excluded])
    finally:
        inactive_users.mark(excluded, inactive=False)
    assert response.status_code == 422
    assert response.json["error"]["code"] == "REWARDS_INACTIVE_PLAYERS"
    assert response.json["error"]["details"] == {"inactivePlayerIds": [excluded]}
    assert outbox_messages(rewards_container) == []  # nobody notified, nothing assigned
    assert assign(client, staff, promotion["id"], [active, excluded]).status_code == 200


def test_assignment_requests_are_validated_and_bounded(
    client: ApiClient, staff: dict[str, str], tokens: Tokens
) -> None:
    promotion = create_promotion(client, staff)
    too_many = [str(uuid.uuid4()) for _ in range(501)]
    for body in [
        {"playerIds": []},
        {"playerIds": ["not-a-uuid"]},
        {"playerIds": too_many},
        {"players": [str(uuid.uuid4())]},
    ]:
        response = client.post(
            f"/api/v1/promotions/{promotion['id']}/assign", json=body, headers=staff
        )
        assert response.status_code == 422, body
    missing = assign(client, staff, str(uuid.uuid4()), [str(uuid.uuid4())])
    assert missing.status_code == 404
    player = tokens.headers(str(uuid.uuid4()), "player")
    assert assign(client, player, promotion["id"], [str(uuid.uuid4())]).status_code == 403


def test_the_limit_counts_the_list_as_sent_and_a_repeated_player_is_assigned_once(
    client: ApiClient, staff: dict[str, str], rewards_container: Container
) -> None:
    promotion = create_promotion(client, staff)
    (player,) = add_players(rewards_container)
    repeated = assign(client, staff, promotion["id"], [player] * 501)
    assert repeated.status_code == 422
    assert "playerIds" in repeated.json["error"]["details"]["json"]
    thrice = assign(client, staff, promotion["id"], [player] * 3)
    assert (thrice.json["assigned"], thrice.json["alreadyAssigned"]) == ([player], [])
    # What the API documents says so.
    spec = client.get("/rewards/openapi.json").json
    ids = spec["components"]["schemas"]["Assign"]["properties"]["playerIds"]
    assert ids["maxItems"] == 500
    assert "as sent" in ids["description"]


def test_concurrent_assignments_of_the_same_players_assign_each_once(
    client: ApiClient, staff: dict[str, str], rewards_container: Container
) -> None:
    promotion = create_promotion(client, staff)
    players = add_players(rewards_container, 20)
    service = rewards_container.promotion_service()
    from shared.domain.principal import Principal, Role

    actor = Principal(subject=str(uuid.uuid4()), role=Role.STAFF)
    results: list[Any] = []
    errors: list[BaseException] = []

    def run(ids: list[str]) -> None:
        try:
            results.append(service.assign(promotion["id"], ids, actor))
        except BaseException as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=run, args=(list(reversed(players)) if i % 2 else players,))
        for i in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assigned = [p for result in results for p in result.assigned]
    assert sorted(assigned) == sorted(players)
    assert len(outbox_messages(rewards_container)) == len(players)


def test_assigning_a_promotion_while_its_holder_claims_it_does_not_deadlock(
    client: ApiClient, staff: dict[str, str], rewards_container: Container
) -> None:
    # The claim of an unlimited promotion updates the assignment, then counts itself on the
    # promotion row. Staff assigning the promotion again (to its holder and a newcomer) held
    # the promotion's share lock and waited on that updated assignment: a deadlock, with the
    # wallet's credit already made for a claim that was then rolled back.
    from rewards_service.adapters.persistence.unit_of_work import SqlAlchemyRewardsUnitOfWork
    from shared.domain.principal import Principal, Role
    from tests.unit.rewards.fakes import FakeWallet

    promotion = create_promotion(client, staff)
    holder, newcomer = add_players(rewards_container, 2)
    assert assign(client, staff, promotion["id"], [holder]).status_code == 200
    core = rewards_container.core
    counting, go_on = threading.Event(), threading.Event()

    class PausesBeforeCounting(SqlAlchemyRewardsUnitOfWork):
        def _bind(self, connection: Any) -> None:
            super()._bind(connection)
            count_claim = self.promotions.count_claim

            def paused(promotion_id: str, within_limit: bool = True) -> bool:
                counting.set()
                go_on.wait(30)
                return count_claim(promotion_id, within_limit)

            self.promotions.count_claim = paused  # type: ignore[method-assign]

    wallet = FakeWallet()
    claims = rewards_container.claim_service(
        uow=lambda: PausesBeforeCounting(core.database(), core.schemas()), wallet=wallet
    )
    outcome: dict[str, Any] = {}

    def claim() -> None:
        try:
            outcome["claim"] = claims.claim(holder, promotion["id"])
        except BaseException as exc:
            outcome["claim"] = exc

    def assign_again() -> None:
        try:
            actor = Principal(subject=str(uuid.uuid4()), role=Role.STAFF)
            service = rewards_container.promotion_service()
            outcome["assign"] = service.assign(promotion["id"], [holder, newcomer], actor)
        except BaseException as exc:
            outcome["assign"] = exc

    claiming = threading.Thread(target=claim)
    claiming.start()
    try:
        assert counting.wait(30)
        assigning = threading.Thread(target=assign_again)
        assigning.start()
        assigning.join(5)
    finally:
        go_on.set()
        claiming.join(30)
    assigning.join(30)
    assert not isinstance(outcome["claim"], BaseException), outcome["claim"]
    assert not isinstance(outcome["assign"], BaseException), outcome["assign"]
    assert outcome["assign"].assigned == [newcomer]
    assert outcome["assign"].already_assigned == [holder]
    assert outcome["claim"].assignment.claim_count == 1
    assert wallet.calls == 1


def test_a_deactivation_waits_for_the_claims_in_flight_and_none_is_recorded_after_it(
    client: ApiClient, staff: dict[str, str], rewards_container: Container
) -> None:
    from rewards_service.application.commands import RevisePromotion
    from rewards_service.domain.exceptions import PromotionNotClaimable

    promotion = create_promotion(client, staff)  # no maxClaims: claims lock nothing else
    first, second = add_players(rewards_container, 2)
    assert assign(client, staff, promotion["id"], [first, second]).status_code == 200
    calling, go_on = threading.Event(), threading.Event()

    class SlowWallet(FakeWallet):
        def credit_bonus(self, *args: Any, **kwargs: Any) -> Any:
            calling.set()
            go_on.wait(30)
            return super().credit_bonus(*args, **kwargs)

    claims = rewards_container.claim_service(wallet=SlowWallet())
    outcome: dict[str, Any] = {}

    def run(name: str, call: Any) -> threading.Thread:
        def target() -> None:
            try:
                outcome[name] = call()
            except BaseException as exc:
                outcome[name] = exc

        thread = threading.Thread(target=target)
        thread.start()
        return thread

    claiming = run("claim", lambda: claims.claim(first, promotion["id"]))
    try:
        assert calling.wait(30)
        revise = rewards_container.promotion_service().revise
        deactivating = run(
            "deactivate", lambda: revise(promotion["id"], RevisePromotion(is_active=False))
        )
        deactivating.join(1.5)
        assert deactivating.is_alive(), "the deactivation did not wait for the claim in flight"
    finally:
        go_on.set()
        claiming.join(30)
    deactivating.join(30)
    assert outcome["claim"].assignment.claim_count == 1
    assert outcome["deactivate"].claims_count == 1  # it saw the claim it waited for
    with pytest.raises(PromotionNotClaimable):
        claims.claim(second, promotion["id"])


def test_concurrent_claims_of_a_promotion_with_a_total_limit_all_go_through(
    client: ApiClient, staff: dict[str, str], rewards_container: Container
) -> None:
    from sqlalchemy.exc import OperationalError

    promotion = create_promotion(client, staff, maxClaims=1000, maxClaimsPerPlayer=10)
    players = add_players(rewards_container, 6)
    assert assign(client, staff, promotion["id"], players).status_code == 200
    claims = rewards_container.claim_service(wallet=FakeWallet())
    start = threading.Barrier(len(players))
    failures: list[str] = []

    def run(player: str) -> None:
        start.wait()
        for _ in range(5):
            try:
                claims.claim(player, promotion["id"])
            except OperationalError as exc:  # a deadlock, as it was
                failures.append(str(exc.orig).splitlines()[0])

    threads = [threading.Thread(target=run, args=(p,)) for p in players]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert failures == []
    counted = client.get(f"/api/v1/promotions/{promotion['id']}", headers=staff).json
    assert counted["claimsCount"] == 30


def test_a_deactivation_is_not_starved_by_a_stream_of_claims(
    client: ApiClient, staff: dict[str, str], rewards_container: Container
) -> None:
    import time

    from rewards_service.application.commands import RevisePromotion

    class SlowWallet(FakeWallet):
        def credit_bonus(self, *args: Any, **kwargs: Any) -> Any:
            time.sleep(0.2)  # 100 claims a player: longer than the statement timeout
            return super().credit_bonus(*args, **kwargs)

    promotion = create_promotion(client, staff, maxClaimsPerPlayer=100)
    players = add_players(rewards_container, 4)
    assert assign(client, staff, promotion["id"], players).status_code == 200
    claims = rewards_container.claim_service(wallet=SlowWallet())
    stop = threading.Event()

    def run(player: str, delay: float) -> None:
        time.sleep(delay)
        while not stop.is_set():  # overlapping claims, until the promotion is refused
            try:
                claims.claim(player, promotion["id"])
            except Exception:  # refused once inactive
                return

    threads = [threading.Thread(target=run, args=(p, i * 0.03)) for i, p in enumerate(players)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(0.5)
        # Row locks let each new claim overtake a waiting deactivation: it waited until its
        # statement timeout (a 503) for as long as claims kept coming.
        revised = rewards_container.promotion_service().revise(
            promotion["id"], RevisePromotion(is_active=False)
        )
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
    assert revised.is_active is False


def test_players_read_their_own_promotions_with_computed_status(
    client: ApiClient, staff: dict[str, str], tokens: Tokens, rewards_container: Container
) -> None:
    player, other = add_players(rewards_container, 2)
    running = create_promotion(client, staff, title="Running", type="FREE_SPINS")
    to_deactivate = create_promotion(client, staff, title="Soon inactive", type="BONUS")
    for promotion in (running, to_deactivate):
        assert assign(client, staff, promotion["id"], [player]).status_code == 200
    client.patch(
        f"/api/v1/promotions/{to_deactivate['id']}", json={"isActive": False}, headers=staff
    )
    headers = tokens.headers(player, "player")

    response = client.get(f"/api/v1/promotions/players/{player}", headers=headers)
    assert response.status_code == 200
    assert response.json["total"] == 2
    by_title = {i["promotion"]["title"]: i for i in response.json["items"]}
    assert by_title["Running"]["status"] == "ASSIGNED"
    assert by_title["Running"]["claimsRemaining"] == 1
    assert by_title["Running"]["source"] == "STAFF"
    assert by_title["Running"]["promotion"]["amount"] == running["amount"]
    assert by_title["Soon inactive"]["status"] == "EXPIRED"
    assert by_title["Soon inactive"]["claimsRemaining"] == 0

    def titles(query: str) -> list[str]:
        page = client.get(f"/api/v1/promotions/players/{player}?{query}", headers=headers)
        assert page.status_code == 200, page.json
        return [i["promotion"]["title"] for i in page.json["items"]]

    assert titles("status=EXPIRED") == ["Soon inactive"]
    assert titles("status=ASSIGNED") == ["Running"]
    assert titles("status=CLAIMED") == []
    assert titles("type=FREE_SPINS") == ["Running"]
    assert len(titles("pageSize=1")) == 1
    assert (
        client.get(f"/api/v1/promotions/players/{player}?status=LOST", headers=headers).status_code
        == 422
    )

    # The player may open a promotion they hold, not one they do not.
    assert client.get(f"/api/v1/promotions/{running['id']}", headers=headers).status_code == 200
    not_held = create_promotion(client, staff)
    assert client.get(f"/api/v1/promotions/{not_held['id']}", headers=headers).status_code == 404

    # Reading somebody else's promotions is forbidden; staff read anyone's.
    forbidden = client.get(f"/api/v1/promotions/players/{other}", headers=headers)
    assert forbidden.status_code == 403
    assert forbidden.json["error"]["code"] == "FORBIDDEN"
    assert client.get(f"/api/v1/promotions/players/{player}", headers=staff).json["total"] == 2


def test_moving_the_end_date_back_into_the_future_revives_an_expired_assignment(
    client: ApiClient, staff: dict[str, str], rewards_container: Container
) -> None:
    (player,) = add_players(rewards_container)
    promotion = create_promotion(client, staff)
    assign(client, staff, promotion["id"], [player])
    client.patch(
        f"/api/v1/promotions/{promotion['id']}",
        json={"endDate": (NOW - timedelta(hours=1)).isoformat()},
        headers=staff,
    )
    url = f"/api/v1/promotions/players/{player}"
    assert client.get(url, headers=staff).json["items"][0]["status"] == "EXPIRED"
    client.patch(
        f"/api/v1/promotions/{promotion['id']}",
        json={"endDate": (NOW + timedelta(days=3)).isoformat()},
        headers=staff,
    )
    assert client.get(url, headers=staff).json["items"][0]["status"] == "ASSIGNED"


def test_a_promotion_out_of_claims_is_not_assigned_and_not_offered_to_its_holders(
    client: ApiClient,
    staff: dict[str, str],
    tokens: Tokens,
    rewards_container: Container,
    wallet: FakeWallet,
) -> None:
    first, second, late = add_players(rewards_container, 3)
    promotion = create_promotion(client, staff, maxClaims=1)
    assert assign(client, staff, promotion["id"], [first, second]).status_code == 200
    assert claim(client, tokens.headers(first, "player"), promotion["id"]).status_code == 200
    notified = len(outbox_messages(rewards_container))

    refused = assign(client, staff, promotion["id"], [late])
    assert refused.status_code == 409, refused.json
    assert refused.json["error"]["code"] == "REWARDS_PROMOTION_NOT_ASSIGNABLE"
    assert "maximum number of claims" in refused.json["error"]["message"]
    assert len(outbox_messages(rewards_container)) == notified
    late_view = client.get(f"/api/v1/promotions/players/{late}", headers=staff)
    assert late_view.json["total"] == 0

    # The other holder is not offered what a claim would refuse: the SQL filter agrees.
    headers = tokens.headers(second, "player")
    url = f"/api/v1/promotions/players/{second}"
    [item] = client.get(url, headers=headers).json["items"]
    assert (item["status"], item["claimsRemaining"]) == ("EXPIRED", 0)
    assert client.get(f"{url}?status=ASSIGNED", headers=headers).json["total"] == 0
    assert client.get(f"{url}?status=EXPIRED", headers=headers).json["total"] == 1
    too_late = claim(client, headers, promotion["id"])
    assert too_late.status_code == 409
    assert too_late.json["error"]["code"] == "REWARDS_CLAIM_LIMIT_REACHED"
    assert wallet.calls == 1


def test_a_promotion_moved_into_the_future_is_held_with_nothing_to_claim_yet(
    client: ApiClient,
    staff: dict[str, str],
    tokens: Tokens,
    rewards_container: Container,
    wallet: FakeWallet,
) -> None:
    (player,) = add_players(rewards_container)
    promotion = create_promotion(client, staff)
    assign(client, staff, promotion["id"], [player])
    moved = client.patch(
        f"/api/v1/promotions/{promotion['id']}",
        json={"startDate": (datetime.now(UTC) + timedelta(days=1)).isoformat()},
        headers=staff,
    )
    assert moved.status_code == 200, moved.json

    headers = tokens.headers(player, "player")
    url = f"/api/v1/promotions/players/{player}"
    [item] = client.get(f"{url}?status=ASSIGNED", headers=headers).json["items"]
    assert (item["status"], item["claimsRemaining"]) == ("ASSIGNED", 0)
    assert client.get(f"{url}?status=EXPIRED", headers=headers).json["total"] == 0
    early = claim(client, headers, promotion["id"])
    assert early.status_code == 409
    assert early.json["error"]["code"] == "REWARDS_PROMOTION_NOT_CLAIMABLE"
    assert wallet.calls == 0
