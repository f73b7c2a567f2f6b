"""Reading the operator's TOML files (rules, ranking, calendar, settings): every problem is a
ConfigError naming the file and, for a bad value, the key."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bot.app.errors import ConfigError


def read_toml(path: Path, what: str = "file") -> dict[str, Any]:
    """The file's tables; `what` names it when it is missing ("rule file not found")."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(str(path), f"{what} not found") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(str(path), f"not valid TOML: {exc}") from None


def invalid(source: str, exc: ValidationError) -> ConfigError:
    """The first validation error as "SOURCE: key" and its message."""
    error = exc.errors()[0]
    key = ".".join(str(part) for part in error["loc"]) or "(file)"
    return ConfigError(f"{source}: {key}", error["msg"])
