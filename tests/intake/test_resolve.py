from __future__ import annotations

from datetime import date

from bot.domain.rules import Milestone
from bot.intake.model import RawDocument
from bot.intake.resolve import plan_year, resolve
from tests.support.factories import make_directory, make_raw_task


def test_an_alias_resolves_every_mention_of_the_unit() -> None:
    raw = RawDocument(
        title=None,
        tasks=(
            make_raw_task(number="1", leads=("市人才办",), co_units=()),
            make_raw_task(number="2", leads=("市委组织部(市人才办)",), co_units=()),
        ),
    )
    plan = resolve(raw, make_directory())
    assert [t.lead for t in plan.tasks] == ["市委组织部", "市委组织部"]
    assert plan.units[0].aliases == ("市人才办",)


def test_names_without_the_city_prefix_are_the_prefixed_unit() -> None:
    raw = RawDocument(
        title=None, tasks=(make_raw_task(number="1", leads=("财政局",), co_units=("发改局",)),)
    )
    directory = make_directory(units={"市财政局": {}, "市发改局": {}})
    plan = resolve(raw, directory)
    assert (plan.tasks[0].lead, plan.tasks[0].co_units) == ("市财政局", ("市发改局",))


def test_a_prefixed_name_matches_an_unprefixed_one_in_the_same_document() -> None:
    raw = RawDocument(
        title=None,
        tasks=(
            make_raw_task(number="1", leads=("财政局",), co_units=()),
            make_raw_task(number="2", leads=("市财政局",), co_units=()),
        ),
    )
    plan = resolve(raw, make_directory())
    assert {t.lead for t in plan.tasks} == {"财政局"}
    assert [u.name for u in plan.units] == ["财政局"]


def test_the_directory_spelling_and_aliases_win() -> None:
    raw = RawDocument(
        title=None, tasks=(make_raw_task(leads=("发改委",), co_units=("普陀山—朱家尖管委会",)),)
    )
    directory = make_directory(
        units={"市发改委": {"aliases": ["发改委"]}, "普陀山-朱家尖管委会": {}}
    )
    plan = resolve(raw, directory)
    assert plan.tasks[0].lead == "市发改委"
    assert plan.tasks[0].co_units == ("普陀山-朱家尖管委会",)


def test_co_leads_before_qian_tou_are_co_units_with_a_lead_flag() -> None:
    raw = RawDocument(
        title=None, tasks=(make_raw_task(leads=("市府办", "市大数据局"), co_units=("市财政局",)),)
    )
    task = resolve(raw, make_directory()).tasks[0]
    assert task.lead == "市府办"
    assert task.co_units == ("市大数据局", "市财政局")
    assert task.co_leads == ("市大数据局",)


def test_a_collective_without_members_gives_a_warning_not_a_failure() -> None:
    raw = RawDocument(
        title=None, tasks=(make_raw_task(co_units=("相关县(区)政府", "各县(区)政府")),)
    )
    directory = make_directory(collectives={"各县(区)政府": {"members": ["定海区政府"]}})
    plan = resolve(raw, directory)
    assert [u.collective for u in plan.units] == [False, True, True]
    assert len(plan.warnings) == 1
    assert "相关县(区)政府" in plan.warnings[0]


def test_deadlines_are_read_in_the_plan_year() -> None:
    raw = RawDocument(
        title="2020年重点工作任务",
        tasks=(
            make_raw_task(number="1", text="10月底前建成。"),
            make_raw_task(number="2", text="上半年完成。", deadline_text="三季度末"),
            make_raw_task(number="3", text="持续推进。"),
        ),
    )
    plan = resolve(raw, make_directory())
    assert plan.year == 2020
    assert [t.deadline for t in plan.tasks] == [date(2020, 10, 31), date(2020, 9, 30), None]


def test_an_explicit_year_overrides_the_title() -> None:
    raw = RawDocument(title="2020年重点工作", tasks=(make_raw_task(text="年底前完成。"),))
    plan = resolve(raw, make_directory(), year=2026)
    assert plan.year == 2026
    assert plan.tasks[0].deadline == date(2026, 12, 31)


def test_the_year_is_read_from_the_title() -> None:
    assert plan_year("2020 年市政府重点工作任务责任分解") == 2020
    assert plan_year("重点工作任务") is None
    assert plan_year(None) is None


def test_names_glued_together_are_split_on_the_directorys_names() -> None:
    directory = make_directory(units={"市发改委": {}, "市财政局": {}})
    plan = resolve(
        RawDocument("t", (make_raw_task(leads=("市发改委市财政局",), co_units=()),)), directory
    )
    assert (plan.tasks[0].lead, plan.tasks[0].co_units) == ("市发改委", ("市财政局",))


def test_a_task_with_two_dates_keeps_the_last_as_deadline_and_the_first_as_milestone() -> None:
    task = make_raw_task(text="5月底前开工，12月底前竣工。")
    (parsed,) = resolve(RawDocument("2023年重点工作", (task,)), make_directory()).tasks
    assert parsed.deadline == date(2023, 12, 31)
    assert parsed.milestones == (Milestone(date(2023, 5, 31), "开工"),)


def test_an_ongoing_deadline_cell_gives_no_deadline_even_if_the_text_has_dates() -> None:
    task = make_raw_task(text="年底前完成", deadline_text="长期坚持")
    (parsed,) = resolve(RawDocument("2023年重点工作", (task,)), make_directory()).tasks
    assert parsed.deadline is None


def test_an_unreadable_deadline_cell_is_warned_about_and_kept_in_the_notes() -> None:
    task = make_raw_task(number="7", text="新建幼儿园", deadline_text="视情况")
    plan = resolve(RawDocument("2023年重点工作", (task,)), make_directory())
    assert plan.tasks[0].deadline is None
    assert ("完成时限", "视情况") in plan.tasks[0].notes
    assert "任务 7 的完成时限「视情况」无法识别，已记入备注" in plan.warnings


def test_the_year_from_the_document_dates_its_deadlines_when_the_title_has_none() -> None:
    task = make_raw_task(text="10月底前完成")
    plan = resolve(RawDocument("重点工作", (task,), year=2021), make_directory())
    assert (plan.year, plan.tasks[0].deadline) == (2021, date(2021, 10, 31))
