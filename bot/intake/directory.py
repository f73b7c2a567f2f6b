"""The unit directory: the office's own list of units, collectives and supervisors (TOML).

```toml
[units."市发改委"]
aliases = ["市发展改革委"]
channel = "fgw"                      # a [channels.NAME] of the configuration
supervisor = "李明"
contacts = [{ name = "张三", mobile = "13800000000", wecom_userid = "zhangsan" }]

[collectives."各县(区)政府"]
members = ["定海区政府", "普陀区政府"]

[supervisors."李明"]
title = "副市长"
channel = "leader-li"

[office]                             # the supervision office: approves from chat
contacts = [{ name = "王五", wecom_userid = "wangwu" }]
```
"""

from __future__ import annotations

import difflib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from bot.app.errors import IntakeError
from bot.domain.tomlfiles import describe_error, error_key
from bot.intake.units import clean_name, match_key

# How alike two names must be (difflib's ratio) for one to be offered for the other:
# 「市发该委」 and 「市发改委」 share three characters of four (0.75).
_CLOSE_ENOUGH = 0.75


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Contact(_Strict):
    name: str
    mobile: str | None = None
    wecom_userid: str | None = None
    dingtalk_userid: str | None = None
    feishu_open_id: str | None = None
    role: str | None = None


class UnitEntry(_Strict):
    aliases: list[str] = []
    channel: str | None = None
    supervisor: str | None = None
    contacts: list[Contact] = []


class CollectiveEntry(_Strict):
    aliases: list[str] = []
    members: list[str] = []
    channel: str | None = None


class SupervisorEntry(_Strict):
    title: str | None = None
    channel: str | None = None
    contacts: list[Contact] = []


class OfficeEntry(_Strict):
    """The supervision office: its contacts may approve (确认办结, 同意延期 …) from chat."""

    name: str = "督查室"
    contacts: list[Contact] = []


class DirectoryFile(_Strict):
    units: dict[str, UnitEntry] = {}
    collectives: dict[str, CollectiveEntry] = {}
    supervisors: dict[str, SupervisorEntry] = {}
    office: OfficeEntry = OfficeEntry()


@dataclass(frozen=True)
class Directory:
    """Units, collectives and supervisors by canonical name, with alias lookup."""

    units: dict[str, UnitEntry] = field(default_factory=dict)
    collectives: dict[str, CollectiveEntry] = field(default_factory=dict)
    supervisors: dict[str, SupervisorEntry] = field(default_factory=dict)
    _keys: dict[str, str] = field(default_factory=dict)
    office: OfficeEntry = field(default_factory=OfficeEntry)

    @classmethod
    def build(cls, data: DirectoryFile) -> Directory:
        units = {clean_name(k): v for k, v in data.units.items()}
        collectives = {clean_name(k): v for k, v in data.collectives.items()}
        keys: dict[str, str] = {}
        entries: list[tuple[str, list[str]]] = [
            *((n, e.aliases) for n, e in units.items()),
            *((n, e.aliases) for n, e in collectives.items()),
        ]
        for name, aliases in entries:
            for written in (name, *aliases):
                keys.setdefault(match_key(written), name)
        return cls(units, collectives, dict(data.supervisors), keys, data.office)

    def canonical(self, name: str) -> str | None:
        """The directory's name for a unit written as `name` (or an alias), if it knows it."""
        return self._keys.get(match_key(name))

    def aliases(self, name: str) -> list[str]:
        entry = self.units.get(name) or self.collectives.get(name)
        return [clean_name(a) for a in entry.aliases] if entry else []

    def closest(self, name: str) -> str | None:
        """The directory's name nearest to a misspelt one (「市发该委」 → 「市发改委」), if any
        is close; None for a name the directory knows or nothing like it."""
        key = match_key(name)
        if key in self._keys:
            return None
        found = difflib.get_close_matches(key, list(self._keys), n=1, cutoff=_CLOSE_ENOUGH)
        return self._keys[found[0]] if found else None

    def suggest(self, name: str) -> str:
        """「您是否要找：市发改委？」 for a misspelt name of the directory's, else ""."""
        near = self.closest(name)
        return f"您是否要找：{near}？" if near else ""

    def split(self, name: str) -> list[str]:
        """A name the directory does not know, made of names it does, in those names
        (「市发改委市财政局」 → both); otherwise the name alone."""
        key = match_key(name)
        if key in self._keys or len(key) < 6:
            return [name]
        parts: list[str] = []
        start = 0
        while start < len(key):
            end = next((e for e in range(len(key), start, -1) if key[start:e] in self._keys), None)
            if end is None:
                return [name]
            parts.append(key[start:end])
            start = end
        return parts if len(parts) > 1 else [name]

    def members(self, collective: str) -> list[str]:
        entry = self.collectives.get(collective)
        return [self.canonical(m) or clean_name(m) for m in entry.members] if entry else []


def load_directory(path: Path | None) -> Directory:
    """Reads a unit directory file; a missing path gives an empty directory."""
    if path is None:
        return Directory()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        return Directory.build(DirectoryFile.model_validate(data))
    except FileNotFoundError as exc:
        raise IntakeError(str(path), "单位名录文件不存在") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise IntakeError(str(path), f"单位名录不是有效的 TOML：{exc}") from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        where = f"字段 {error_key(first)} " if error_key(first) else ""
        raise IntakeError(str(path), f"单位名录{where}有误：{describe_error(first)}") from exc
