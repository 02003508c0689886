"""Configuration profiles: file merge, placeholders, environment overrides."""

from pathlib import Path

import pytest

from shared.config import ConfigError, active_profile, load_settings


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    (tmp_path / "application.yml").write_text(
        "database:\n  url: ${DATABASE_URL}\n  pool:\n    size: 10\n"
        "kafka:\n  servers: ${KAFKA:localhost:9092}\n  partitions: ${PARTITIONS:3}\n"
        "flags:\n  enabled: true\n"
    )
    (tmp_path / "application-prod.yml").write_text("database:\n  pool:\n    size: 40\n")
    return tmp_path


def test_profile_file_overrides_base_and_keeps_siblings(config_dir: Path) -> None:
    settings = load_settings(config_dir, "prod", environ={"DATABASE_URL": "postgresql://db/x"})
    assert settings["database"] == {"url": "postgresql://db/x", "pool": {"size": 40}}
    assert settings["profile"] == "prod"


def test_placeholders_take_defaults_and_yaml_types(config_dir: Path) -> None:
    settings = load_settings(config_dir, "dev", environ={"DATABASE_URL": "x"})
    assert settings["kafka"] == {"servers": "localhost:9092", "partitions": 3}
    settings = load_settings(config_dir, "dev", environ={"DATABASE_URL": "x", "PARTITIONS": "12"})
    assert settings["kafka"]["partitions"] == 12


def test_a_missing_required_value_is_an_error(config_dir: Path) -> None:
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        load_settings(config_dir, "dev", environ={})


def test_extra_satisfies_a_required_placeholder(config_dir: Path) -> None:
    settings = load_settings(config_dir, "dev", environ={}, extra={"database": {"url": "given"}})
    assert settings["database"]["url"] == "given"


def test_environment_overrides_any_key(config_dir: Path) -> None:
    env = {
        "DATABASE_URL": "x",
        "LOYALTY__DATABASE__POOL__SIZE": "7",
        "LOYALTY__FLAGS__ENABLED": "false",
        "LOYALTY__NEW__KEY": "value",
    }
    settings = load_settings(config_dir, "dev", environ=env)
    assert settings["database"]["pool"]["size"] == 7
    assert settings["flags"]["enabled"] is False
    assert settings["new"] == {"key": "value"}


def test_unknown_profile_is_refused() -> None:
    with pytest.raises(ConfigError):
        active_profile({"LOYALTY_PROFILE": "staging-ish"})
    assert active_profile({}) == "dev"
