"""The bundled sample (舟山 2020) read exactly as a careful person would read it."""

from __future__ import annotations

import pytest

from bot.intake.directory import load_directory
from bot.intake.model import ParsedPlan
from bot.intake.reader import read_plan
from tests.support.paths import SAMPLE, SAMPLE_UNITS


@pytest.fixture(scope="module")
def plan() -> ParsedPlan:
    return read_plan(SAMPLE, load_directory(SAMPLE_UNITS))


def task(plan: ParsedPlan, number: str):  # type: ignore[no-untyped-def]
    return next(t for t in plan.tasks if t.number == number)


def test_the_sample_has_128_tasks_in_order(plan: ParsedPlan) -> None:
    assert [t.number for t in plan.tasks] == [str(n) for n in range(1, 129)]
    assert plan.year == 2020
    assert plan.title == "2020 年市政府重点工作任务责任分解"


def test_task_1_is_led_by_the_development_commission(plan: ParsedPlan) -> None:
    assert task(plan, "1").lead == "市发改委"
    assert task(plan, "1").co_units == ("市财政局",)


def test_tasks_124_and_125_are_split_where_they_were_glued(plan: ParsedPlan) -> None:
    t124 = task(plan, "124")
    assert [t124.lead, *t124.co_units] == ["市发改委", "市委市政府政研室", "市府办"]
    assert task(plan, "125").text.startswith("强化督考机制")


def test_task_36_keeps_its_decimal_number(plan: ParsedPlan) -> None:
    assert "1.2 万名" in task(plan, "36").text
    assert any(i.value == 12000 and i.unit == "名" for i in task(plan, "36").indicators)


def test_no_unit_name_contains_the_lead_remark(plan: ParsedPlan) -> None:
    names = [u.name for u in plan.units] + [n for t in plan.tasks for n in (t.lead, *t.co_units)]
    assert not [n for n in names if "列第一位" in n]


def test_both_putuoshan_spellings_are_one_unit(plan: ParsedPlan) -> None:
    assert [u.name for u in plan.units if "朱家尖" in u.name] == ["普陀山-朱家尖管委会"]
    assert "普陀山-朱家尖管委会" in task(plan, "21").co_units
    assert "普陀山-朱家尖管委会" in task(plan, "77").co_units


def test_task_55_has_the_parking_indicator(plan: ParsedPlan) -> None:
    [indicator] = task(plan, "55").indicators
    assert (indicator.value, indicator.unit) == (1000, "个")
    assert indicator.phrase == "新增公共停车位 1000 个"


def test_aliases_in_brackets_become_aliases_of_the_unit(plan: ParsedPlan) -> None:
    units = {u.name: u for u in plan.units}
    assert "市民宗局" in units["市委统战部"].aliases
    assert "市大数据发展管理局" in units["市府办"].aliases
    assert not [n for n in units if "(" in n and not units[n].collective]


def test_collectives_are_marked_and_unknown_members_warned_about(plan: ParsedPlan) -> None:
    units = {u.name: u for u in plan.units}
    assert units["各县(区)政府"].collective
    assert units["市属有关单位"].collective
    assert not units["市发改委"].collective
    assert any("相关县(区)政府" in w for w in plan.warnings)
