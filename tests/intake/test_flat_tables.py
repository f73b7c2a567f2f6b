"""Tables copied from web pages into text: one cell per line, 「|」 between cells, or spaces."""

from __future__ import annotations

import textwrap

from bot.intake.flat_tables import Kind, assign, kind_of
from bot.intake.labels import Role
from bot.intake.text import read_text


def parse(text: str):  # type: ignore[no-untyped-def]
    return read_text(textwrap.dedent(text), source="test.txt")


def test_a_table_copied_one_cell_per_line_is_read_row_by_row() -> None:
    doc = parse("""
        2016年民生实事目标任务分解表
        序号
        民生实事
        责任单位
        完成时限
        1
        启动建设东柳河城区段综合治理工程。
        县水务局
        县住建局
        12月底前
        2
        新建2座人行天桥。
        县住建局
        9月投入使用
    """)
    assert doc.title == "2016年民生实事目标任务分解表"
    first, second = doc.tasks
    assert (first.number, first.leads, first.co_units) == ("1", ("县水务局",), ("县住建局",))
    assert (first.deadline_text, second.deadline_text) == ("12月底前", "9月投入使用")
    assert second.text == "新建2座人行天桥。"


def test_an_empty_cell_leaves_no_line_and_the_rest_still_find_their_columns() -> None:
    doc = parse("""
        序号
        主要工作举措
        牵头单位
        配合单位
        责任领导
        1
        发展肉鸡全产业链。
        区农业农村局
        区发展改革局、区工业和信息化局
        2
        推动再生塑料项目落地。
        沈阳近海经济区管委会
        生态环境分局
        冯冬昌
    """)
    first, second = doc.tasks
    assert (first.leads, first.co_units, first.supervisor) == (
        ("区农业农村局",),
        ("区发展改革局", "区工业和信息化局"),
        None,
    )
    assert (second.leads, second.supervisor) == (("沈阳近海经济区管委会",), "冯冬昌")


def test_cells_between_bars_and_marked_leads_are_read() -> None:
    doc = parse("""
        序号 |
        主要工作 |
        责任单位 |
        1 |
        生产总值增长7.5%左右 |
        ▲发改局,各部门,各镇乡(街道) |
        2 |
        一般公共预算收入增长7.5% |
        税务局,▲财政局 |
    """)
    assert [(t.leads, t.co_units) for t in doc.tasks] == [
        (("发改局",), ("各部门", "各镇乡(街道)")),
        (("财政局",), ("税务局",)),
    ]


def test_a_row_per_line_with_spaced_cells_and_units_on_the_next_lines() -> None:
    doc = parse("""
        序号 目标任务 责任单位 上半年推进情况
        1 地区生产总值增长6%以上。 区发展改革委 同比增长2.9%。
        2 第一产业增加值增长5%。 区农业农村委
        区林业局
        区供销联社
        同比增长3.4%。
    """)
    assert [(t.leads, t.co_units) for t in doc.tasks] == [
        (("区发展改革委",), ()),
        (("区农业农村委",), ("区林业局", "区供销联社")),
    ]


def test_the_leader_heading_above_a_table_oversees_its_rows() -> None:
    doc = parse("""
        一、夏禹桨区长牵头重点工作
        总负责。
        二、李丹常委、常务副区长牵头重点工作
        序号
        重点工作
        责任单位
        1
        地区生产总值增长6.5%。
        区发改局
    """)
    assert doc.tasks[0].supervisor == "李丹"


def test_tasks_numbered_in_their_text_under_one_group_number_are_separate_rows() -> None:
    doc = parse("""
        序号
        |
        项目
        |
        重点工作目标任务
        |
        牵头领导
        |
        责任单位
        |
        1
        |
        主要预期目标
        |
        1.地区生产总值增长5%以上。
        |
        钱 宇
        |
        ★区发改委、统计局
        |
        2.一般公共预算收入同口径增长6%以上。
        |
        ★区财政局、税务局
        |
    """)
    assert [(t.number, t.text, t.leads) for t in doc.tasks] == [
        ("1", "地区生产总值增长5%以上。", ("区发改委",)),
        ("2", "一般公共预算收入同口径增长6%以上。", ("区财政局",)),
    ]
    assert doc.tasks[0].supervisor == "钱宇"


def test_cells_are_told_apart_by_what_they_hold() -> None:
    assert kind_of("县住建局、县水务局") is Kind.UNITS
    assert kind_of("12月底前") is Kind.DEADLINE
    assert kind_of("9亿元") is Kind.FIGURE
    assert kind_of("冯冬昌") is Kind.PERSON
    assert kind_of("省牵头单位:省商务厅") is Kind.LABELLED
    assert kind_of("推动消费提质升级。") is Kind.TEXT


def test_a_missing_note_cell_does_not_take_the_units() -> None:
    roles = [Role.TEXT, Role.NOTE, Role.UNITS]
    assert assign(["地区生产总值增长6.5%。", "区发改局"], roles) == [
        ("地区生产总值增长6.5%。", Role.TEXT),
        ("区发改局", Role.UNITS),
    ]
