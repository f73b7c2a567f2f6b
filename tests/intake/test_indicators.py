from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.intake.indicators import extract_indicators
from bot.intake.model import Indicator

SAMPLE = Path(__file__).parents[2] / "examples" / "zhoushan-2020-key-tasks.txt"


def _values(text: str) -> list[tuple[float, str]]:
    return [(i.value, i.unit) for i in extract_indicators(text)]


def test_it_reads_a_counted_target_with_its_clause() -> None:
    assert extract_indicators("新增公共停车位 1000 个。") == [
        Indicator(phrase="新增公共停车位 1000 个", value=1000, unit="个")
    ]


def test_it_reads_a_percentage_within_its_clause() -> None:
    assert extract_indicators("地区生产总值增长 10%,一般公共预算收入与经济增长基本同步") == [
        Indicator(phrase="地区生产总值增长 10%", value=10, unit="%")
    ]


def test_it_keeps_the_scale_in_money_units_and_the_qualifier_in_the_phrase() -> None:
    assert extract_indicators("加大项目谋划招引力度,年实际到位市外资金 500 亿元以上。") == [
        Indicator(phrase="年实际到位市外资金 500 亿元以上", value=500, unit="亿元")
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("投资 3 万元", (3, "万元")),
        ("外供货值达 32 亿美元", (32, "亿美元")),
        ("出口 5 万美元", (5, "万美元")),
    ],
)
def test_it_keeps_the_scale_of_every_money_unit(text: str, expected: tuple[float, str]) -> None:
    assert _values(text) == [expected]


def test_it_multiplies_counted_things_by_wan_exactly() -> None:
    [indicator] = extract_indicators("引进大学生 1.2 万名以上。")
    assert indicator == Indicator(phrase="引进大学生 1.2 万名以上", value=12000, unit="名")
    assert indicator.value == 12000.0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("新增人口 9.3 万人", (93000, "人")),
        ("接待游客 2 亿人次", (200_000_000, "人次")),
        ("改造 1.5 万户", (15000, "户")),
        ("放流苗种 100 万尾以上", (1_000_000, "尾")),
    ],
)
def test_it_multiplies_other_counted_things(text: str, expected: tuple[float, str]) -> None:
    assert _values(text) == [expected]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("实现港口货物吞吐量 5.67 亿吨", (5.67, "亿吨")),
        ("集装箱吞吐量 100 万标箱", (100, "万标箱")),
        ("新建厂房 3 万平方米", (3, "万平方米")),
        ("造林 1.2 万亩", (1.2, "万亩")),
        ("新增装机 20 万千瓦", (20, "万千瓦")),
        ("新增处置能力 11 万吨/年", (11, "万吨/年")),
    ],
)
def test_it_keeps_the_scale_in_measured_units(text: str, expected: tuple[float, str]) -> None:
    assert _values(text) == [expected]


def test_it_reads_every_target_of_a_respectively_clause() -> None:
    found = extract_indicators("城乡居民人均可支配收入分别增长 7.5%和 8%,服务业增加值增长 8%。")
    assert [(i.value, i.unit) for i in found] == [(7.5, "%"), (8, "%"), (8, "%")]
    assert found[0].phrase == "城乡居民人均可支配收入分别增长 7.5%"
    assert found[2].phrase == "服务业增加值增长 8%"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("提高 2 个百分点", (2, "百分点")),
        ("提高 0.5 百分点", (0.5, "百分点")),
        ("出生率 12‰", (12, "‰")),
        ("整治 3 平方公里", (3, "平方公里")),
        ("新建绿地 500 平方米", (500, "平方米")),
        ("蓄水 20 立方米", (20, "立方米")),
        ("新建管网 10 公里", (10, "公里")),
        ("新建绿道 8 千米", (8, "千米")),
        ("拓宽 30 米", (30, "米")),
        ("造林 8100 亩", (8100, "亩")),
        ("修复湿地 40 公顷", (40, "公顷")),
        ("减排 300 吨", (300, "吨")),
        ("发电 500 千瓦时", (500, "千瓦时")),
        ("装机 200 千瓦", (200, "千瓦")),
        ("装机 50 兆瓦", (50, "兆瓦")),
        ("年人均8000元以上", (8000, "元")),
        ("改造 120 户", (120, "户")),
        ("竣工3221套", (3221, "套")),
        ("审批最多 80 天", (80, "天")),
    ],
)
def test_it_reads_common_units(text: str, expected: tuple[float, str]) -> None:
    assert _values(text) == [expected]


@pytest.mark.parametrize("qualifier", ["以上", "以下", "左右", "以内", "及以上"])
def test_it_keeps_a_trailing_qualifier_in_the_phrase(qualifier: str) -> None:
    [indicator] = extract_indicators(f"失业率控制在 3%{qualifier},零就业家庭动态清零")
    assert indicator.phrase == f"失业率控制在 3%{qualifier}"


def test_it_starts_the_phrase_after_the_previous_delimiter() -> None:
    text = "新增国家高新技术企业、省级企业各 50 家以上;新增平台：3 家"
    assert [i.phrase for i in extract_indicators(text)] == ["省级企业各 50 家以上", "3 家"]


def test_it_strips_a_leading_item_number_from_the_phrase() -> None:
    [indicator] = extract_indicators("55.新增公共停车位 1000 个。")
    assert indicator.phrase == "新增公共停车位 1000 个"


def test_it_reads_full_width_digits_and_percent_signs() -> None:
    assert extract_indicators("增长１０％,新增１．２万名") == [
        Indicator(phrase="增长10%", value=10, unit="%"),
        Indicator(phrase="新增1.2万名", value=12000, unit="名"),
    ]


@pytest.mark.parametrize(
    "text",
    [
        "升级“5313”行动计划",
        "实施“最多 80 天”改革",
        "公布第3批名单",
        "公布第 3 批名单",
        "2020 年市政府重点工作",
        "10月底前完成",
        "6月30日前完成",
        "高质量编制“十四五”规划",
        "加快推进 526 国道",
        "融资 500 亿",
        "推进重点行业 VOCs 治理",
        "每 100 人",
    ],
)
def test_it_skips_numbers_that_are_not_targets(text: str) -> None:
    assert extract_indicators(text) == []


def test_it_reads_thousands_separators_as_one_number() -> None:
    assert extract_indicators("新增公共停车位 1,000 个") == [
        Indicator(phrase="新增公共停车位 1,000 个", value=1000, unit="个")
    ]


def test_it_reads_a_target_right_after_a_quoted_number() -> None:
    found = extract_indicators("引进“5313”创新创业领军人才(团队)30 个以上。")
    assert found == [Indicator(phrase="创新创业领军人才(团队)30 个以上", value=30, unit="个")]


def _sample_items() -> dict[int, str]:
    text = SAMPLE.read_text(encoding="utf-8")
    items = re.finditer(r"^(?P<number>\d+)\.(?P<text>.*)$", text, re.MULTILINE)
    return {int(m["number"]): m["text"] for m in items}


def test_it_reads_the_targets_of_every_sample_item() -> None:
    found = {number: extract_indicators(text) for number, text in _sample_items().items()}
    assert len(found) > 100
    assert Indicator(phrase="新增公共停车位 1000 个", value=1000, unit="个") in found[55]
    assert Indicator(phrase="引进大学生 1.2 万名以上", value=12000, unit="名") in found[36]
    assert [(i.value, i.unit) for i in found[1]] == [(10, "%"), (7.5, "%"), (8, "%"), (8, "%")]
    expected_cargo = [(5.67, "亿吨"), (2.56, "亿吨"), (1500, "万吨")]
    assert [(i.value, i.unit) for i in found[45]] == expected_cargo
    assert found[123] == []
