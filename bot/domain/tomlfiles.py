"""Reading the operator's TOML files (rules, ranking, calendar, settings): every problem is a
ConfigError naming the file and, for a bad value, the key, in Chinese."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bot.app.errors import ConfigError

# pydantic's error types as an operator reads them; `{name}` is taken from the error's context.
ERROR_WORDS = {
    "missing": "缺少此项",
    "extra_forbidden": "不认识的设置项（请检查拼写）",
    "string_type": "应为文本（加引号）",
    "int_type": "应为整数",
    "int_parsing": "应为整数",
    "int_from_float": "应为整数",
    "float_type": "应为数字",
    "float_parsing": "应为数字",
    "bool_type": "应为 true 或 false",
    "bool_parsing": "应为 true 或 false",
    "url_type": "应为网址",
    "url_parsing": "不是有效的网址",
    "url_scheme": "网址应以 http:// 或 https:// 开头",
    "literal_error": "应为以下之一：{expected}",
    "enum": "应为以下之一：{expected}",
    "greater_than": "应大于 {gt}",
    "greater_than_equal": "应不小于 {ge}",
    "less_than": "应小于 {lt}",
    "less_than_equal": "应不大于 {le}",
    "string_too_short": "至少 {min_length} 个字符",
    "string_too_long": "至多 {max_length} 个字符",
    "too_short": "至少 {min_length} 项",
    "too_long": "至多 {max_length} 项",
    "list_type": "应为列表（[...]）",
    "dict_type": "应为表（[...] 或 {...}）",
    "model_type": "应为表（[...] 或 {...}）",
    "model_attributes_type": "应为表（[...] 或 {...}）",
    "date_type": "应为日期，如 2027-10-01",
    "date_parsing": "应为日期，如 2027-10-01",
    "date_from_datetime_parsing": "应为日期，如 2027-10-01",
    "datetime_type": "应为时间，如 2027-10-01T09:00",
    "datetime_parsing": "应为时间，如 2027-10-01T09:00",
    "time_type": "应为时刻，如 09:00",
    "time_parsing": "应为时刻，如 09:00",
    "path_type": "应为文件路径",
}


def describe_error(error: Mapping[str, Any]) -> str:
    """One pydantic error (an item of `ValidationError.errors()`) in Chinese; a validator's own
    message is kept, an error type not listed keeps pydantic's words."""
    words = ERROR_WORDS.get(error["type"])
    if words is None:
        message = str(error["msg"])
        for prefix in ("Value error, ", "Assertion failed, "):
            message = message.removeprefix(prefix)
        return message
    context = {k: _listed(str(v)) for k, v in (error.get("ctx") or {}).items()}
    try:
        return words.format(**context)
    except (KeyError, IndexError):
        return words.split("：")[0]


def _listed(expected: str) -> str:
    """pydantic's "'a', 'b' or 'c'" as 「a、b、c」."""
    return re.sub(r"'?(?:, | or )'?", "、", expected).strip("'")


def error_key(error: Mapping[str, Any]) -> str:
    """The dotted key of a pydantic error (`plan.timezone`), or "" for the whole file."""
    return ".".join(str(part) for part in error["loc"])


def read_toml(path: Path, what: str = "文件") -> dict[str, Any]:
    """The file's tables; `what` names it when it is missing (「规则文件不存在」)."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(str(path), f"{what}不存在") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(str(path), f"不是有效的 TOML：{exc}") from None


def invalid(source: str, exc: ValidationError) -> ConfigError:
    """The first validation error as "SOURCE: key" and what is wrong, in Chinese."""
    error = exc.errors()[0]
    return ConfigError(f"{source}: {error_key(error) or '（整个文件）'}", describe_error(error))
