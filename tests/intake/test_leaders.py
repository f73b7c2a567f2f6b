from __future__ import annotations

import pytest

from bot.intake.leaders import find_leader, read_leader, read_person


@pytest.mark.parametrize(
    ("text", "leader"),
    [
        ("王纲市长主抓重点工作", ("王纲", "市长")),
        ("孟学农省长负责的工作", ("孟学农", "省长")),
        ("稳定经济增长（王五副市长分管）", ("王五", "副市长")),
        ("稳增长（常务副市长王五分管）", ("王五", "常务副市长")),
        ("由杨志武副市长负责,市发改委牵头", ("杨志武", "副市长")),
        ("李丹常委、常务副区长牵头重点工作", ("李丹", "常委、常务副区长")),
    ],
)
def test_a_leader_is_found_wherever_a_heading_names_one(text: str, leader: tuple[str, str]) -> None:
    assert find_leader(text) == leader


def test_a_heading_without_a_leader_names_none() -> None:
    assert find_leader("经济发展主任务") is None
    assert read_leader("引进人才(团队)30个") is None


@pytest.mark.parametrize(
    ("value", "person"),
    [
        ("谢瑞武", ("谢瑞武", None)),
        ("王五副市长", ("王五", "副市长")),
        ("常务副市长王五", ("王五", "常务副市长")),
        ("王五（副市长）", ("王五", "副市长")),
        ("刘 哲", ("刘哲", None)),
        ("王嵘、方勇", ("王嵘", None)),
        ("束学龙。", ("束学龙", None)),
    ],
)
def test_a_leader_labels_value_gives_the_person(value: str, person: tuple[str, str | None]) -> None:
    assert read_person(value) == person


def test_a_unit_is_not_a_person() -> None:
    assert read_person("市发改委") is None
