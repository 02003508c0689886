"""A guided tour of the running platform (``./scripts/demo``, after ``./scripts/run``).

A player registers with a WebSocket open and sees the welcome promotion arrive; staff assign a
second promotion, which arrives too; the player claims the welcome bonus and the wallet shows the
credit and its transaction; the hotel app posts a stay over REST and the casino produces a wager
straight to Kafka, the player sees the points arrive, their total with its breakdown, redeems
points and sees the confirmation and the new balance.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests
import websocket

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "a long demo passphrase"  # noqa: S105 - a throw-away demo player


def say(text: str = "") -> None:
    print(text, flush=True)


def show(title: str, body: Any) -> None:
    say(f"  {title}: {json.dumps(body, indent=2, default=str)}".replace("\n", "\n  "))


class Demo:
    def __init__(self, platform: dict[str, Any]) -> None:
        endpoints = platform["endpoints"]
        services = endpoints["services"]
        gateway = endpoints.get("gateway")
        self.url = {name: gateway or entry["url"] for name, entry in services.items()}
        self.credentials = platform["credentials"]
        self.kafka = str(endpoints["servers"]["kafka"])
        self.http = requests.Session()
        self.notifications: list[dict[str, Any]] = []
        self._arrived = threading.Condition()

    def call(
        self,
        method: str,
        service: str,
        path: str,
        token: str | None = None,
        expect: tuple[int, ...] = (200, 201, 202),
        **kwargs: Any,
    ) -> Any:
        headers = kwargs.pop("headers", {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        response = self.http.request(
            method, f"{self.url[service]}{path}", headers=headers, timeout=15, **kwargs
        )
        if response.status_code not in expect:
            raise SystemExit(f"{method} {path} answered {response.status_code}: {response.text}")
        return response.json() if response.content else None

    def login(self, email: str, password: str) -> str:
        return str(
            self.call(
                "POST", "auth", "/api/v1/auth/login", json={"email": email, "password": password}
            )["accessToken"]
        )

    def listen(self, token: str) -> websocket.WebSocket:
        base = self.url["notification"].replace("http://", "ws://", 1)
        ws = websocket.create_connection(
            f"{base}/api/v1/notifications/ws", header=[f"Authorization: Bearer {token}"], timeout=30
        )

        def read() -> None:
            while True:
                try:
                    message = json.loads(ws.recv())
                except (websocket.WebSocketException, OSError, ValueError):
                    return
                if message.get("type") == "notification":
                    with self._arrived:
                        self.notifications.append(message["notification"])
                        self._arrived.notify_all()

        threading.Thread(target=read, daemon=True).start()
        return ws

    def wait_for(self, kind: str, token: str, timeout: float = 15.0) -> dict[str, Any]:
        """The next live notification of ``kind``; one that arrived before the socket opened
        is read from the stored notifications instead."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while True:
                found = next((n for n in self.notifications if n["type"] == kind), None)
                if found is not None:
                    self.notifications.remove(found)
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._arrived.wait(remaining)
        stored = self.call("GET", "notification", "/api/v1/notifications?unread=true", token)
        found = next((n for n in stored["notifications"] if n["type"] == kind), None)
        if found is None:
            raise SystemExit(f"no {kind} notification within {timeout:.0f}s")
        say("   (it arrived before the socket was open: read from the stored notifications)")
        return dict(found)

    def run(self) -> None:
        admin = self.credentials["admin"]
        staff_token = self.login(admin["email"], admin["password"])
        email = f"demo-{uuid.uuid4().hex[:6]}@example.com"

        say("1. A player registers (a WebSocket is opened right after the first login).")
        player = self.call(
            "POST",
            "auth",
            "/api/v1/auth/register",
            json={"email": email, "password": PASSWORD, "firstName": "Demo"},
        )
        token = self.login(email, PASSWORD)
        ws = self.listen(token)
        say(f"   registered {email} ({player['id']})")
        welcome = self.wait_for("PROMOTION", token)
        show(
            "live notification",
            {
                "type": welcome["type"],
                "title": welcome.get("title"),
                "promotion": welcome["content"]["title"],
                "amount": welcome["content"]["amount"],
            },
        )

        say("\n2. Staff create a promotion and assign it to the player.")
        now = datetime.now(UTC)
        promotion = self.call(
            "POST",
            "rewards",
            "/api/v1/promotions",
            staff_token,
            json={
                "title": "Weekend free spins",
                "description": "20 free spins on the new slots",
                "type": "FREE_SPINS",
                "amount": "10.00",
                "startDate": (now - timedelta(minutes=1)).isoformat(),
                "endDate": (now + timedelta(days=2)).isoformat(),
            },
        )
        assigned = self.call(
            "POST",
            "rewards",
            f"/api/v1/promotions/{promotion['id']}/assign",
            staff_token,
            json={"playerIds": [player["id"]]},
        )
        say(f"   assigned: {assigned['assigned']}")
        second = self.wait_for("PROMOTION", token)
        show(
            "live notification",
            {
                "type": second["type"],
                "promotion": second["content"]["title"],
                "source": second["content"]["source"],
            },
        )

        if "redeem" in self.url:
            say("\n3. The player claims the welcome bonus.")
            claimed = self.call(
                "POST",
                "rewards",
                "/api/v1/promotions/claim",
                token,
                json={"promotionId": welcome["content"]["promotionId"]},
            )
            show("claim", claimed)
            credited = self.wait_for("BONUS_CREDITED", token)
            show(
                "live notification", {"type": credited["type"], "message": credited.get("message")}
            )
            wallet = self.call("GET", "redeem", "/api/v1/wallet/me", token)
            show(
                "wallet",
                {
                    "balances": wallet["balances"],
                    "transactions": [
                        {k: t[k] for k in ("amount", "currency", "type", "description")}
                        for t in wallet["transactions"]["items"]
                    ],
                },
            )

            self.earn_and_redeem(player["id"], token)

        unread = self.call("GET", "notification", "/api/v1/notifications?unread=true", token)
        say(f"\nThe player has {unread['total']} unread notifications stored for later.")
        ws.close()

    def partner_token(self, client: str) -> str:
        """A partner app's access token (OAuth2 client credentials)."""
        secret = self.credentials["clients"][client]
        response = self.http.post(
            f"{self.url['auth']}/oauth2/token",
            data={"grant_type": "client_credentials"},
            auth=(secret["clientId"], secret["clientSecret"]),
            timeout=15,
        )
        if response.status_code != 200:
            raise SystemExit(f"the {client} token request answered {response.status_code}")
        return str(response.json()["access_token"])

    def produce_wager(self, player_id: str, amount: str) -> str:
        """The casino system publishes its wager straight to Kafka, as a partner may."""
        from confluent_kafka import Producer

        event_id = str(uuid.uuid4())
        event = {
            "eventId": event_id,
            "eventType": "CASINO_SPEND",
            "version": 1,
            "occurredAt": datetime.now(UTC).isoformat(),
            "user_id": player_id,
            "partnerId": "casino",
            "reference": f"table-7:{event_id[:8]}",
            "currency": "USD",
            "amountWagered": amount,
            "game": "blackjack",
        }
        # As a partner should: the key hashed as the Java client and the services do (ADR 0507).
        producer = Producer(
            {
                "bootstrap.servers": self.kafka,
                "enable.idempotence": True,
                "partitioner": "murmur2_random",
            }
        )
        failures: list[str] = []
        producer.produce(
            "reward-events",
            key=player_id,
            value=json.dumps(event).encode(),
            on_delivery=lambda err, _msg: failures.append(str(err)) if err else None,
        )
        if producer.flush(15) or failures:
            raise SystemExit(f"the wager was not delivered to Kafka: {failures or 'timeout'}")
        return event_id

    def earn_and_redeem(self, player_id: str, token: str) -> None:
        say("\n4. The hotel app obtains a token and posts a 3-night stay.")
        hotel = self.partner_token("hotel")
        accepted = self.call(
            "POST",
            "rewards",
            "/api/v1/rewards/events",
            hotel,
            json={
                "eventType": "HOTEL_STAY",
                "user_id": player_id,
                "reference": f"folio-{uuid.uuid4().hex[:6]}",
                "nights": 3,
            },
        )
        say(f"   accepted: {accepted['accepted']}")
        stay = self.wait_for("POINTS_EARNED", token)
        show("live notification", {"type": stay["type"], "message": stay.get("message")})

        say("\n5. The casino produces a $250 wager straight to Kafka (topic reward-events).")
        say(f"   produced event {self.produce_wager(player_id, '250.00')}")
        wager = self.wait_for("POINTS_EARNED", token)
        show("live notification", {"type": wager["type"], "message": wager.get("message")})

        say("\n6. The player's points total, computed from the events with its breakdown.")
        points = self.call("GET", "rewards", f"/api/v1/rewards/{player_id}?breakdown=true", token)
        show("points", points)

        say("\n7. The player redeems 40 points (an Idempotency-Key makes a retry safe).")
        self.wait_for_points(token, 55)
        request = self.call(
            "POST",
            "redeem",
            "/api/v1/redemptions",
            token,
            headers={"Idempotency-Key": uuid.uuid4().hex},
            json={"points": 40, "rewardDescription": "Dinner for two at the steakhouse"},
        )
        show("redemption", request)
        outcome = self.wait_for("REDEMPTION_CONFIRMED", token)
        show("live notification", {"type": outcome["type"], "message": outcome.get("message")})
        status = self.call(
            "GET", "redeem", f"/api/v1/redemptions/{request['redeemRequestId']}", token
        )
        show("redemption", {k: status[k] for k in ("redeemRequestId", "status", "points")})
        wallet = self.call("GET", "redeem", "/api/v1/wallet/me", token)
        show("wallet balances", wallet["balances"])

    def wait_for_points(self, token: str, points: int, timeout: float = 15.0) -> None:
        """The wallet credits points from ``reward-confirmed`` independently of the
        notification; wait until it holds what the player just earned."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            balances = self.call("GET", "redeem", "/api/v1/wallet/me", token)["balances"]
            if int(balances["points"]) >= points:
                return
            time.sleep(0.2)
        raise SystemExit(f"the wallet did not show {points} points within {timeout:.0f}s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="demo", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--platform-file", default=str(ROOT / ".data" / "platform.json"))
    args = parser.parse_args(argv)
    path = Path(args.platform_file)
    if not path.exists():
        say(f"{path} not found: start the platform first with ./scripts/run")
        return 1
    Demo(json.loads(path.read_text())).run()
    say("\nDone.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
