"""Rule files: the shipped defaults, errors that name the file and key, per-plan/task overrides."""

from __future__ import annotations

import textwrap
from datetime import date, time
from pathlib import Path
from typing import Any

import pytest

from bot.app.errors import ConfigError
from bot.domain.rules import (
    Milestone,
    ReportCycle,
    Rules,
    RulesModel,
    build_rules,
    default_rules,
    load_rules,
)
from tests.support.paths import ROOT

SHIPPED = ROOT / "schedules" / "default.toml"
PLAN_KEYS = ("7", "2020 年市政府重点工作任务责任分解")


def write_rules(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rules.toml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def config_error(path: Path) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load_rules(path)
    return caught.value


def rules_from(**sections: Any) -> Rules:
    """Rules from the same mapping a TOML file holds."""
    return build_rules(RulesModel.model_validate(sections))


# --- the shipped file -----------------------------------------------------------------------


def test_the_shipped_rule_file_equals_the_built_in_defaults() -> None:
    assert load_rules(SHIPPED) == default_rules()


def test_the_default_ladder_is_notice_urge_supervise_escalate_at_nine() -> None:
    rules = default_rules()
    assert [(lv.key, lv.offset, lv.at) for lv in rules.ladder] == [
        ("notice", -3, time(9, 0)),
        ("urge", 0, time(9, 0)),
        ("supervise", 1, time(9, 0)),
        ("escalate", 3, time(9, 0)),
    ]
    assert (rules.repeat_every, rules.repeat_max) == (2, 3)
    assert rules.reports == ReportCycle("monthly", 25)
    assert rules.non_working_day == "next"


def test_only_the_notice_is_skipped_when_the_unit_has_reported() -> None:
    skipped = [lv.key for lv in default_rules().ladder if lv.skip_if_reported]
    assert skipped == ["notice"]


def test_a_level_is_found_by_its_key() -> None:
    assert default_rules().level("supervise").light == "yellow"


def test_a_partial_file_keeps_the_defaults_for_what_it_leaves_out(tmp_path: Path) -> None:
    rules = load_rules(write_rules(tmp_path, "[repeat]\nmax = 5\n"))
    assert rules.repeat_max == 5
    assert rules.ladder == default_rules().ladder


# --- invalid files --------------------------------------------------------------------------


LADDER_OUT_OF_ORDER = """
    [[ladder]]
    level = "urge"
    name = "催办"
    offset = 1
    to = ["unit"]

    [[ladder]]
    level = "notice"
    name = "提醒"
    offset = -3
    to = ["unit"]
"""


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    [
        pytest.param(
            '[[ladder]]\nlevel = "urge"\nname = "催办"\noffset = 0\nto = ["mayor"]\n',
            "ladder.0.to.0",
            "应为以下之一：unit、",
            id="bad-recipient",
        ),
        pytest.param(LADDER_OUT_OF_ORDER, "ladder", "按 offset 从小到大排列", id="out-of-order"),
        pytest.param("colour = 1\n", "colour", "不认识的设置项", id="unknown-top-level-key"),
        pytest.param("[repeat]\ntimes = 3\n", "repeat.times", "不认识的设置项", id="unknown-key"),
        pytest.param(
            '[window]\nstart = "17:30"\nend = "09:00"\n',
            "window",
            "end 应晚于 start",
            id="window-end-before-start",
        ),
        pytest.param(
            '[reports]\ncycle = "dates"\n', "reports", "非空的 dates 列表", id="dates-no-dates"
        ),
        pytest.param("[reports]\nday = 32\n", "reports.day", "在 1 到 31 之间", id="day-32"),
        pytest.param("[repeat]\nevery = -1\n", "repeat.every", "不能为负数", id="negative-repeat"),
        pytest.param("ladder = []\n", "ladder", "至少需要一个级别", id="empty-ladder"),
        pytest.param(
            '[plans."2020".reports]\ncycle = "weekly"\n',
            "plans.2020.reports.cycle",
            "应为以下之一：monthly、",
            id="bad-plan-override",
        ),
    ],
)
def test_an_invalid_rule_file_raises_a_config_error_naming_the_file_and_the_key(
    tmp_path: Path, text: str, key: str, problem: str
) -> None:
    path = write_rules(tmp_path, text)
    error = config_error(path)
    assert error.key == f"{path}: {key}"
    assert problem in error.problem
    assert str(path) in str(error)


def test_ladder_levels_with_the_same_name_are_refused(tmp_path: Path) -> None:
    text = LADDER_OUT_OF_ORDER.replace('"notice"', '"urge"').replace("-3", "2")
    error = config_error(write_rules(tmp_path, text))
    assert error.key.endswith(": ladder")
    assert "不能重复" in error.problem


def test_a_file_that_is_not_toml_raises_a_config_error_naming_the_file(tmp_path: Path) -> None:
    path = write_rules(tmp_path, "[window\nstart = 9\n")
    error = config_error(path)
    assert error.key == str(path)
    assert error.problem.startswith("不是有效的 TOML")


def test_a_missing_rule_file_raises_a_config_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.toml"
    error = config_error(path)
    assert (error.key, error.problem) == (str(path), "规则文件不存在")


def test_a_config_error_exits_with_status_two(tmp_path: Path) -> None:
    assert config_error(tmp_path / "absent.toml").exit_code == 2


# --- overrides per plan and per task --------------------------------------------------------


QUARTERLY = {"cycle": "quarterly", "day": 28}
DATES = {"cycle": "dates", "dates": [date(2020, 6, 30), date(2020, 12, 20)]}
NONE = {"cycle": "none"}
SETUP = (date(2020, 6, 30), "完成项目立项")
GROUNDBREAKING = (date(2020, 9, 30), "开工建设")


def milestones(*items: tuple[date, str]) -> dict[str, list[dict[str, object]]]:
    """A task override holding these milestones."""
    return {"milestones": [{"date": due, "name": name} for due, name in items]}


def test_a_task_without_overrides_uses_the_default_report_cycle() -> None:
    rules = rules_from(plans={"other plan": {"reports": QUARTERLY}}, tasks={"3": {"reports": NONE}})
    assert rules.reports_for(PLAN_KEYS, "12") == ReportCycle("monthly", 25)


def test_a_plan_override_found_by_any_of_its_keys_replaces_the_default() -> None:
    by_title = rules_from(plans={PLAN_KEYS[1]: {"reports": QUARTERLY}})
    by_id = rules_from(plans={PLAN_KEYS[0]: {"reports": QUARTERLY}})
    for rules in (by_title, by_id):
        assert rules.reports_for(PLAN_KEYS, "12") == ReportCycle("quarterly", 28)


def test_a_task_override_wins_over_the_plan_override() -> None:
    rules = rules_from(
        plans={PLAN_KEYS[1]: {"reports": QUARTERLY}}, tasks={"12": {"reports": DATES}}
    )
    assert rules.reports_for(PLAN_KEYS, "12") == ReportCycle(
        "dates", 25, (date(2020, 6, 30), date(2020, 12, 20))
    )
    assert rules.reports_for(PLAN_KEYS, "13") == ReportCycle("quarterly", 28)


def test_a_task_override_inside_the_plan_wins_over_a_global_task_override() -> None:
    rules = rules_from(
        plans={PLAN_KEYS[1]: {"tasks": {"12": {"reports": NONE}}}},
        tasks={"12": {"reports": QUARTERLY}},
    )
    assert rules.reports_for(PLAN_KEYS, "12") == ReportCycle("none")
    assert rules.reports_for(("another plan",), "12") == ReportCycle("quarterly", 28)


def test_a_task_override_without_reports_falls_through_to_the_plan_override() -> None:
    rules = rules_from(
        plans={PLAN_KEYS[0]: {"reports": QUARTERLY}}, tasks={"12": milestones(SETUP)}
    )
    assert rules.reports_for(PLAN_KEYS, "12") == ReportCycle("quarterly", 28)


def test_milestones_come_from_the_task_override_only() -> None:
    rules = rules_from(tasks={"12": milestones(SETUP)})
    assert rules.milestones_for(PLAN_KEYS, "12") == (Milestone(*SETUP),)
    assert rules.milestones_for(PLAN_KEYS, "13") == ()


def test_plan_scoped_milestones_win_over_global_ones() -> None:
    rules = rules_from(
        plans={PLAN_KEYS[1]: {"tasks": {"12": milestones(GROUNDBREAKING)}}},
        tasks={"12": milestones(SETUP)},
    )
    assert rules.milestones_for(PLAN_KEYS, "12") == (Milestone(*GROUNDBREAKING),)
    assert rules.milestones_for(("another plan",), "12") == (Milestone(*SETUP),)


def test_overrides_written_in_toml_are_applied(tmp_path: Path) -> None:
    path = write_rules(
        tmp_path,
        """
        [plans."2020 年市政府重点工作任务责任分解".reports]
        cycle = "quarterly"
        day = 28

        [tasks."12"]
        reports = { cycle = "none" }
        milestones = [{ date = 2020-06-30, name = "完成项目立项" }]
        """,
    )
    rules = load_rules(path)
    assert rules.reports_for(PLAN_KEYS, "1") == ReportCycle("quarterly", 28)
    assert rules.reports_for(PLAN_KEYS, "12") == ReportCycle("none")
    assert rules.milestones_for(PLAN_KEYS, "12") == (Milestone(*SETUP),)
