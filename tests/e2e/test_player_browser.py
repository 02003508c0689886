"""A player's browser: headless Chromium opens the notification socket through the gateway with
the access token offered as a subprotocol (no token in the URL) and receives a notification."""

from __future__ import annotations

import uuid

import pytest

from tests.e2e.conftest import RunningPlatform
from tests.support.browser import CHROMIUM_ARGS, chromium
from tests.support.e2e import Player, promotion_event
from tests.support.kafka import produce
from tests.support.websocket import SUBPROTOCOL, socket_url

OPEN_SOCKET = """([url, protocols]) => {
    window.received = [];
    window.chosen = null;
    window.closedWith = null;
    const ws = new WebSocket(url, protocols);
    ws.onopen = () => { window.chosen = ws.protocol; };
    ws.onmessage = (event) => window.received.push(event.data);
    ws.onclose = (event) => { window.closedWith = event.code; };
}"""


def test_a_browser_socket_carries_its_token_as_a_subprotocol(platform: RunningPlatform) -> None:
    if platform.gateway is None:
        pytest.skip("nginx is not installed (the test command installs it as root)")
    from playwright.sync_api import sync_playwright

    executable = chromium()
    player = Player(platform.gateway)
    url = socket_url(platform.gateway)
    title = f"In the browser {uuid.uuid4().hex[:8]}"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.evaluate(OPEN_SOCKET, [url, [SUBPROTOCOL, f"bearer.{player.token}"]])
            page.wait_for_function("window.chosen !== null || window.closedWith !== null")
            assert page.evaluate("window.chosen") == SUBPROTOCOL, page.evaluate("window.closedWith")
            event = promotion_event(player.id, title=title)
            produce(platform.infra.kafka_bootstrap, "notifications", event, key=player.id)
            page.wait_for_function(
                "(t) => window.received.some((m) => JSON.parse(m).notification.title === t)",
                arg=title,
                timeout=20_000,
            )
            # A forged token never opens a socket (the browser sees the refused handshake
            # only as a close).
            page.evaluate(OPEN_SOCKET, [url, [SUBPROTOCOL, "bearer.not.a.token"]])
            page.wait_for_function("window.closedWith !== null")
            forged = page.evaluate("[window.chosen, window.closedWith]")
        finally:
            browser.close()
    assert forged == [None, 1006], forged
