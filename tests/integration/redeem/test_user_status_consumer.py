"""The worker's user-status consumer on the real broker: deactivated players are refused here,
and so are tokens issued before a revocation."""

from __future__ import annotations

import threading
import time
import uuid

from confluent_kafka import Consumer
from flask.testing import FlaskClient

from redeem_service.container import Container
from shared.application.events import Topic
from shared.messaging.account_status import AccountStatusChanges
from shared.messaging.consumer import ConsumerRunner, ConsumerSettings
from shared.messaging.kafka import consumer_config, create_producer
from shared.messaging.schemas import event_schemas
from tests.integration.redeem.conftest import bearer
from tests.integration.redeem.support import json_of, new_player, wait_until
from tests.support.infra import Infra
from tests.support.kafka import produce
from tests.support.tokens import TestSigner
from tests.support.user_status import status_changed, tokens_revoked


def test_a_deactivation_is_learnt_from_user_status_and_a_reactivation_undoes_it(
    infra: Infra, client: FlaskClient, redeem_container: Container, signer: TestSigner
) -> None:
    settings = {
        "bootstrap_servers": infra.kafka_bootstrap,
        "consumer": {"session_timeout_ms": 2000, "heartbeat_interval_ms": 500},
    }
    group = f"redeem-user-status-{uuid.uuid4().hex[:8]}"
    inactive = redeem_container.core.inactive_users()
    runner = ConsumerRunner(
        consumer_factory=lambda: Consumer(consumer_config(settings, group)),
        dead_letter_producer=create_producer(settings),
        handler=AccountStatusChanges(inactive),
        schemas=event_schemas(),
        settings=ConsumerSettings(group_id=group, topics=[Topic.USER_STATUS.value]),
    )
    thread = threading.Thread(target=runner.run, daemon=True)
    thread.start()
    player = new_player()
    token = signer.user_token(player)
    try:
        assert client.get("/api/v1/wallet/me", headers=bearer(token)).status_code == 200
        deactivation = status_changed(player, "INACTIVE")
        produce(infra.kafka_bootstrap, "user-status", deactivation, player)
        wait_until(lambda: inactive.is_inactive(player), timeout=30)
        refused = client.get("/api/v1/wallet/me", headers=bearer(token))
        assert refused.status_code == 401
        assert json_of(refused)["error"]["code"] == "ACCOUNT_INACTIVE"
        time.sleep(0.01)  # the reactivation is a later change
        produce(infra.kafka_bootstrap, "user-status", status_changed(player, "ACTIVE"), player)
        wait_until(lambda: not inactive.is_inactive(player), timeout=30)
        assert client.get("/api/v1/wallet/me", headers=bearer(token)).status_code == 200

        # The deactivation's record read again (a dead letter replayed, an offset reset) does
        # not undo the later reactivation; the marker behind it shows it was consumed.
        marker = new_player()
        produce(infra.kafka_bootstrap, "user-status", deactivation, player)
        produce(infra.kafka_bootstrap, "user-status", status_changed(marker, "INACTIVE"), player)
        wait_until(lambda: inactive.is_inactive(marker), timeout=30)
        assert not inactive.is_inactive(player)
        assert client.get("/api/v1/wallet/me", headers=bearer(token)).status_code == 200

        # The password was changed: the token issued before is refused, a new one is not.
        issued_before = int(time.time()) + 1
        produce(infra.kafka_bootstrap, "user-status", tokens_revoked(player, issued_before), player)
        wait_until(lambda: inactive.tokens_revoked(player, issued_before - 1), timeout=30)
        refused = client.get("/api/v1/wallet/me", headers=bearer(token))
        assert refused.status_code == 401
        assert json_of(refused)["error"]["code"] == "TOKEN_REVOKED"
        assert not inactive.tokens_revoked(player, issued_before)
        while int(time.time()) < issued_before:
            time.sleep(0.05)
        fresh = signer.user_token(player)
        assert client.get("/api/v1/wallet/me", headers=bearer(fresh)).status_code == 200
        # Another player's tokens are not touched.
        other = new_player()
        assert (
            client.get("/api/v1/wallet/me", headers=bearer(signer.user_token(other))).status_code
            == 200
        )
    finally:
        runner.stop()
        thread.join(20)
    assert not thread.is_alive()
