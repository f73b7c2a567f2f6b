from __future__ import annotations

from bot.intake.leaders import read_leader
from bot.intake.units import (
    match_key,
    read_unit_name,
    split_unit_list,
)


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
