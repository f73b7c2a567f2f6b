"""One-tap buttons on an app's card: what a button carries and how a tap is read back.

A button's value names a command and an item (「收到」 and 「#12」); a tap becomes the text a
unit would have typed (「收到 #12」) and goes through the same pipeline as a typed reply —
identity by the tapper's user id, the keyword grammar, the apply flow — so permissions,
idempotency and answers are the same. Only the one-tap commands are accepted; the rest go
through the report page. Pure: no clock, database or network.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.app.errors import Rejected

# The one-tap commands: bot/replies/keywords.py's ACK and COMPLETE (tests/platforms check
# that they parse as those).
COMMANDS = ("收到", "完成")
# What a tapped button reads once the tap was recorded (WeCom's update_button).
DONE = {"收到": "已收到", "完成": "已申请办结"}
TASK = re.compile(r"[0-9A-Za-z][0-9A-Za-z.\-]{0,19}")  # a task number as plans write them
KEY_PREFIX = "duban"  # WeCom's button key: 「duban:收到:12」


@dataclass(frozen=True)
class Tap:
    command: str
    task: str

    @property
    def text(self) -> str:
        """The reply a unit would have typed."""
        return f"{self.command} #{self.task}"

    @property
    def key(self) -> str:
        """The tap as one string, for platforms whose button carries a key, not a value."""
        return f"{KEY_PREFIX}:{self.command}:{self.task}"


def tap_of(command: object, task: object) -> Tap:
    """The tap a button's value describes; anything else is `Rejected(400)`."""
    if command not in COMMANDS or not isinstance(command, str):
        raise Rejected(400, "the button names no one-tap command")
    if not isinstance(task, str) or TASK.fullmatch(task) is None:
        raise Rejected(400, "the button names no item")
    return Tap(command, task)


def tap_of_key(key: str) -> Tap:
    """The tap a button key (`Tap.key`) describes; anything else is `Rejected(400)`."""
    prefix, _, rest = key.partition(":")
    command, _, task = rest.partition(":")
    if prefix != KEY_PREFIX:
        raise Rejected(400, "the button key is not duban's")
    return tap_of(command, task)
