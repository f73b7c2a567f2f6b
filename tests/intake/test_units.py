from __future__ import annotations

from bot.intake.leaders import read_leader
from bot.intake.units import match_key, read_unit_name, split_unit_list


def test_it_splits_on_both_commas_and_the_enumeration_comma() -> None:
    assert split_unit_list("市发改委、市财政局,各县(区)政府，市属有关单位") == [
        "市发改委",
        "市财政局",
        "各县(区)政府",
        "市属有关单位",
    ]


def test_it_does_not_split_inside_parentheses() -> None:
    assert split_unit_list("市府办、各区县政府（含南太湖新区、长合区管委会）") == [
        "市府办",
        "各区县政府（含南太湖新区、长合区管委会）",
    ]


def test_the_lead_remark_is_not_a_unit() -> None:
    names = split_unit_list("市发改委、市财政局(列第一位者为工作牵头或汇总单位,下同)")
    assert names == ["市发改委", "市财政局"]
    assert not any("列第一位" in n for n in names)


def test_a_trailing_parenthesis_names_an_alias() -> None:
    unit = read_unit_name("市委统战部(市民宗局)")
    assert (unit.name, unit.alias, unit.collective) == ("市委统战部", "市民宗局", False)


def test_a_qualifying_parenthesis_stays_part_of_a_collective_name() -> None:
    unit = read_unit_name("各区县政府（含南太湖新区、长合区管委会）")
    assert unit.name == "各区县政府(含南太湖新区、长合区管委会)"
    assert unit.alias is None
    assert unit.collective


def test_dash_variants_are_one_unit() -> None:
    spellings = [
        "普陀山—朱家尖管委会",
        "普陀山-朱家尖管委会",
        "普陀山－朱家尖管委会",
        "普陀山–朱家尖管委会",
    ]
    assert {read_unit_name(s).name for s in spellings} == {"普陀山-朱家尖管委会"}
    assert len({match_key(s) for s in spellings}) == 1


def test_collectives_are_recognised() -> None:
    for name in [
        "各县(区)政府",
        "各功能区管委会",
        "市属有关单位",
        "相关县(区)政府",
        "市级各有关部门",
    ]:
        assert read_unit_name(name).collective, name
    for name in ["市发改委", "定海区政府", "人行舟山市中支"]:
        assert not read_unit_name(name).collective, name


def test_brackets_inside_a_collective_name_are_not_an_alias() -> None:
    unit = read_unit_name("各县(区)政府")
    assert (unit.name, unit.alias) == ("各县(区)政府", None)


def test_a_leader_is_read_with_name_and_title() -> None:
    assert read_leader("王五常务副市长主抓重点工作") == ("王五", "常务副市长")
    assert read_leader("赵六副市长牵头重点工作") == ("赵六", "副市长")
    assert read_leader("经济发展主任务") is None


def test_names_written_without_a_separator_are_split_at_unit_endings() -> None:
    assert split_unit_list("县水务局县住建局县护城河指挥部") == [
        "县水务局",
        "县住建局",
        "县护城河指挥部",
    ]
    assert split_unit_list("市委市政府政研室") == ["市委市政府政研室"]
    assert split_unit_list("县委县政府督查室") == ["县委县政府督查室"]


def test_line_breaks_and_spaced_names_separate_units_but_padded_names_stay_whole() -> None:
    assert split_unit_list("市发改委\n市财政局") == ["市发改委", "市财政局"]
    assert split_unit_list("区发改局 区财政局") == ["区发改局", "区财政局"]
    assert split_unit_list("市 财政局") == ["市财政局"]


def test_two_units_joined_by_and_are_two_but_a_name_with_and_is_one() -> None:
    assert split_unit_list("省直有关部门和各市人民政府") == ["省直有关部门", "各市人民政府"]
    assert split_unit_list("省农业厅等省直有关部门") == ["省农业厅", "省直有关部门"]
    assert split_unit_list("市住房和城乡建设局") == ["市住房和城乡建设局"]


def test_a_shared_word_keeps_a_collective_whole() -> None:
    assert split_unit_list("市财政局、统计局,各县、区人民政府") == [
        "市财政局",
        "统计局",
        "各县、区人民政府",
    ]
    assert split_unit_list("各县、市、区政府") == ["各县、市、区政府"]


def test_verbs_after_a_list_are_not_part_of_a_name() -> None:
    assert split_unit_list("市人力社保局、市农业农村局分别牵头") == ["市人力社保局", "市农业农村局"]


def test_a_bracket_after_a_collective_qualifies_it() -> None:
    unit = read_unit_name("各镇乡(街道)")
    assert (unit.name, unit.alias, unit.collective) == ("各镇乡(街道)", None, True)
