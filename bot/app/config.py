"""Settings: a TOML file, overridden by `DUBAN_`-prefixed environment variables.

The file is `--config PATH`, else `$DUBAN_CONFIG`, else ./config.toml, else
./config.example.toml. `DUBAN_DATABASE__URL=...` overrides `[database] url`. Settings are
loaded once by the CLI and passed down; nothing reads them at import time.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError, model_validator
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from bot.app.errors import ConfigError
from bot.app.sections import (
    NAME,
    ChannelSettings,
    DatabaseSettings,
    DeliverySettings,
    DigestSettings,
    DirectorySettings,
    InboundSettings,
    LogSettings,
    PlanSettings,
    RepliesSettings,
    ReportSettings,
    SchedulesSettings,
    WebSettings,
)
from bot.domain.tomlfiles import describe_error, error_key
from bot.platforms.formats import Formats, MessageFormat

DEFAULT_FILES = (Path("config.toml"), Path("config.example.toml"))


__all__ = [
    "ChannelSettings",
    "DatabaseSettings",
    "DeliverySettings",
    "DigestSettings",
    "DirectorySettings",
    "InboundSettings",
    "LogSettings",
    "PlanSettings",
    "RepliesSettings",
    "ReportSettings",
    "SchedulesSettings",
    "Settings",
    "WebSettings",
    "find_config_file",
    "load_settings",
]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="DUBAN_", env_nested_delimiter="__", extra="forbid", frozen=True
    )

    database: DatabaseSettings = DatabaseSettings()
    directory: DirectorySettings = DirectorySettings()
    plan: PlanSettings = PlanSettings()
    schedules: SchedulesSettings = SchedulesSettings()
    delivery: DeliverySettings = DeliverySettings()
    channels: dict[str, ChannelSettings] = {"console": ChannelSettings(platform="console")}
    inbound: dict[str, InboundSettings] = {}
    web: WebSettings = WebSettings()
    replies: RepliesSettings = RepliesSettings()
    digest: DigestSettings = DigestSettings()
    report: ReportSettings = ReportSettings()
    log: LogSettings = LogSettings()

    def formats(self) -> Formats:
        """Every channel's message format, with the default and office channels."""
        return Formats(
            {name: MessageFormat(c.platform, c.markup) for name, c in self.channels.items()},
            self.delivery.default_channel,
            self.delivery.office_channel,
        )

    @model_validator(mode="after")
    def _names(self) -> Settings:
        # Names appear in URLs (/hooks/PLATFORM/NAME) and in the audit trail (30 characters).
        for section, names in (("channels", self.channels), ("inbound", self.inbound)):
            for name in names:
                if not NAME.fullmatch(name):
                    raise ValueError(f"{section}.{name}：名称应为 1–30 个字母、数字、- 或 _")
        return self

    @model_validator(mode="after")
    def _channels_exist(self) -> Settings:
        for key in ("default_channel", "office_channel"):
            name = getattr(self.delivery, key)
            if name is not None and name not in self.channels:
                raise ValueError(f"delivery.{key}：未配置 [channels.{name}]")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The file's values arrive as init kwargs; the environment wins over them.
        assert isinstance(init_settings, InitSettingsSource)
        return env_settings, init_settings


def find_config_file(explicit: Path | None = None) -> Path | None:
    """The file to read: the one named, $DUBAN_CONFIG, or the first default that exists."""
    named = explicit or (
        Path(os.environ["DUBAN_CONFIG"]) if os.environ.get("DUBAN_CONFIG") else None
    )
    if named is not None:
        if not named.is_file():
            raise ConfigError("--config", f"配置文件不存在：{named}")
        return named
    return next((p for p in DEFAULT_FILES if p.is_file()), None)


def load_settings(explicit: Path | None = None) -> Settings:
    """Reads and validates the settings; a bad value raises ConfigError naming the key."""
    path = find_config_file(explicit)
    data = _read_toml(path) if path else {}
    try:
        return Settings(**data)
    except ValidationError as exc:
        error = exc.errors()[0]
        parts = [str(part) for part in error["loc"]]
        key = error_key(error) or "config"
        raise ConfigError(key, f"{describe_error(error)}（见 {_origin(parts, path)}）") from None
    except SettingsError as exc:  # e.g. DUBAN_PLAN=x: a whole section must be a JSON object
        raise ConfigError("环境变量", str(exc)) from None


def _origin(parts: list[str], path: Path | None) -> str:
    """Where a bad value came from: its DUBAN_ variable if set, else the file."""
    name = "DUBAN_" + "__".join(parts).upper()
    if any(variable.upper() == name for variable in os.environ):
        return f"${name}"
    return str(path or "默认设置")


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(str(path), f"不是有效的 TOML：{exc}") from None
