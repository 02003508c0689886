"""Configuration profiles: application.yml + application-<profile>.yml, with env overrides.

The active profile is chosen by ``LOYALTY_PROFILE`` (``dev`` when unset). Values may reference
the environment with ``${NAME:default}`` placeholders, and any key can be overridden from the
environment with ``LOYALTY__SECTION__KEY=value`` (double underscores separate nesting levels).
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

PROFILE_ENV = "LOYALTY_PROFILE"
OVERRIDE_PREFIX = "LOYALTY__"
DEFAULT_PROFILE = "dev"
PROFILES = ("dev", "test", "prod")

_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::([^}]*))?\}")


class ConfigError(RuntimeError):
    """The configuration cannot be loaded (unknown profile, missing required value, bad YAML)."""


def active_profile(environ: Mapping[str, str] | None = None) -> str:
    """Return the profile selected by ``LOYALTY_PROFILE``."""
    env = os.environ if environ is None else environ
    profile = env.get(PROFILE_ENV, DEFAULT_PROFILE).strip() or DEFAULT_PROFILE
    if profile not in PROFILES:
        raise ConfigError(f"unknown profile {profile!r}; expected one of {', '.join(PROFILES)}")
    return profile


def deep_merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Merge ``override`` into a copy of ``base``: mappings merge, everything else replaces."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid YAML in {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must contain a mapping at the top level")
    return data


def _resolve(value: Any, env: Mapping[str, str]) -> Any:
    if isinstance(value, dict):
        return {k: _resolve(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, env) for v in value]
    if not isinstance(value, str) or "${" not in value:
        return value

    def substitute(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in env:
            return env[name]
        if default is None:
            raise ConfigError(f"environment variable {name} is required by the configuration")
        return default

    whole = _PLACEHOLDER.fullmatch(value)
    resolved = _PLACEHOLDER.sub(substitute, value)
    # A value that is one placeholder takes the type of what it resolves to (int, bool…).
    return _typed(resolved) if whole else resolved


_INTEGER = re.compile(r"[-+]?(0|[1-9][0-9]*)")
_FLOAT = re.compile(r"[-+]?[0-9]+\.[0-9]*([eE][-+]?[0-9]+)?")
_BOOLEANS = {"true": True, "false": False}


def _typed(text: str, structures: bool = False) -> Any:
    """An environment value as a setting: a decimal integer, a decimal number, ``true`` /
    ``false`` or ``null`` take that type; with ``structures``, a YAML list or mapping in
    brackets or braces is read as one; anything else is the text exactly as given.

    Not YAML's own reading of a scalar: it cuts a secret at `` #``, reads ``0777`` as octal,
    ``1:30`` as 90 and ``on`` as true, and fails on a leading ``@`` or ``%``.
    """
    if _INTEGER.fullmatch(text):
        return int(text)
    if _FLOAT.fullmatch(text):
        return float(text)
    if text.lower() in _BOOLEANS:
        return _BOOLEANS[text.lower()]
    if text in ("null", "~"):
        return None
    return _structure(text) if structures and text[:1] in ("[", "{") else text


def _structure(text: str) -> Any:
    try:
        parsed = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    return parsed if isinstance(parsed, list | dict) else text


def _apply_overrides(settings: dict[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    for name, raw in env.items():
        if not name.startswith(OVERRIDE_PREFIX):
            continue
        path = [part.lower() for part in name[len(OVERRIDE_PREFIX) :].split("__") if part]
        if not path:
            continue
        node = settings
        for part in path[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = {}
                node[part] = child
            node = child
        node[path[-1]] = _typed(raw, structures=True)
    return settings


def load_settings(
    config_dir: Path | str,
    profile: str | None = None,
    environ: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Load ``application.yml`` merged with the profile file, placeholders resolved, env applied.

    ``extra`` replaces file values before placeholders are resolved (tests use it to point a
    service at their own servers); ``LOYALTY__…`` environment overrides still apply on top.
    """
    env = os.environ if environ is None else environ
    chosen = profile or active_profile(env)
    directory = Path(config_dir)
    settings = _read_yaml(directory / "application.yml")
    settings = deep_merge(settings, _read_yaml(directory / f"application-{chosen}.yml"))
    if extra:
        # Before resolving, so a value given here satisfies a required placeholder.
        settings = deep_merge(settings, extra)
    settings = _resolve(settings, env)
    settings = _apply_overrides(settings, env)
    settings["profile"] = chosen
    _check_kafka(settings.get("kafka"))
    return settings


def _check_kafka(kafka: Any) -> None:
    """Kafka security settings that cannot make a connection stop the process at start."""
    if not isinstance(kafka, Mapping):
        return
    from shared.messaging.kafka import KafkaSettingsError, security_config

    try:
        security_config(kafka)
    except KafkaSettingsError as exc:
        raise ConfigError(str(exc)) from exc
