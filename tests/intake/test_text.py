from __future__ import annotations

import textwrap

import pytest

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


# --- layouts other cities publish ---------------------------------------------------------


def test_a_responsibility_line_after_a_lead_line_adds_co_units_and_keeps_the_lead() -> None:
    doc = parse("""
        1.努力实现地区生产总值增长6.2%左右。
        牵头单位:区发改局
        责任单位:立山经济开发区,全区经济运行各专班
    """)
    assert doc.tasks[0].leads == ("区发改局",)
    assert doc.tasks[0].co_units == ("立山经济开发区", "全区经济运行各专班")


@pytest.mark.parametrize(
    ("lead_label", "co_label"),
    [
        ("牵头责任单位", "协同责任单位"),
        ("主办单位", "协办单位"),
        ("牵头单位", "配合单位"),
        ("牵头部门", "参与单位"),
    ],
)
def test_every_lead_and_co_unit_label_word_is_read(lead_label: str, co_label: str) -> None:
    doc = parse(
        f"1.规上工业增加值增长9.5%以上。\n{lead_label}:市经信局。\n{co_label}:市发改委、市税务局等。"
    )
    assert (doc.tasks[0].leads, doc.tasks[0].co_units) == (("市经信局",), ("市发改委", "市税务局"))


@pytest.mark.parametrize("label", ["责任领导", "牵头负责领导", "分管领导", "联系领导", "牵头领导"])
def test_every_leader_label_sets_the_supervisor(label: str) -> None:
    doc = parse(f"1.地区生产总值增长8.5%以上。\n{label}:束学龙。\n牵头单位:市发改委")
    assert doc.tasks[0].supervisor == "束学龙"


@pytest.mark.parametrize("label", ["完成时限", "时间节点", "时限要求"])
def test_every_deadline_label_is_read(label: str) -> None:
    doc = parse(f"1.新增公办幼儿园40所。\n牵头单位:市教育体育局\n{label}:2023年12月31日前")
    assert doc.tasks[0].deadline_text == "2023年12月31日前"


@pytest.mark.parametrize(
    ("opening", "closing"), [("(", ")"), ("（", "）"), ("[", "]"), ("【", "】"), ("〔", "〕")]
)
def test_labels_in_a_trailing_bracket_of_any_kind_are_read(opening: str, closing: str) -> None:
    doc = parse(
        f"1.地区生产总值增长11%。{opening}责任领导:王五;牵头单位:县发改局(粮食局);"
        f"责任单位:各镇人民政府,嘉鱼经济开发区{closing}"
    )
    (task,) = doc.tasks
    assert task.text == "地区生产总值增长11%。"
    assert task.leads == ("县发改局(粮食局)",)
    assert task.co_units == ("各镇人民政府", "嘉鱼经济开发区")
    assert task.supervisor == "王五"


def test_a_bracket_with_verbs_reads_lead_and_co_units() -> None:
    doc = parse("""
        (一)地区生产总值增长11%左右。(省发改委负责)
        (二)公共财政收入增长13%左右。(省财政厅主办,省国税局、地税局协办)
        (三)居民收入增长12%以上。(省发改委、农委、统计局分别负责)
    """)
    assert [(t.leads, t.co_units) for t in doc.tasks] == [
        (("省发改委",), ()),
        (("省财政厅",), ("省国税局", "地税局")),
        (("省发改委",), ("农委", "统计局")),
    ]


def test_a_bracket_that_only_lists_units_gives_them() -> None:
    doc = parse("1.地区生产总值增长7%以上。(市发展改革委,各县〔市、区〕政府)")
    assert (doc.tasks[0].leads, doc.tasks[0].co_units) == (
        ("市发展改革委",),
        ("各县〔市、区〕政府",),
    )


def test_an_opening_clause_names_leader_lead_and_co_units() -> None:
    doc = parse("""
        1、兰州城市轨道交通项目
        由吴继德副市长负责,市建设局牵头,市发改委配合,按照要求进一步修改完善项目建设方案。
    """)
    (task,) = doc.tasks
    assert (task.supervisor, task.supervisor_title) == ("吴继德", "副市长")
    assert (task.leads, task.co_units) == (("市建设局",), ("市发改委",))


@pytest.mark.parametrize(
    "number",
    ["1.", "1、", "（1）", "(1)", "①", "(一)", "一、"],
)
def test_items_are_numbered_in_every_scheme(number: str) -> None:
    second = {"1.": "2.", "1、": "2、", "（1）": "（2）", "(1)": "(2)", "①": "②"}.get(
        number, number.replace("一", "二")
    )
    doc = parse(
        f"{number}新增停车位。\n责任单位:市住建局\n{second}建设中央商务区。\n责任单位:市发改委"
    )
    assert [t.number for t in doc.tasks] == ["1", "2"]
    assert [t.leads for t in doc.tasks] == [("市住建局",), ("市发改委",)]


def test_chinese_numbered_targets_are_tasks_when_units_follow_them() -> None:
    doc = parse("""
        一、2023年全区经济社会发展的主要预期目标
        (一)地区生产总值增长7%以上
        责任单位:区发展和改革局
        (二)规上工业增加值增长12%以上
        责任单位:区科技和经信局
    """)
    assert [(t.number, t.leads) for t in doc.tasks] == [
        ("1", ("区发展和改革局",)),
        ("2", ("区科技和经信局",)),
    ]
    assert doc.tasks[0].section == "2023年全区经济社会发展的主要预期目标"


def test_chinese_numbered_lines_are_headings_when_units_follow_the_items_below() -> None:
    doc = parse("""
        (一)全力推进产业项目建设。
        1.抓好600个省级重点产业项目。(省发改委主办,省工信委协办)
        2.重点抓好燃气轮机项目。(省工信委主办,省发改委协办)
    """)
    assert [t.number for t in doc.tasks] == ["1", "2"]
    assert doc.tasks[0].section == "全力推进产业项目建设。"


def test_a_notices_own_numbered_points_are_not_tasks() -> None:
    doc = parse("""
        1.明确任务,压实责任。各牵头单位要紧密结合工作实际。
        2.加强督考,狠抓落实。
        2021年市《政府工作报告》任务分解和责任分工方案
        一、主要目标
        1.地区生产总值增长6%左右。
        牵头单位:市发改委
    """)
    assert [(t.number, t.leads) for t in doc.tasks] == [("1", ("市发改委",))]


def test_a_leader_in_brackets_after_a_heading_oversees_its_tasks() -> None:
    doc = parse("""
        一、稳定经济增长（王五副市长分管）
        1.地区生产总值增长6%左右。
        责任单位:市发改委
    """)
    assert (doc.tasks[0].supervisor, doc.tasks[0].supervisor_title) == ("王五", "副市长")


def test_a_leader_with_two_titles_oversees_the_section() -> None:
    doc = parse("""
        二、李丹常委、常务副区长牵头重点工作
        1.地区生产总值增长6.5%。
        责任单位:区发改局
    """)
    assert doc.tasks[0].supervisor == "李丹"


def test_a_heading_naming_a_unit_makes_it_lead_the_tasks_below() -> None:
    doc = parse("""
        一、县示范区管委会牵头工作(8项)
        1.投资3000万元建设南美白对虾养殖基地。
        2.打造食用菌酵素生产基地。
        二、县住建局牵头工作(2项)
        3.改造老旧小区10个。
        协同单位:各乡镇
    """)
    assert [(t.leads, t.co_units) for t in doc.tasks] == [
        (("县示范区管委会",), ()),
        (("县示范区管委会",), ()),
        (("县住建局",), ("各乡镇",)),
    ]


def test_an_item_with_several_brackets_holds_several_tasks() -> None:
    doc = parse(
        "二、加快推进引江济淮工程和森林建设工程\n"
        "一期工程于2020年年底前完成。(牵头责任单位:水利局;配合单位:有关乡镇)。"
        "打造街头游园9个。(牵头责任单位:城管局;配合单位:有关乡镇)"
    )
    assert [(t.leads, dict(t.notes).get("原编号")) for t in doc.tasks] == [
        (("水利局",), None),
        (("城管局",), "2"),
    ]


def test_a_document_on_one_line_is_read_item_by_item() -> None:
    filler = "全力推动重点项目建设," * 20
    doc = parse(
        f"实施意见如下。 一、加快推进重大项目建设 (一)强化目标责任管理。{filler}"
        "(市发改委牵头;市直相关部门,各县、区人民政府配合) (二)落实项目推进机制。"
        f"{filler}(市发改委牵头;市国土局、林业局配合)"
    )
    assert [(t.number, t.leads, t.co_units) for t in doc.tasks] == [
        ("1", ("市发改委",), ("市直相关部门", "各县、区人民政府")),
        ("2", ("市发改委",), ("市国土局", "林业局")),
    ]


def test_items_written_straight_after_a_closing_bracket_are_split() -> None:
    doc = parse(
        "(一)地区生产总值增长11%左右。(省发改委负责)(二)公共财政收入增长13%左右。(省财政厅负责)"
    )
    assert [t.leads for t in doc.tasks] == [("省发改委",), ("省财政厅",)]


def test_the_attachment_list_is_neither_tasks_nor_title() -> None:
    doc = parse("""
        附件:1.2025年县《政府工作报告》任务清单
        2.2025年十五件民盼实事任务分解
        沁县人民政府办公室
        2025年5月18日
        2025年县政府工作报告任务清单
        1.建设3个劳动密集型产业园。
        责任单位:县工信局
    """)
    assert [t.number for t in doc.tasks] == ["1"]
    assert doc.title == "2025年县政府工作报告任务清单"


def test_a_title_split_over_two_lines_is_joined() -> None:
    doc = parse("""
        立山区人民政府
        2023年3月28日
        立山区政府2023年重点工作
        任务分解和责任分工方案
        1.努力实现地区生产总值增长6.2%左右。
        牵头单位:区发改局
    """)
    assert doc.title == "立山区政府2023年重点工作任务分解和责任分工方案"


@pytest.mark.parametrize(
    ("preamble", "year"),
    [
        ("关于印发重点工作责任分工的通知\n嘉政办发〔2021〕5号", 2021),
        ("关于印发重点工作责任分工的通知\n2016年2月26日", 2016),
        ("关于印发重点工作责任分工的通知\n二○○六年四月二十八日", 2006),
        ("关于印发重点工作责任分工的通知\n发布日期:2013-03-27", 2013),
    ],
)
def test_the_year_comes_from_the_doc_number_or_the_signature(preamble: str, year: int) -> None:
    doc = parse(f"{preamble}\n1.地区生产总值增长11%左右。\n责任单位:省发改委")
    assert doc.year == year


def test_a_line_of_a_task_that_reads_like_a_title_stays_in_its_text() -> None:
    doc = parse(
        "1.推进重点工作\n加快民生实事项目建设\n责任单位:市发改委\n2.新增停车位。\n责任单位:市住建局"
    )
    assert doc.tasks[0].text == "推进重点工作加快民生实事项目建设"
    assert [t.number for t in doc.tasks] == ["1", "2"]
