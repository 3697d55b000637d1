"""Typed, immutable settings read once at startup.

Values come from environment variables named ``CALLCENTER_<FIELD>`` and, below them in
priority, from an optional ``KEY=VALUE`` file (``config/callcenter.env`` by default, or
the path in ``CALLCENTER_CONFIG``). Defaults live in :class:`Settings` only. The domain
never reads the environment: the composition root builds a ``Settings`` and passes the
values it needs down explicitly.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG_FILE = PROJECT_ROOT / "config" / "callcenter.env"
ENV_PREFIX = "CALLCENTER_"

_SECRET_FIELDS = frozenset({"database_url", "ami_secret", "session_secret"})


class SettingsError(ValueError):
    """A setting has a value that cannot be used; the message names the variable."""


@dataclasses.dataclass(frozen=True, slots=True)
class Settings:
    # Storage. No database_url means: start the embedded PostgreSQL in data_dir/pgdata.
    database_url: str | None = None
    data_dir: Path = PROJECT_ROOT / "var"
    recordings_dir: Path = PROJECT_ROOT / "recordings"

    # Web panel.
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    session_secret: str | None = None
    session_max_age_hours: int = 12
    language: str = "ru"
    timezone: str = "Europe/Moscow"

    # Asterisk Manager Interface. No ami_host means: start the bundled AMI simulator.
    ami_host: str | None = None
    ami_port: int = 5038
    ami_username: str = "crm"
    ami_secret: str = "crmsecret"
    ami_ping_interval: float = 10.0
    ami_ping_timeout: float = 5.0
    ami_reconnect_max_delay: float = 30.0
    ami_action_timeout: float = 10.0

    # Dialplan: how the panel's click-to-call is placed.
    manager_channel_template: str = "PJSIP/{extension}"
    dial_context: str = "from-internal"
    originate_timeout_ms: int = 30000
    originate_caller_id: str = "{name} <{number}>"

    # How channels are classified. Endpoints / Local contexts that are the city side.
    trunk_endpoints: tuple[str, ...] = ("pstn",)
    trunk_local_contexts: tuple[str, ...] = ("from-pstn", "pstn-sim")
    phone_local_contexts: tuple[str, ...] = ("phones",)
    did_numbers: tuple[str, ...] = ()
    internal_extension_pattern: str = r"^\d{2,5}$"
    phone_region: str = "RU"

    # Simulator used when no Asterisk is configured.
    sim_port: int = 5039
    sim_flavour: str = "sip"
    sim_control_port: int = 5040
    sim_traffic_calls_per_minute: float = 0.0

    def redacted(self) -> dict[str, Any]:
        """The settings as a dict fit for a log line: secrets are masked."""
        values = dataclasses.asdict(self)
        for name in _SECRET_FIELDS:
            if values.get(name):
                values[name] = "***"
        return values

    @property
    def uses_simulator(self) -> bool:
        return not self.ami_host


def _read_env_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue

        key, sep, value = line.partition("=")
        if not sep:
            raise SettingsError(f"{path}:{number}: expected KEY=VALUE, got {line!r}")

        values[key.strip()] = value.strip().strip('"').strip("'")
    return values


def _convert(field: dataclasses.Field[Any], raw: str) -> Any:
    kind = str(field.type)
    try:
        if kind.startswith("tuple"):
            return tuple(item.strip() for item in raw.split(",") if item.strip())
        if kind.startswith("Path"):
            return Path(raw).expanduser()
        if kind.startswith("int"):
            return int(raw)
        if kind.startswith("float"):
            return float(raw)
    except ValueError as error:
        raise SettingsError(f"{ENV_PREFIX}{field.name.upper()}: {error}") from None
    return raw or None if "None" in kind else raw


def load_settings(
    environ: Mapping[str, str] | None = None, config_file: Path | None = None
) -> Settings:
    """Build settings from the environment, an optional env file and the defaults."""
    environ = os.environ if environ is None else environ
    if config_file is None:
        config_file = Path(environ.get(f"{ENV_PREFIX}CONFIG", DEFAULT_CONFIG_FILE))

    merged: dict[str, str] = {}
    if config_file.is_file():
        merged.update(_read_env_file(config_file))
    merged.update({k: v for k, v in environ.items() if k.startswith(ENV_PREFIX)})

    values: dict[str, Any] = {}
    for field in dataclasses.fields(Settings):
        key = f"{ENV_PREFIX}{field.name.upper()}"
        if key in merged:
            values[field.name] = _convert(field, merged[key])

    settings = Settings(**values)
    check_settings(settings)
    return settings


def check_settings(settings: Settings) -> None:
    if settings.language not in ("ru", "en"):
        raise SettingsError("CALLCENTER_LANGUAGE must be 'ru' or 'en'")
    if "{extension}" not in settings.manager_channel_template:
        raise SettingsError(
            "CALLCENTER_MANAGER_CHANNEL_TEMPLATE must contain {extension}"
        )
    try:
        re.compile(settings.internal_extension_pattern)
    except re.error as error:
        raise SettingsError(f"CALLCENTER_INTERNAL_EXTENSION_PATTERN: {error}") from None
    if not 1 <= settings.http_port <= 65535:
        raise SettingsError("CALLCENTER_HTTP_PORT must be between 1 and 65535")
