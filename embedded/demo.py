"""A guided tour of the running platform (``./scripts/demo``, after ``./scripts/run``).

A player registers with a WebSocket open and sees the welcome promotion arrive; staff assign a
second promotion, which arrives too; the player claims the welcome bonus and the wallet shows the
credit and its transaction.
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

        unread = self.call("GET", "notification", "/api/v1/notifications?unread=true", token)
        say(f"\nThe player has {unread['total']} unread notifications stored for later.")
        ws.close()


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
