from __future__ import annotations

import pytest

from bot.delivery.splitting import cut_to_bytes, split_message, utf8_len

TITLE = "【催办通知】市发改委："


def body(lines: int) -> str:
    return "\n".join(
        [TITLE, *(f"{n}. 第{n}项「加快船企升级改造，推进邮轮制造」" for n in range(1, lines + 1))]
    )


def test_a_message_that_fits_is_sent_as_it_is() -> None:
    assert split_message(body(3), 4096) == [body(3)]


@pytest.mark.parametrize("limit", [200, 512, 2048])
def test_every_part_fits_the_byte_limit_and_keeps_every_line(limit: int) -> None:
    parts = split_message(body(80), limit)
    assert len(parts) > 1
    assert all(utf8_len(p) <= limit for p in parts)
    kept = [line for p in parts for line in p.split("\n")[1:]]
    assert kept == body(80).split("\n")[1:]


def test_parts_are_numbered_under_the_repeated_title() -> None:
    parts = split_message(body(80), 512)
    total = len(parts)
    assert [p.split("\n")[0] for p in parts] == [
        f"{TITLE}（{n}/{total}）" for n in range(1, total + 1)
    ]


def test_a_line_longer_than_a_part_is_cut_on_character_boundaries() -> None:
    long_line = "督" * 400  # 1200 bytes
    parts = split_message(f"{TITLE}\n{long_line}", 300)
    assert all(utf8_len(p) <= 300 for p in parts)
    assert "".join(p.split("\n", 1)[1] for p in parts) == long_line


def test_cutting_never_splits_a_character() -> None:
    assert cut_to_bytes("督办提醒", 7) == "督办"
    assert utf8_len(cut_to_bytes("a督", 3)) == 1
