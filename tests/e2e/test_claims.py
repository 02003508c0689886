"""Claiming a promotion end to end: auth, rewards, the wallet (web, worker, gRPC) and the
notification service as real processes. The bonus is credited once, whatever the concurrency;
a wallet outage fails the claim cleanly and the breaker opens and closes again."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests

from embedded.servers import ManagedProcess, free_port
from embedded.services import SERVICES, start_grpc, start_web, wait_ready
from tests.e2e.conftest import RunningPlatform
from tests.support.e2e import Player, json_or_text, wait_until
from tests.support.websocket import connect, next_event, socket_url


def welcome_of(platform: RunningPlatform, player: Player) -> dict[str, Any]:
    """The welcome promotion the player received on registration (rewards' worker)."""

    def held() -> Any:
        listed = requests.get(
            f"{platform.url('rewards')}/api/v1/promotions/players/{player.id}",
            headers=player.headers,
            timeout=10,
        ).json()
        return next((p for p in listed["items"] if p["source"] == "WELCOME"), None)

    return dict(wait_until(held))


def claim(base: str, player: Player, promotion_id: str) -> requests.Response:
    return requests.post(
        f"{base}/api/v1/promotions/claim",
        json={"promotionId": promotion_id},
        headers=player.headers,
        timeout=15,
    )


def wallet_of(platform: RunningPlatform, player: Player) -> dict[str, Any]:
    response = requests.get(
        f"{platform.url('redeem')}/api/v1/wallet/me", headers=player.headers, timeout=10
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_claiming_the_welcome_bonus_credits_the_wallet_and_notifies(
    platform: RunningPlatform,
) -> None:
    player = Player(platform.url("auth"))
    welcome = welcome_of(platform, player)
    ws = connect(socket_url(platform.url("notification")), player.token)
    try:
        response = claim(platform.url("rewards"), player, welcome["promotion"]["id"])
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["status"] == "CLAIMED"
        assert body["amount"] == welcome["promotion"]["amount"]
        assert body["bonusBalance"] == body["amount"]

        def credited() -> Any:
            message = next_event(ws, timeout=10)
            if isinstance(message, dict) and message["notification"]["type"] == "BONUS_CREDITED":
                return message
            return None

        notification = wait_until(credited)["notification"]
    finally:
        ws.close()
    assert notification["content"]["amount"] == body["amount"]
    assert notification["content"]["transactionId"] == body["transactionId"]
    wallet = wallet_of(platform, player)
    assert Decimal(wallet["balances"]["bonus"]) == Decimal(body["amount"])
    [transaction] = wallet["transactions"]["items"]
    assert transaction["id"] == body["transactionId"]
    assert (transaction["currency"], transaction["type"]) == ("BONUS", "CREDIT")
    assert transaction["description"] == f"Promotion: {welcome['promotion']['title']}"
    assert transaction["additionalData"]["promotionId"] == welcome["promotion"]["id"]
    # The assignment is claimed now; claiming again is refused.
    again = claim(platform.url("rewards"), player, welcome["promotion"]["id"])
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "REWARDS_PROMOTION_ALREADY_CLAIMED"


def test_fifty_concurrent_claims_of_one_assignment_credit_once(platform: RunningPlatform) -> None:
    player = Player(platform.url("auth"))
    promotion_id = welcome_of(platform, player)["promotion"]["id"]
    barrier = threading.Barrier(50)

    def attempt(_: int) -> int:
        barrier.wait()
        return claim(platform.url("rewards"), player, promotion_id).status_code

    with ThreadPoolExecutor(50) as pool:
        statuses = list(pool.map(attempt, range(50)))
    assert statuses.count(200) == 1, statuses
    assert statuses.count(409) == 49, statuses
    wallet = wallet_of(platform, player)
    assert wallet["transactions"]["total"] == 1
    assert Decimal(wallet["balances"]["bonus"]) == Decimal(
        wallet["transactions"]["items"][0]["amount"]
    )


def test_someone_elses_or_an_unknown_promotion_cannot_be_claimed(platform: RunningPlatform) -> None:
    owner, other = Player(platform.url("auth")), Player(platform.url("auth"))
    promotion_id = welcome_of(platform, owner)["promotion"]["id"]
    welcome_of(platform, other)
    response = claim(platform.url("rewards"), other, str(uuid.uuid4()))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "REWARDS_PROMOTION_NOT_ASSIGNED"
    bad = requests.post(
        f"{platform.url('rewards')}/api/v1/promotions/claim",
        json={"promotionId": "'; DROP TABLE promotions; --"},
        headers=owner.headers,
        timeout=10,
    )
    assert bad.status_code == 422
    staff = requests.post(
        f"{platform.url('rewards')}/api/v1/promotions/claim",
        json={"promotionId": promotion_id},
        headers={"Authorization": f"Bearer {platform.admin_token()}"},
        timeout=10,
    )
    assert staff.status_code == 403


class IsolatedWallet:
    """A rewards web process (one worker, so one breaker) talking to a wallet gRPC process of
    its own, which the test stops and starts; both use the platform's databases."""

    def __init__(self, platform: RunningPlatform, log_dir: Path) -> None:
        self.platform = platform
        self.log_dir = log_dir
        self.grpc_port = free_port()
        self.rewards_port = free_port()
        self.wallet: ManagedProcess | None = None
        redeem = next(s for s in SERVICES if s.name == "redeem")
        rewards = next(s for s in SERVICES if s.name == "rewards")
        self.redeem_env = {
            **platform.cluster.env.for_service(redeem),
            "GRPC_PORT": str(self.grpc_port),
        }
        self.redeem_spec = redeem
        rewards_env = {
            **platform.cluster.env.for_service(rewards),
            "PORT": str(self.rewards_port),
            "WALLET_GRPC_TARGET": f"127.0.0.1:{self.grpc_port}",
            "LOYALTY__WALLET__BREAKER_FAIL_MAX": "3",
            "LOYALTY__WALLET__BREAKER_RESET_SECONDS": "2",
            "LOYALTY__WALLET__ATTEMPTS": "2",
        }
        self.rewards = start_web(rewards, rewards_env, log_dir, workers=1)
        wait_ready(self.url, timeout=60, process=self.rewards)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.rewards_port}"

    def start_wallet(self) -> None:
        self.wallet = start_grpc(self.redeem_spec, self.redeem_env, self.log_dir)
        from embedded.servers import wait_for_port

        wait_for_port(self.grpc_port, 30, self.wallet.process)

    def stop_wallet(self) -> None:
        if self.wallet is not None:
            self.wallet.stop()
            self.wallet = None

    def breaker(self) -> float:
        metrics = requests.get(f"{self.url}/metrics", timeout=5).text
        line = next(
            (
                row
                for row in metrics.splitlines()
                if row.startswith('circuit_breaker_state{breaker="wallet"}')
            ),
            None,
        )
        return float(line.split()[-1]) if line else 0.0

    def stop(self) -> None:
        self.stop_wallet()
        self.rewards.stop()


@pytest.fixture
def isolated(platform: RunningPlatform, tmp_path: Path) -> Iterator[IsolatedWallet]:
    setup = IsolatedWallet(platform, tmp_path)
    try:
        yield setup
    finally:
        setup.stop()


def test_a_wallet_outage_fails_claims_cleanly_then_they_succeed(
    platform: RunningPlatform, isolated: IsolatedWallet
) -> None:
    players = [Player(platform.url("auth")) for _ in range(5)]
    promotions = [welcome_of(platform, p)["promotion"]["id"] for p in players]

    # The wallet is down: 503 with its code, nothing claimed, the promotion stays claimable.
    first = claim(isolated.url, players[0], promotions[0])
    assert first.status_code == 503, json_or_text(first)
    assert first.json()["error"]["code"] == "REWARDS_WALLET_UNAVAILABLE"
    for player, promotion in zip(players[1:3], promotions[1:3], strict=True):
        assert claim(isolated.url, player, promotion).status_code == 503
    assert isolated.breaker() == 2.0  # open after three failures in a row
    held = requests.get(
        f"{platform.url('rewards')}/api/v1/promotions/players/{players[0].id}",
        headers=players[0].headers,
        timeout=10,
    ).json()["items"]
    assert [p["status"] for p in held] == ["ASSIGNED"]
    assert wallet_of(platform, players[0])["transactions"]["total"] == 0

    # The wallet is back: after the breaker's reset time a trial call goes through and closes it.
    isolated.start_wallet()

    def claimed() -> requests.Response | None:
        attempt = claim(isolated.url, players[0], promotions[0])
        return attempt if attempt.status_code == 200 else None

    response = wait_until(claimed, timeout=30, interval=0.5)
    assert response.json()["status"] == "CLAIMED"
    assert isolated.breaker() == 0.0
    for player, promotion in zip(players[1:], promotions[1:], strict=True):
        assert claim(isolated.url, player, promotion).status_code == 200
    assert all(wallet_of(platform, p)["transactions"]["total"] == 1 for p in players)
