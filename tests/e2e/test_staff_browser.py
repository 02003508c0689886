"""Staff in a real browser: headless Chromium drives the rewards Swagger UI through the gateway —
authorize with a staff token, create a promotion, assign it to a player — and the result is
checked over the API. A screenshot is kept in artifacts/browser/."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.e2e.conftest import RunningPlatform
from tests.support.browser import CHROMIUM_ARGS, chromium
from tests.support.e2e import Player, bearer

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts" / "browser"


def execute(
    page: Any, operation: str, body: Any, params: dict[str, str] | None = None
) -> tuple[str, Any]:
    """Open an operation in Swagger UI, fill it in, execute it; (status, parsed response body)."""
    block = page.locator(f"#{operation}")
    block.locator(".opblock-summary").click()
    for name, value in (params or {}).items():
        block.locator(f"tr[data-param-name='{name}'] input").fill(value)
    block.locator("textarea.body-param__text").fill(json.dumps(body))
    block.locator("button.execute").click()
    status = block.locator(".live-responses-table tbody .response-col_status").first
    status.wait_for(timeout=20_000)
    text = block.locator(".live-responses-table .response-col_description pre.microlight").first
    return status.inner_text().strip(), json.loads(text.inner_text())


def test_staff_create_and_assign_a_promotion_in_swagger_ui(platform: RunningPlatform) -> None:
    if platform.gateway is None:
        pytest.skip("nginx is not installed (the test command installs it as root)")
    from playwright.sync_api import sync_playwright

    executable = chromium()
    staff_token = platform.admin_token()
    player = Player(platform.url("auth"))
    now = datetime.now(UTC)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    console_errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.on(
                "console", lambda m: console_errors.append(m.text) if m.type == "error" else None
            )
            page.goto(f"{platform.gateway}/rewards/api-docs")
            page.wait_for_selector("button.authorize", timeout=30_000)
            # Credentials an earlier version of the page persisted are removed on load.
            page.evaluate("localStorage.setItem('authorized', '{\"bearerAuth\": {}}')")
            page.reload()
            page.wait_for_selector("button.authorize", timeout=30_000)
            page.click("button.authorize")
            page.fill(".auth-container input", staff_token)
            page.click(".auth-btn-wrapper button.authorize")
            page.click("button.btn-done")
            # The token is not written to the origin's storage (shared by every docs page).
            assert page.evaluate("JSON.stringify(window.localStorage)") == "{}"

            status, created = execute(
                page,
                "operations-promotions-post_api_v1_promotions",
                {
                    "title": "Browser-made bonus",
                    "type": "BONUS",
                    "amount": "12.50",
                    "startDate": (now - timedelta(minutes=5)).isoformat(),
                    "endDate": (now + timedelta(days=1)).isoformat(),
                },
            )
            assert status == "201", created
            status, assigned = execute(
                page,
                "operations-promotions-post_api_v1_promotions__promotion_id__assign",
                {"playerIds": [player.id]},
                {"promotion_id": created["id"]},
            )
            page.screenshot(path=str(ARTIFACTS / "staff-assign-promotion.png"), full_page=True)
        finally:
            browser.close()
    assert status == "200", assigned
    assert assigned["assigned"] == [player.id]
    assert not console_errors, console_errors  # e.g. a CSP violation would show here
    held = requests.get(
        f"{platform.url('rewards')}/api/v1/promotions/players/{player.id}",
        headers=bearer(player.token),
        timeout=10,
    ).json()["items"]
    assert "Browser-made bonus" in [p["promotion"]["title"] for p in held]
    assert (
        requests.get(
            f"{platform.url('rewards')}/api/v1/promotions/{created['id']}",
            headers=bearer(staff_token),
            timeout=10,
        ).json()["amount"]
        == "12.50"
    )
