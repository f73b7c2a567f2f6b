"""Reply keywords: the commands units and supervisors write in enterprise chat.

`parse_command("进展 #12 60% 已完成项目立项")` gives PROGRESS on task "12" at 60 % with the
text 「已完成项目立项」. Pure: no database, network or clock; a date written without a year
takes the caller's `year`. Matching runs on a folded copy of the message (full-width forms
turned into ASCII one character for one), so the free text comes back exactly as written.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from bot.app.errors import ParseError

MAX_LENGTH: Final = 2000


class CommandKind(StrEnum):
    PROGRESS = "进展"
    COMPLETE = "完成"
    EXTEND = "延期"
    BLOCKER = "困难"
    ACK = "收到"
    EVIDENCE = "佐证"
    TODO = "待办"
    HELP = "帮助"
    CONFIRM_CLOSE = "确认办结"
    RETURN = "退回"
    APPROVE_EXTENSION = "同意延期"
    REJECT_EXTENSION = "驳回延期"


@dataclass(frozen=True)
class Command:
    kind: CommandKind
    task: str | None = None
    percent: int | None = None
    date: datetime.date | None = None
    text: str = ""
    plan: int | None = None  # 「计划2」: which plan, where a unit works on several


_K = CommandKind
# (keyword, example, what it does): the units' commands, then the supervisors'.
_UNIT_COMMANDS: Final = (
    (_K.PROGRESS, "进展 #12 60% 已完成项目立项", "报送工作进展，进度百分比可省略"),
    (_K.COMPLETE, "完成 #12 说明", "报告任务已完成，申请办结"),
    (_K.EXTEND, "延期 #12 2020-12-31 原因", "申请延期，注明新的完成日期和原因"),
    (_K.BLOCKER, "困难 #12 描述", "反映工作中遇到的困难，报分管领导协调"),
    (_K.ACK, "收到 #12", "确认已收到任务"),
    (_K.EVIDENCE, "佐证 #12", "注明随后 10 分钟内发送的图片或文件所属事项"),
    (_K.TODO, "待办", "查看本单位未办结事项"),
    (_K.HELP, "帮助", "查看本指令说明"),
)
_SUPERVISOR_COMMANDS: Final = (
    (_K.CONFIRM_CLOSE, "确认办结 #12", "确认任务办结"),
    (_K.RETURN, "退回 #12 原因", "退回办结申请，须说明原因"),
    (_K.APPROVE_EXTENSION, "同意延期 #12", "同意延期申请"),
    (_K.REJECT_EXTENSION, "驳回延期 #12 原因", "驳回延期申请，须说明原因"),
)
_EXAMPLES: Final = {kind: example for kind, example, _ in _UNIT_COMMANDS + _SUPERVISOR_COMMANDS}

HELP_TEXT: Final = "\n".join(
    [
        "督办助手指令说明（「#12」为任务编号，也可写作「12号」「第12项」）：",
        "【承办单位】",
        *(f"{example} —— {meaning}" for _, example, meaning in _UNIT_COMMANDS),
        "【督办人员】",
        *(f"{example} —— {meaning}" for _, example, meaning in _SUPERVISOR_COMMANDS),
    ]
)

_UNKNOWN: Final = "未能识别指令。请按「进展 #12 60% 说明」格式回复，发送「帮助」查看全部指令。"
_TOO_LONG: Final = f"回复内容过长，请控制在 {MAX_LENGTH} 字以内。"
_BAD_PERCENT: Final = "进度应为 0 到 100 之间的百分数，请填写整数，例如「60%」。"
_NEEDS_YEAR: Final = "请写明含年份的完整日期，例如「延期 #12 2020-12-31 原因」。"
_NEEDS_DATE: Final = "请注明延期后的完成日期，例如「延期 #12 2020-12-31 原因」。"
_DATE_FORM: Final = "请按「延期 #12 2020-12-31 原因」格式填写。"
_NO_TASK: Final = frozenset({_K.TODO, _K.HELP})
_NEEDS_TEXT: Final = {
    _K.BLOCKER: "困难的具体情况",
    _K.RETURN: "退回原因",
    _K.REJECT_EXTENSION: "驳回理由",
}
_ALIASES: Final = {kind.value: kind for kind in CommandKind}
_ALIASES.update({"已完成": _K.COMPLETE, "进度": _K.PROGRESS})

_FOLD: Final = str.maketrans(
    {chr(0xFF10 + digit): str(digit) for digit in range(10)}
    | dict(zip("＃﹟％﹪：＠／．\u3000－—–", "##%%:@/. ---", strict=True))
)
_SEP: Final = r"\s:,，、;；。!！"  # what may stand between the parts of a command
# Group messages open with @mentions of the bot: 「@_user_1」 (Feishu) may touch the keyword;
# 「@督办助手」 ends at the first space or punctuation mark (「@督办助手，进展 …」).
_MENTIONS: Final = re.compile(rf"\s*(?:(?:@_user_[0-9]+|@[^{_SEP}]*(?=[{_SEP}]))[{_SEP}]*)*")
_KEYWORD: Final = re.compile(
    "|".join(re.escape(word) for word in sorted(_ALIASES, key=len, reverse=True))
)
_SEPARATORS: Final = re.compile(rf"[{_SEP}]*")
# What precedes stands alone: the message ends or a separator follows.
_APART: Final = rf"(?=$|[{_SEP}])"


def _suffix(chars: str) -> str:
    """A suffix such as 号 or 日, touching what it ends or standing alone after spaces, so
    that 「#12 号召…」 and 「2020-12-31 日程…」 keep their free text whole."""
    return rf"(?:{chars}|\s+{chars}{_APART})"


# Digits are ASCII (full-width ones are folded to them): `\d` would also read Arabic-Indic
# or mathematical digits (「#٤」「𝟔𝟒%」) as numbers nobody meant.
_NUMBER: Final = r"[0-9]+(?:-[0-9]+)*"
# 「第12项」「第12条」「第12号」 and 「12号」 take their suffix; 「#12」 and 「任务12」 only 号,
# so that 「完成 #12 项目已验收」 keeps 「项目已验收」 whole.
_TASK: Final = re.compile(
    rf"第\s*(?P<ordinal>{_NUMBER}){_suffix('[号项条]')}?"
    rf"|(?:#\s*|任务\s*#?\s*)(?P<marked>{_NUMBER}){_suffix('号')}?"
    rf"|(?P<suffixed>{_NUMBER}){_suffix('号')}"
)
# 「计划2」 names the plan where the task number alone is ambiguous.
_PLAN: Final = re.compile(r"计划\s*(?P<plan>[0-9]+)")
# A bare number counts only right after the keyword and only when it stands alone.
_BARE_TASK: Final = re.compile(rf"{_NUMBER}{_APART}")
_PERCENT: Final = re.compile(
    r"(?P<digits>-?[0-9]+(?:\.[0-9]+)?)\s*%|百分之(?P<words>[零〇一二两三四五六七八九十百]+)"
)
_DATE: Final = re.compile(
    r"(?:延期)?(?:至|到)?\s*(?:(?P<year>[0-9]{4})\s*[-/.年]\s*)?"
    rf"(?P<month>[0-9]{{1,2}})\s*[-/.月]\s*(?P<day>[0-9]{{1,2}})(?![0-9]){_suffix('[日号]')}?"
)
_CN_DIGITS: Final = {digit: value for value, digit in enumerate("零一二三四五六七八九")}
_CN_DIGITS.update({"〇": 0, "两": 2})


def help_text() -> str:
    """The command reference sent for 「帮助」, one line per command with an example."""
    return HELP_TEXT


def parse_command(text: str, *, year: int | None = None) -> Command:
    """Reads one chat reply; raises ParseError with the answer to send when it is no command."""
    if len(text) > MAX_LENGTH:
        raise ParseError(_TOO_LONG)
    folded = text.translate(_FOLD)
    start = _MENTIONS.match(folded)
    keyword = _KEYWORD.match(folded, start.end() if start else 0)
    if keyword is None:
        raise ParseError(_UNKNOWN)
    kind = _ALIASES[keyword[0]]
    scan = _Scan(text, folded, keyword.end(), year)
    scan.read_arguments(kind)
    return checked_command(scan.command(kind))


@dataclass
class _Scan:
    text: str
    folded: str
    pos: int
    year: int | None
    task: str | None = None
    percent: int | None = None
    date: datetime.date | None = None
    plan: int | None = None

    def read_arguments(self, kind: CommandKind) -> None:
        readers = self.readers(kind)
        self.skip()
        first = self.pos
        self.read_all(readers)
        if self.pos == first and kind not in _NO_TASK and self.match(_BARE_TASK):
            self.task = _task_number(self.folded[first : self.pos])
            self.read_all(readers)

    def readers(self, kind: CommandKind) -> list[Callable[[], bool]]:
        if kind in _NO_TASK:
            return []
        if kind is _K.PROGRESS:
            return [self.read_task, self.read_percent, self.read_plan]
        if kind is _K.EXTEND:
            return [self.read_date, self.read_task, self.read_plan]
        return [self.read_task, self.read_plan]

    def read_all(self, readers: list[Callable[[], bool]]) -> None:
        self.skip()
        while any(read() for read in readers):
            self.skip()

    def skip(self) -> None:
        self.match(_SEPARATORS)

    def match(self, pattern: re.Pattern[str]) -> re.Match[str] | None:
        found = pattern.match(self.folded, self.pos)
        if found is not None:
            self.pos = found.end()
        return found

    def read_task(self) -> bool:
        found = None if self.task is not None else self.match(_TASK)
        if found is not None:
            self.task = _task_number(found["ordinal"] or found["marked"] or found["suffixed"])
        return found is not None

    def read_plan(self) -> bool:
        found = None if self.plan is not None else self.match(_PLAN)
        if found is not None:
            self.plan = int(found["plan"])
        return found is not None

    def read_percent(self) -> bool:
        found = None if self.percent is not None else self.match(_PERCENT)
        if found is not None:
            self.percent = _percent(found["digits"], found["words"])
        return found is not None

    def read_date(self) -> bool:
        found = None if self.date is not None else self.match(_DATE)
        if found is not None:
            self.date = self.to_date(found)
        return found is not None

    def to_date(self, found: re.Match[str]) -> datetime.date:
        year = int(found["year"]) if found["year"] else self.year
        if year is None:
            raise ParseError(_NEEDS_YEAR)
        try:
            return datetime.date(year, int(found["month"]), int(found["day"]))
        except ValueError:
            written = self.text[found.start() : found.end()].lstrip("延期至到 ")
            raise ParseError(f"日期「{written}」无效，{_DATE_FORM}") from None

    def command(self, kind: CommandKind) -> Command:
        text = self.text[self.pos :].strip()
        return Command(kind, self.task, self.percent, self.date, text, self.plan)


def checked_command(command: Command) -> Command:
    """The command when it has what its kind needs (a task, a date, a reason); else
    ParseError with what is missing. Commands built from a form are checked here too."""
    kind = command.kind
    if command.task is None and kind not in _NO_TASK:
        raise ParseError(f"请注明任务编号，例如「{_EXAMPLES[kind]}」。")
    if kind is _K.EXTEND and command.date is None:
        raise ParseError(_NEEDS_DATE)
    if kind in _NEEDS_TEXT and not command.text:
        raise ParseError(f"请注明{_NEEDS_TEXT[kind]}，例如「{_EXAMPLES[kind]}」。")
    return command


def _task_number(written: str) -> str:
    """「012」 → "12", 「3-02」 → "3-2"."""
    return "-".join(str(int(part)) for part in written.split("-"))


def _percent(digits: str | None, words: str | None) -> int:
    value = float(digits) if digits is not None else _chinese_number(words or "")
    if value is None or not value.is_integer() or not 0 <= value <= 100:
        raise ParseError(_BAD_PERCENT)
    return int(value)


def _chinese_number(words: str) -> float | None:
    """「六十」 → 60, 「五」 → 5, 「一百」 → 100; None for anything else."""
    if words in ("百", "一百"):
        return 100.0
    tens, ten, ones = words.partition("十")
    if not ten:
        return float(_CN_DIGITS[words]) if words in _CN_DIGITS else None
    high = _CN_DIGITS.get(tens, None if tens else 1)
    low = _CN_DIGITS.get(ones, None if ones else 0)
    return None if high is None or low is None else float(high * 10 + low)
