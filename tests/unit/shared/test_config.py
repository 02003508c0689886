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


@pytest.mark.parametrize(
    "text",
    [
        "s3cret #tail",  # YAML would cut a secret at " #"
        "0777",  # octal in YAML
        "1:30",  # sexagesimal in YAML
        "on",  # a boolean in YAML
        "@first",  # YAML refuses a leading @ or %
        "%first",
        "::",  # a mapping in YAML
        "[::1]",
        "[::1]:9092",
        "*anchor",
        "007",
    ],
)
def test_an_environment_value_is_kept_as_given_unless_it_is_a_plain_number_or_flag(
    config_dir: Path, text: str
) -> None:
    environ = {"DATABASE_URL": text, "KAFKA": text, "LOYALTY__FLAGS__NAME": text}
    settings = load_settings(config_dir, "dev", environ=environ)
    assert settings["database"]["url"] == text
    assert settings["kafka"]["servers"] == text
    assert settings["flags"]["name"] == text


@pytest.mark.parametrize(
    ("text", "value"),
    [("12", 12), ("-3", -3), ("0", 0), ("2.5", 2.5), ("true", True), ("False", False)],
)
def test_plain_numbers_and_flags_take_their_type(
    config_dir: Path, text: str, value: object
) -> None:
    environ = {"DATABASE_URL": "x", "PARTITIONS": text, "LOYALTY__FLAGS__ENABLED": text}
    settings = load_settings(config_dir, "dev", environ=environ)
    assert settings["kafka"]["partitions"] == value
    assert settings["flags"]["enabled"] == value


def test_an_override_may_give_a_list(config_dir: Path) -> None:
    environ = {"DATABASE_URL": "x", "LOYALTY__FLAGS__ORIGINS": "[a.example, b.example]"}
    settings = load_settings(config_dir, "dev", environ=environ)
    assert settings["flags"]["origins"] == ["a.example", "b.example"]
