"""Kafka connection security from the settings: TLS, SASL credentials, a private CA bundle."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer

from shared.config import ConfigError, load_settings
from shared.messaging.kafka import (
    KafkaSettingsError,
    base_config,
    consumer_config,
    producer_config,
)

ROOT = Path(__file__).resolve().parents[3]
SERVICES = ("auth", "rewards", "redeem", "notification")
# What the prod profile requires of every service (docs/deployment.md), Kafka's aside.
PROD_ENVIRONMENT = dict.fromkeys(
    (
        "DATABASE_URL",
        "REDIS_URL",
        "MONGODB_URL",
        "KAFKA_BOOTSTRAP_SERVERS",
        "AUTH_ISSUER",
        "AUTH_JWKS_URL",
        "AUTH_TOKEN_URL",
        "WALLET_GRPC_TARGET",
        "WALLET_CLIENT_SECRET",
        "AUTH_KEY_ENCRYPTION_SECRET",
        "AUTH_CLIENT_SECRET_PEPPER",
    ),
    "x" * 40,
)
SASL = {
    "bootstrap_servers": "127.0.0.1:1",
    "security_protocol": "sasl_ssl",
    "sasl_mechanism": "scram-sha-512",
    "sasl_username": "loyalty",
    "sasl_password": "s3cret-from-the-vault",
}


def test_plaintext_and_tls_carry_no_sasl_settings() -> None:
    assert base_config({"bootstrap_servers": "b:9092"}) == {
        "bootstrap.servers": "b:9092",
        "client.id": "loyalty",
        "security.protocol": "PLAINTEXT",
    }
    tls = base_config({"bootstrap_servers": "b:9094", "security_protocol": "SSL"})
    assert tls["security.protocol"] == "SSL"
    assert not [key for key in tls if key.startswith("sasl.")]


def test_sasl_brokers_get_the_mechanism_and_credentials() -> None:
    config = base_config({**SASL, "ssl_ca_location": "/etc/ssl/private-ca.pem"})
    assert config["security.protocol"] == "SASL_SSL"
    assert config["sasl.mechanism"] == "SCRAM-SHA-512"
    assert config["sasl.username"] == "loyalty"
    assert config["sasl.password"] == "s3cret-from-the-vault"
    assert config["ssl.ca.location"] == "/etc/ssl/private-ca.pem"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"sasl_mechanism": ""}, "needs kafka.sasl_mechanism"),
        ({"sasl_mechanism": "GSSAPI"}, "needs kafka.sasl_mechanism"),
        ({"sasl_password": ""}, "needs kafka.sasl_username and kafka.sasl_password"),
        ({"sasl_username": None}, "needs kafka.sasl_username and kafka.sasl_password"),
        ({"security_protocol": "SSL"}, "kafka.sasl_mechanism is set but"),
    ],
)
def test_settings_that_cannot_connect_are_refused(change: dict[str, Any], message: str) -> None:
    with pytest.raises(KafkaSettingsError, match=message):
        base_config({**SASL, **change})


def test_librdkafka_takes_the_sasl_configuration() -> None:
    """The keys are librdkafka's own: a misspelt one fails here, not at the first deploy."""
    Producer(producer_config(SASL))
    Consumer(consumer_config(SASL, "kafka-security-test")).close()


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_reads_sasl_from_the_environment(service: str) -> None:
    environ = {
        **PROD_ENVIRONMENT,
        "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "KAFKA_SASL_MECHANISM": "PLAIN",
        "KAFKA_SASL_USERNAME": "api-key",
        "KAFKA_SASL_PASSWORD": "api secret #1",
        "KAFKA_SSL_CA_LOCATION": "/run/secrets/kafka-ca.pem",
    }
    settings = load_settings(ROOT / f"{service}_service" / "config", "prod", environ=environ)
    config = base_config(settings["kafka"])
    assert config["sasl.mechanism"] == "PLAIN"
    assert config["sasl.username"] == "api-key"
    assert config["sasl.password"] == "api secret #1"
    assert config["ssl.ca.location"] == "/run/secrets/kafka-ca.pem"


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_without_its_sasl_credentials_stops_at_start(service: str) -> None:
    environ = {
        **PROD_ENVIRONMENT,
        "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "KAFKA_SASL_MECHANISM": "PLAIN",
    }
    with pytest.raises(ConfigError, match="KAFKA_SASL_USERNAME"):
        load_settings(ROOT / f"{service}_service" / "config", "prod", environ=environ)
