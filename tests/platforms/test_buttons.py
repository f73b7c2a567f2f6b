"""One-tap buttons: what a button carries, and what a tap may and may not say."""

from __future__ import annotations

import pytest

from bot.app.errors import Rejected
from bot.platforms.buttons import COMMANDS, Tap, tap_of, tap_of_key
from bot.replies.keywords import CommandKind, parse_command


def test_the_one_tap_commands_are_the_grammars_received_and_complete() -> None:
    kinds = [parse_command(Tap(command, "12").text).kind for command in COMMANDS]
    assert kinds == [CommandKind.ACK, CommandKind.COMPLETE]
    assert parse_command(Tap("收到", "12").text).task == "12"


def test_a_tap_reads_back_from_its_key() -> None:
    tap = Tap("完成", "3.2")
    assert tap.key == "duban:完成:3.2"
    assert tap_of_key(tap.key) == tap


@pytest.mark.parametrize(
    ("command", "task"),
    [
        ("确认办结", "1"),  # not a one-tap command: a supervisor decides on a review page
        ("收到", "1\n完成 #2"),  # a second command smuggled in the item
        ("收到", ""),
        ("收到", 12),
        (None, "1"),
        ("收到", "1" * 21),
    ],
)
def test_a_tap_naming_no_one_tap_command_or_no_item_is_refused(
    command: object, task: object
) -> None:
    with pytest.raises(Rejected) as caught:
        tap_of(command, task)
    assert caught.value.status == 400


@pytest.mark.parametrize("key", ["other:收到:1", "duban:收到", "duban::1", ""])
def test_a_key_that_is_not_dubans_is_refused(key: str) -> None:
    with pytest.raises(Rejected):
        tap_of_key(key)
