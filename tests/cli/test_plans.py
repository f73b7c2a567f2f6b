"""`duban plans`, `plans archive` and `plans remove` (bot/cli/plans.py), and how a reply or a
listing names its plan when two plans are active."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.cli import Duban, fails_with_one_line, json_of, make_duban, succeeds
from tests.support.factories import write_plan

THIS_YEAR = """
    2027年重点工作任务责任分解
    1.新增公共停车位 1000 个，12月底前完成。
    牵头单位:市住建局
    2.推进政务公开，年底前完成。
    牵头单位:市府办
"""
LAST_YEAR = """
    2026年重点工作任务责任分解
    1.改造老旧小区 30 个，12月底前完成。
    牵头单位:市住建局
"""


@pytest.fixture
def duban(db_url: str) -> Duban:
    return make_duban(db_url)


@pytest.fixture
def two_plans(duban: Duban, tmp_path: Path) -> Duban:
    succeeds(duban("import", write_plan(tmp_path, LAST_YEAR, "2026.txt")))
    succeeds(duban("import", write_plan(tmp_path, THIS_YEAR, "2027.txt")))
    return duban


def test_plans_lists_every_plan_with_its_id_year_counts_and_state(two_plans: Duban) -> None:
    rows = json_of(two_plans("plans", "--json"))
    assert [(r["id"], r["year"], r["tasks"], r["state"]) for r in rows] == [
        (1, 2026, 1, "active"),
        (2, 2027, 2, "active"),
    ]
    table = succeeds(two_plans("plans")).stdout
    assert "2026年重点工作任务责任分解" in table
    assert "进行中" in table


def test_an_empty_database_says_how_to_import(duban: Duban) -> None:
    assert "duban import" in succeeds(duban("plans")).stdout


def test_archiving_a_plan_stops_its_reminders_and_keeps_its_tasks(two_plans: Duban) -> None:
    out = succeeds(two_plans("plans", "archive", "1")).stdout
    assert "已归档计划1《2026年重点工作任务责任分解》" in out
    assert json_of(two_plans("plans", "--json"))[0]["state"] == "archived"
    # History stays readable by id; the archived plan's due points have no next action.
    assert json_of(two_plans("tasks", "--plan", "1", "--json"))[0]["number"] == "1"
    sent = succeeds(two_plans("run", "--once", "--at", "2027-12-20T09:00", "--dry-run")).stdout
    assert "改造老旧小区" not in sent


def test_archiving_twice_says_when_it_was_archived(two_plans: Duban) -> None:
    succeeds(two_plans("plans", "archive", "1"))
    assert "已于" in fails_with_one_line(two_plans("plans", "archive", "1"))


def test_removing_asks_first_and_a_no_keeps_everything(two_plans: Duban) -> None:
    result = two_plans("plans", "remove", "1")  # no input: the prompt's default is no
    assert result.exit_code == 1
    assert "删除计划1《2026年重点工作任务责任分解》及其 1 项任务" in result.stdout
    assert len(json_of(two_plans("plans", "--json"))) == 2


def test_removing_with_yes_deletes_the_plan_and_its_tasks(two_plans: Duban) -> None:
    out = succeeds(two_plans("plans", "remove", "1", "--yes")).stdout
    assert out.strip() == "已删除计划1《2026年重点工作任务责任分解》：任务 1 项、交办 1 条。"
    assert [r["id"] for r in json_of(two_plans("plans", "--json"))] == [2]


def test_a_missing_plan_is_named_with_the_ones_that_exist(two_plans: Duban) -> None:
    for command in (("tasks", "--plan", "9"), ("plans", "archive", "9"), ("plans", "remove", "9")):
        line = fails_with_one_line(two_plans(*command))
        assert line == "错误：没有编号为 9 的计划（现有计划：1、2；`duban plans` 列出全部）"


def test_a_task_number_two_plans_share_is_asked_back(two_plans: Duban) -> None:
    result = two_plans("reply", "--as", "市住建局", "完成 #1 已完成")
    assert "第1项见于多个计划" in result.stdout
    assert "例如「完成 #1 计划2」" in result.stdout  # the newest plan first
    statuses = [
        a["status"] for a in json_of(two_plans("tasks", "show", "1", "--json"))["assignments"]
    ]
    assert statuses == ["not_started"]


def test_naming_the_plan_applies_the_reply_there_and_says_so(two_plans: Duban) -> None:
    out = succeeds(two_plans("reply", "--as", "市住建局", "完成 #1 计划1 已完成")).stdout
    assert out.startswith("【计划1《2026年重点工作任务责任分解》】")
    shown = json_of(two_plans("tasks", "show", "1", "--plan", "1", "--json"))
    assert shown["assignments"][0]["status"] == "closure_requested"


def test_a_number_only_one_plan_has_for_the_unit_needs_no_plan(two_plans: Duban) -> None:
    out = succeeds(two_plans("reply", "--as", "市府办", "进展 #2 50%")).stdout
    assert "计划2" in out
    assert "已收到第2项进展（50%）" in out


def test_an_archived_plan_no_longer_takes_replies(two_plans: Duban) -> None:
    succeeds(two_plans("plans", "archive", "1"))
    out = succeeds(two_plans("reply", "--as", "市住建局", "完成 #1 已完成")).stdout
    assert "计划1" not in out
    shown = json_of(two_plans("tasks", "show", "1", "--json"))  # the newest active: plan 2
    assert shown["assignments"][0]["status"] == "closure_requested"


def test_the_todo_answer_lists_each_plan_under_its_name(two_plans: Duban) -> None:
    out = succeeds(two_plans("reply", "--as", "市住建局", "待办")).stdout
    assert "计划1《2026年重点工作任务责任分解》：" in out
    assert "计划2《2027年重点工作任务责任分解》：" in out


def test_the_task_listing_names_its_plan(two_plans: Duban) -> None:
    assert "计划2《2027年重点工作任务责任分解》" in succeeds(two_plans("tasks")).stdout
