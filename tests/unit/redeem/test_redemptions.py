"""Redemptions with in-memory adapters: who may ask, idempotency per caller, decisions in event
order, replays, and who may read them."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from redeem_service.application.commands import DecideRedemption, RequestRedemption
from redeem_service.application.points import PointsService
from redeem_service.application.redemptions import RedemptionDecisions, RedemptionService
from redeem_service.domain.exceptions import (
    InvalidRedemption,
    RedemptionConflict,
    RedemptionKeyReused,
    RedemptionNotFound,
)
from redeem_service.domain.model import PointsAward, TransactionSource, TransactionType
from redeem_service.domain.redemption import (
    Merchant,
    RedemptionChannel,
    RedemptionStatus,
    RejectionReason,
    request_fingerprint,
)
from shared.application.events import Topic
from shared.domain.clock import FixedClock
from shared.domain.exceptions import PermissionDenied
from shared.domain.pagination import PageRequest
from shared.domain.principal import Principal, Role
from tests.support.tokens import SetOfInactiveUsers
from tests.unit.redeem.fakes import (
    FakeUnitOfWork,
    InMemoryRedemptionIntake,
    Store,
    ledger_total,
)

NOW = datetime(2026, 1, 1, tzinfo=UTC)
PLAYER = Principal(subject="p1", role=Role.PLAYER)
OTHER_PLAYER = Principal(subject="p2", role=Role.PLAYER)
STAFF = Principal(subject="staff-1", role=Role.STAFF)
HOTEL = Principal(subject="hotel", client_id="hotel", scopes=frozenset({"rewards.redeem"}))
CASINO = Principal(subject="casino", client_id="casino", scopes=frozenset({"rewards.redeem"}))
READ_ONLY = Principal(subject="dining", client_id="dining", scopes=frozenset({"rewards.read"}))


@pytest.fixture
def store() -> Store:
    return Store()


@pytest.fixture
def inactive() -> SetOfInactiveUsers:
    return SetOfInactiveUsers()


@pytest.fixture
def service(store: Store) -> RedemptionService:
    return RedemptionService(
        lambda: FakeUnitOfWork(store), InMemoryRedemptionIntake(store), FixedClock(NOW)
    )


@pytest.fixture
def decisions(store: Store, inactive: SetOfInactiveUsers) -> RedemptionDecisions:
    return RedemptionDecisions(lambda: FakeUnitOfWork(store), FixedClock(NOW), inactive)


def earn(store: Store, player: str, points: int) -> None:
    PointsService(lambda: FakeUnitOfWork(store), FixedClock(NOW)).award(
        [PointsAward(player, points, str(uuid.uuid4()), "DINING")]
    )


def ask(points: int = 100, key: str = "k-1", **extra: object) -> RequestRedemption:
    return RequestRedemption(
        points=points,
        reward_description="Dinner for two",
        idempotency_key=key,
        **extra,  # type: ignore[arg-type]
    )


def requested(store: Store) -> list[DecideRedemption]:
    """The REDEEM_REQUESTED events in the outbox, as the consumer would hand them over."""
    return [
        DecideRedemption(
            redeem_request_id=e.data["redeemRequestId"],
            player_id=e.user_id,
            points=e.data["points"],
            reward_description=e.data["rewardDescription"],
            event_id=e.event_id,
            requested_by=e.data.get("requestedBy"),
            merchant=Merchant.from_dict(e.data.get("merchant")),
        )
        for topic, e in store.outbox
        if topic is Topic.REDEEM_EVENTS
    ]


def outcomes(store: Store) -> list[dict[str, object]]:
    return [
        {"type": e.event_type, **e.data}
        for topic, e in store.outbox
        if topic is Topic.REDEEM_CONFIRMED
    ]


# -- asking -------------------------------------------------------------------------------------


def test_a_player_asks_for_themself_and_the_request_is_pending_with_its_event(
    service: RedemptionService, store: Store
) -> None:
    receipt = service.request(ask(merchant=Merchant("dining", "Steakhouse")), PLAYER)
    assert not receipt.replayed
    redemption = receipt.redemption
    assert (redemption.player_id, redemption.status) == ("p1", RedemptionStatus.PENDING)
    assert redemption.requested_by == "p1"
    assert redemption.channel is RedemptionChannel.API
    [(topic, event)] = store.outbox
    assert topic is Topic.REDEEM_EVENTS
    assert event.event_type == "REDEEM_REQUESTED"
    assert event.user_id == "p1"
    assert event.data["redeemRequestId"] == redemption.id
    assert event.data["merchant"] == {"partnerId": "dining", "location": "Steakhouse"}


def test_the_same_key_and_body_answer_with_the_first_request(
    service: RedemptionService, store: Store
) -> None:
    first = service.request(ask(), PLAYER)
    again = service.request(ask(player_id="p1"), PLAYER)  # naming oneself is the same request
    assert again.replayed
    assert again.redemption.id == first.redemption.id
    assert len(store.outbox) == 1


def test_the_same_key_with_another_body_is_refused(service: RedemptionService) -> None:
    service.request(ask(points=100), PLAYER)
    with pytest.raises(RedemptionKeyReused):
        service.request(ask(points=101), PLAYER)


def test_keys_belong_to_their_caller(service: RedemptionService, store: Store) -> None:
    mine = service.request(ask(key="same"), PLAYER)
    hotel = service.request(ask(key="same", player_id="p1"), HOTEL)
    assert mine.redemption.id != hotel.redemption.id
    assert hotel.redemption.requested_by == "hotel"
    assert len(store.redemptions) == 2


@pytest.mark.parametrize(
    ("caller", "command", "error"),
    [
        (PLAYER, ask(player_id="p2"), PermissionDenied),
        (STAFF, ask(player_id="p1"), PermissionDenied),
        (READ_ONLY, ask(player_id="p1"), PermissionDenied),
        (HOTEL, ask(), InvalidRedemption),
        (PLAYER, ask(points=0), InvalidRedemption),
        (PLAYER, ask(points=10_000_001), InvalidRedemption),
    ],
)
def test_requests_that_may_not_be_made(
    service: RedemptionService,
    store: Store,
    caller: Principal,
    command: RequestRedemption,
    error: type,
) -> None:
    with pytest.raises(error):
        service.request(command, caller)
    assert store.redemptions == {}
    assert store.outbox == []


# -- deciding -----------------------------------------------------------------------------------


def test_a_request_within_the_balance_is_confirmed_with_its_debit(
    service: RedemptionService, decisions: RedemptionDecisions, store: Store
) -> None:
    earn(store, "p1", 250)
    receipt = service.request(ask(points=100), PLAYER)
    result = decisions.decide(requested(store))
    [decided] = result.decided
    assert decided.status is RedemptionStatus.CONFIRMED
    assert decided.points_balance == 150
    debit = store.transactions[-1]
    assert (debit.kind, debit.source) == (TransactionType.DEBIT, TransactionSource.REDEMPTION)
    assert debit.idempotency_key == f"redeem:{receipt.redemption.id}"
    assert decided.transaction_id == debit.id
    assert store.wallets["p1"].points == 150 == ledger_total(store, "p1", "POINTS")
    [outcome] = outcomes(store)
    assert outcome["type"] == "REDEMPTION_CONFIRMED"
    assert outcome["pointsBalance"] == 150
    assert outcome["transactionId"] == debit.id


def test_a_player_s_requests_are_decided_in_order_and_never_overdraw(
    service: RedemptionService, decisions: RedemptionDecisions, store: Store
) -> None:
    earn(store, "p1", 100)
    for index in range(3):
        service.request(ask(points=40, key=f"k-{index}"), PLAYER)
    result = decisions.decide(requested(store))
    assert [r.status for r in result.decided] == [
        RedemptionStatus.CONFIRMED,
        RedemptionStatus.CONFIRMED,
        RedemptionStatus.REJECTED,
    ]
    rejected = result.decided[2]
    assert rejected.reason is RejectionReason.INSUFFICIENT_POINTS
    assert rejected.points_balance == 20
    assert rejected.rejection_message is not None
    assert "20" in rejected.rejection_message
    assert store.wallets["p1"].points == 20 == ledger_total(store, "p1", "POINTS")
    assert [o["type"] for o in outcomes(store)] == [
        "REDEMPTION_CONFIRMED",
        "REDEMPTION_CONFIRMED",
        "REDEMPTION_REJECTED",
    ]


def test_a_player_without_points_or_below_zero_is_rejected(
    service: RedemptionService, decisions: RedemptionDecisions, store: Store
) -> None:
    earn(store, "p2", -30)  # a reversal took back points already spent
    store.players["p1"] = NOW  # registered, no wallet yet
    service.request(ask(points=1), PLAYER)
    service.request(ask(points=1, key="other"), OTHER_PLAYER)
    result = decisions.decide(requested(store))
    assert {(r.player_id, r.reason, r.points_balance) for r in result.decided} == {
        ("p1", RejectionReason.INSUFFICIENT_POINTS, 0),
        ("p2", RejectionReason.INSUFFICIENT_POINTS, -30),
    }
    assert "p1" not in store.wallets
    assert store.wallets["p2"].points == -30


def test_a_player_asking_before_the_wallet_heard_of_them_is_short_of_points_not_unknown(
    service: RedemptionService, decisions: RedemptionDecisions, store: Store
) -> None:
    # Registered a moment ago: their token vouches for them before the registration reaches
    # the wallet. "No player has this id" would be wrong; they simply have no points yet.
    service.request(ask(points=5), PLAYER)
    [decided] = decisions.decide(requested(store)).decided
    assert (decided.player_id, decided.reason) == ("p1", RejectionReason.INSUFFICIENT_POINTS)


def test_an_event_naming_its_player_as_requester_does_not_vouch_for_them(
    decisions: RedemptionDecisions, store: Store
) -> None:
    # Produced straight to redeem-events, requestedBy is whatever the producer wrote: only the
    # API knows that a player asked with their own token.
    event = DecideRedemption(
        redeem_request_id=str(uuid.uuid4()),
        player_id="ghost-x2",
        points=5,
        reward_description="Show tickets",
        event_id=str(uuid.uuid4()),
        requested_by="ghost-x2",
    )
    [decided] = decisions.decide([event]).decided
    assert (decided.player_id, decided.reason) == ("ghost-x2", RejectionReason.UNKNOWN_PLAYER)
    assert decided.rejection_message == "No player has this id."


def test_a_partner_s_request_for_an_id_no_player_has_is_rejected_as_such(
    service: RedemptionService, decisions: RedemptionDecisions, store: Store
) -> None:
    # Not "insufficient points" with a balance of 0: the partner mistyped the id.
    store.players["p1"] = NOW
    service.request(ask(points=5, player_id="p1"), HOTEL)
    service.request(ask(points=5, player_id="nobody", key="k-2"), HOTEL)
    result = decisions.decide(requested(store))
    assert {(r.player_id, r.reason) for r in result.decided} == {
        ("p1", RejectionReason.INSUFFICIENT_POINTS),
        ("nobody", RejectionReason.UNKNOWN_PLAYER),
    }
    unknown = next(r for r in result.decided if r.player_id == "nobody")
    assert unknown.rejection_message == "No player has this id."
    assert "nobody" not in store.wallets
    assert {o["reason"] for o in outcomes(store)} == {"INSUFFICIENT_POINTS", "UNKNOWN_PLAYER"}


def test_an_inactive_player_s_request_is_rejected(
    service: RedemptionService,
    decisions: RedemptionDecisions,
    store: Store,
    inactive: SetOfInactiveUsers,
) -> None:
    earn(store, "p1", 500)
    service.request(ask(points=100, player_id="p1"), HOTEL)
    inactive.mark("p1", True)
    [decided] = decisions.decide(requested(store)).decided
    assert decided.reason is RejectionReason.PLAYER_INACTIVE
    assert store.wallets["p1"].points == 500


def test_a_replayed_request_changes_nothing(
    service: RedemptionService, decisions: RedemptionDecisions, store: Store
) -> None:
    earn(store, "p1", 500)
    service.request(ask(points=100), PLAYER)
    events = requested(store)
    decisions.decide(events)
    commits, transactions, published = store.commits, len(store.transactions), len(store.outbox)
    result = decisions.decide(events + events)
    assert (result.decided, result.already_decided) == ([], 1)
    assert (store.commits, len(store.transactions), len(store.outbox)) == (
        commits,
        transactions,
        published,
    )
    assert store.wallets["p1"].points == 400


def test_a_request_produced_by_a_partner_is_stored_and_decided(
    decisions: RedemptionDecisions, store: Store
) -> None:
    earn(store, "p1", 500)
    redemption_id = str(uuid.uuid4())
    event = DecideRedemption(
        redeem_request_id=redemption_id,
        player_id="p1",
        points=300,
        reward_description="Spa day",
        event_id=str(uuid.uuid4()),
        requested_by="casino",
    )
    [decided] = decisions.decide([event]).decided
    assert decided.status is RedemptionStatus.CONFIRMED
    stored = store.redemptions[redemption_id]
    assert (stored.channel, stored.requested_by, stored.idempotency_key) == (
        RedemptionChannel.EVENT,
        "casino",
        None,
    )
    assert outcomes(store)[0]["requestedBy"] == "casino"


def in_capitals(store: Store) -> tuple[str, DecideRedemption]:
    """A player with 50 points, and a partner's request for 30 naming them in capitals."""
    player = str(uuid.uuid4())
    earn(store, player, 50)
    return player, DecideRedemption(
        redeem_request_id=str(uuid.uuid4()),
        player_id=player.upper(),
        points=30,
        reward_description="Spa day",
        event_id=str(uuid.uuid4()),
        requested_by="casino",
    )


def test_a_partner_naming_the_player_in_capitals_redeems_from_the_same_wallet(
    service: RedemptionService, decisions: RedemptionDecisions, store: Store
) -> None:
    player, event = in_capitals(store)
    [decided] = decisions.decide([event]).decided
    assert (decided.status, decided.player_id) == (RedemptionStatus.CONFIRMED, player)
    assert store.wallets[player].points == 20
    # Its list finds it under either spelling.
    for spelling in (player, player.upper()):
        assert service.list(CASINO, spelling, None, PageRequest()).total == 1


def test_a_request_stored_with_the_player_in_capitals_is_still_the_same_when_replayed(
    decisions: RedemptionDecisions, store: Store
) -> None:
    player, event = in_capitals(store)
    [decided] = decisions.decide([event]).decided
    # As a request stored before ids were canonicalised: its fingerprint has the capitals.
    stored = store.redemptions[decided.id]
    stored.request_hash = request_fingerprint(player.upper(), 30, "Spa day", None)
    # The partner produces it again (a new event, the same request): no conflict, no debit.
    again = replace(event, event_id=str(uuid.uuid4()))
    assert decisions.decide([again]).decided == []
    assert store.wallets[player].points == 20


def test_an_event_reusing_the_id_of_another_request_is_a_conflict(
    service: RedemptionService, decisions: RedemptionDecisions, store: Store
) -> None:
    earn(store, "p1", 500)
    receipt = service.request(ask(points=100), PLAYER)
    forged = DecideRedemption(
        redeem_request_id=receipt.redemption.id,
        player_id="p1",
        points=400,
        reward_description="Dinner for two",
        event_id=str(uuid.uuid4()),
    )
    with pytest.raises(RedemptionConflict):
        decisions.decide([*requested(store), forged])
    assert store.redemptions[receipt.redemption.id].is_pending
    assert store.wallets["p1"].points == 500


# -- reading ------------------------------------------------------------------------------------


def test_a_redemption_is_read_by_its_player_its_requester_and_staff_only(
    service: RedemptionService,
) -> None:
    mine = service.request(ask(player_id="p1"), HOTEL).redemption
    for reader in (PLAYER, HOTEL, STAFF):
        assert service.get(mine.id, reader).id == mine.id
    for reader in (OTHER_PLAYER, CASINO):
        with pytest.raises(RedemptionNotFound):
            service.get(mine.id, reader)
    with pytest.raises(RedemptionNotFound):
        service.get(str(uuid.uuid4()), STAFF)


def test_lists_show_a_player_their_own_and_a_partner_what_it_asked_for(
    service: RedemptionService,
) -> None:
    service.request(ask(key="a"), PLAYER)
    service.request(ask(key="b", player_id="p1"), HOTEL)
    page = PageRequest()
    assert service.list(PLAYER, None, None, page).total == 2
    assert service.list(STAFF, "p1", RedemptionStatus.PENDING, page).total == 2
    assert service.list(STAFF, "p1", RedemptionStatus.CONFIRMED, page).total == 0
    assert [r.requested_by for r in service.list(HOTEL, "p1", None, page).items] == ["hotel"]
    assert service.list(CASINO, "p1", None, page).total == 0
    with pytest.raises(PermissionDenied):
        service.list(PLAYER, "p2", None, page)
    with pytest.raises(InvalidRedemption):
        service.list(STAFF, None, None, page)
