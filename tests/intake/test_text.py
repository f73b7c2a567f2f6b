from __future__ import annotations

import textwrap

from bot.intake.text import read_text


def parse(text: str):  # type: ignore[no-untyped-def]
    return read_text(textwrap.dedent(text), source="test.txt")


def test_it_reads_numbered_items_each_followed_by_its_unit_line() -> None:
    doc = parse("""
        2020 年市政府重点工作任务责任分解
        1.地区生产总值增长 10%。
        责任单位:市发改委、市财政局
        2.集中力量抓好重点项目建设。
        责任单位:市发改委
    """)
    assert doc.title == "2020 年市政府重点工作任务责任分解"
    assert [t.number for t in doc.tasks] == ["1", "2"]
    assert doc.tasks[0].leads == ("市发改委",)
    assert doc.tasks[0].co_units == ("市财政局",)
    assert doc.tasks[1].text == "集中力量抓好重点项目建设。"


def test_it_accepts_full_width_punctuation_anywhere() -> None:
    doc = parse("""
        １．推进政务公开标准化规范化。
        责任单位：市府办，各县（区）政府、市财政局
        ２、深化“三服务”活动。
        责任单位：市发改委
    """)
    assert [t.number for t in doc.tasks] == ["1", "2"]
    assert doc.tasks[0].leads == ("市府办",)
    assert doc.tasks[0].co_units == ("各县（区）政府", "市财政局")


def test_it_drops_the_lead_remark_wherever_it_is_attached() -> None:
    doc = parse("""
        1.地区生产总值增长 10%。
        责任单位:市发改委(列第一位者为工作牵头或汇总单位,下同)、市财政局
        2.扩大有效投资。
        责任单位:市发改委、市财政局（列第一位者为工作牵头或汇总单位，下同）
    """)
    assert doc.tasks[0].co_units == ("市财政局",)
    assert doc.tasks[1].co_units == ("市财政局",)


def test_it_gives_each_section_leader_as_supervisor_of_the_tasks_below() -> None:
    doc = parse("""
        一、王五市长主抓重点工作
        1.地区生产总值增长 10%。
        责任单位:市发改委
        二、赵六副市长牵头重点工作
        2.新增公共停车位 1000 个。
        责任单位:市住建局
    """)
    first, second = doc.tasks
    assert (first.section, first.supervisor, first.supervisor_title) == (
        "王五市长主抓重点工作",
        "王五",
        "市长",
    )
    assert (second.supervisor, second.supervisor_title) == ("赵六", "副市长")


def test_a_section_without_a_leader_has_no_supervisor() -> None:
    doc = parse("""
        一、王五市长主抓重点工作
        1.地区生产总值增长 10%。
        责任单位:市发改委
        二、其他重点工作
        2.新增公共停车位 1000 个。
        责任单位:市住建局
    """)
    assert doc.tasks[1].section == "其他重点工作"
    assert doc.tasks[1].supervisor is None


def test_it_reads_responsibilities_from_a_trailing_parenthesis() -> None:
    doc = parse("""
        1.推进政务公开标准化规范化。（市政府办公室、市大数据局牵头，市级各有关部门及各县市区政府按职责分工负责）
        2.新增公共停车位 1000 个。（市住建局负责）
    """)
    first, second = doc.tasks
    assert first.text == "推进政务公开标准化规范化。"
    assert first.leads == ("市政府办公室", "市大数据局")
    assert first.co_units == ("市级各有关部门", "各县市区政府")
    assert second.leads == ("市住建局",)
    assert second.text == "新增公共停车位 1000 个。"


def test_a_parenthesis_without_responsibilities_stays_in_the_text() -> None:
    doc = parse("""
        1.引进创新创业领军人才(团队)30 个以上(含省级)。
        责任单位:市委组织部
    """)
    assert doc.tasks[0].text == "引进创新创业领军人才(团队)30 个以上(含省级)。"


def test_a_number_dot_inside_the_text_does_not_start_a_task() -> None:
    doc = parse("""
        1.引进大学生
        1.2 万名以上,增长 7.5%。
        责任单位:市人力社保局
        2.实现港口货物吞吐量
        5.67 亿吨。
        责任单位:市港航和口岸管理局
    """)
    assert [t.number for t in doc.tasks] == ["1", "2"]
    assert doc.tasks[0].text == "引进大学生1.2 万名以上,增长 7.5%。"


def test_it_splits_an_item_glued_to_the_previous_unit_line() -> None:
    doc = parse("""
        124.重视决策咨询工作。
        责任单位:市发改委、市委市政府政研室、市府办125.强化督考机制、晾晒机制、问责机制。
        责任单位:市府办,各县(区)政府
    """)
    first, second = doc.tasks
    assert first.co_units == ("市委市政府政研室", "市府办")
    assert second.number == "125"
    assert second.text.startswith("强化督考机制")
    assert second.leads == ("市府办",)


def test_it_reads_separate_lead_co_deadline_and_leader_lines() -> None:
    doc = parse("""
        1.建设小干岛中央商务区。
        牵头单位：市发改委、市财政局
        配合单位：市住建局
        完成时限：2020年10月底前
        责任领导：王五副市长
    """)
    task = doc.tasks[0]
    assert task.leads == ("市发改委", "市财政局")
    assert task.co_units == ("市住建局",)
    assert task.deadline_text == "2020年10月底前"
    assert (task.supervisor, task.supervisor_title) == ("王五", "副市长")


def test_a_unit_line_on_the_same_line_as_the_item_is_read() -> None:
    doc = parse("1.新增公共停车位 1000 个。责任单位:市住建局、定海区政府")
    assert doc.tasks[0].text == "新增公共停车位 1000 个。"
    assert doc.tasks[0].co_units == ("定海区政府",)


def test_text_after_the_unit_line_and_before_the_next_item_is_ignored() -> None:
    doc = parse("""
        1.新增公共停车位 1000 个。
        责任单位:市住建局
        (本文有删减)
    """)
    assert doc.tasks[0].text == "新增公共停车位 1000 个。"


def test_an_item_without_units_gives_a_warning() -> None:
    doc = parse("""
        1.新增公共停车位 1000 个。
        2.建设小干岛中央商务区。
        责任单位:市小干岛开发建设指挥部
    """)
    assert doc.tasks[0].leads == ()
    assert "任务 1 未找到责任单位" in doc.warnings


def test_the_title_comes_from_the_notice_when_no_heading_precedes_the_items() -> None:
    doc = parse("""
        舟山市人民政府办公室关于印发2020年市政府重点工作任务责任分解的通知
        各县(区)人民政府:
        1.新增公共停车位 1000 个。
        责任单位:市住建局
    """)
    assert doc.title == "2020年市政府重点工作任务责任分解"


def test_numbering_that_restarts_in_a_new_section_keeps_every_task() -> None:
    doc = parse("""
        一、王五市长主抓重点工作
        1.地区生产总值增长 10%。
        责任单位:市发改委
        二、赵六副市长牵头重点工作
        1.新增公共停车位 1000 个。
        责任单位:市住建局
    """)
    assert len(doc.tasks) == 2
    assert len({t.number for t in doc.tasks}) == 2
    assert any("重复" in w for w in doc.warnings)


def test_a_next_item_whose_text_starts_with_a_number_is_still_an_item() -> None:
    doc = parse("""
        1.新增公共停车位 1000 个。
        责任单位:市住建局
        2.10月底前建成小干岛中央商务区。
        责任单位:市发改委
    """)
    assert [t.number for t in doc.tasks] == ["1", "2"]
    assert doc.tasks[1].text == "10月底前建成小干岛中央商务区。"
