from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from bot.intake.deadlines import (
    deadline_events,
    extract_deadline,
    find_deadlines,
    read_deadline_cell,
    year_of_dates,
)

SAMPLE = Path(__file__).parents[2] / "examples" / "zhoushan-2020-key-tasks.txt"


@pytest.mark.parametrize("text", ["10月底前完成", "10月底", "10 月末", "十月底前", "１０月底前"])
def test_it_reads_month_end_deadlines(text: str) -> None:
    assert find_deadlines(text, 2022) == [date(2022, 10, 31)]


def test_it_reads_chinese_numeral_months() -> None:
    assert find_deadlines("十二月底前", 2022) == [date(2022, 12, 31)]
    assert find_deadlines("十一月底前", 2022) == [date(2022, 11, 30)]
    assert find_deadlines("二月底前", 2024) == [date(2024, 2, 29)]


@pytest.mark.parametrize(
    "text", ["6月30日前", "6月30日之前", "6月30日以前", "6月30日完成", "6月30日"]
)
def test_it_reads_month_day_deadlines(text: str) -> None:
    assert find_deadlines(text, 2022) == [date(2022, 6, 30)]


def test_it_reads_spaced_and_full_width_dates() -> None:
    assert find_deadlines("６ 月 ３０ 日前", 2022) == [date(2022, 6, 30)]


def test_it_reads_chinese_numeral_days() -> None:
    assert find_deadlines("六月三十日前", 2022) == [date(2022, 6, 30)]


def test_it_skips_impossible_dates_without_raising() -> None:
    assert find_deadlines("2月30日前完成", 2022) == []
    assert find_deadlines("二月三十日前完成", 2022) == []
    assert find_deadlines("13月底前", 2022) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2022年10月底前", date(2022, 10, 31)),
        ("2022 年 6 月 30 日前", date(2022, 6, 30)),
        ("2021年底前", date(2021, 12, 31)),
        ("2021 年年底", date(2021, 12, 31)),
        ("2023年上半年", date(2023, 6, 30)),
        ("2023年第三季度末", date(2023, 9, 30)),
    ],
)
def test_it_reads_an_explicit_year_whatever_the_plan_year(text: str, expected: date) -> None:
    assert find_deadlines(text, 2020) == [expected]
    assert find_deadlines(text, None) == [expected]


@pytest.mark.parametrize("text", ["年底前", "年底", "年内完成", "年末", "全年完成", "今年底"])
def test_it_reads_year_end_deadlines(text: str) -> None:
    assert find_deadlines(text, 2022) == [date(2022, 12, 31)]


@pytest.mark.parametrize("text", ["半年内完成", "三年内完成", "每年底报送", "明年底", "年内部审计"])
def test_it_does_not_read_spans_or_other_years_as_year_end(text: str) -> None:
    assert find_deadlines(text, 2022) == []


def test_it_reads_half_years() -> None:
    assert find_deadlines("上半年完成", 2022) == [date(2022, 6, 30)]
    assert find_deadlines("下半年完成", 2022) == [date(2022, 12, 31)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("一季度", date(2022, 3, 31)),
        ("第一季度", date(2022, 3, 31)),
        ("一季度末", date(2022, 3, 31)),
        ("第1季度", date(2022, 3, 31)),
        ("二季度", date(2022, 6, 30)),
        ("三季度末", date(2022, 9, 30)),
        ("三季度", date(2022, 9, 30)),
        ("四季度", date(2022, 12, 31)),
    ],
)
def test_it_reads_quarter_ends(text: str, expected: date) -> None:
    assert find_deadlines(text, 2022) == [expected]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3月上旬", date(2022, 3, 10)),
        ("3月中旬", date(2022, 3, 20)),
        ("3月下旬", date(2022, 3, 31)),
        ("二月下旬", date(2022, 2, 28)),
    ],
)
def test_it_reads_ten_day_periods(text: str, expected: date) -> None:
    assert find_deadlines(text, 2022) == [expected]


@pytest.mark.parametrize(
    "text",
    [
        "地区生产总值增长 10%",
        "新增公共停车位 1000 个",
        "2020 年市政府重点工作",
        "高质量编制“十四五”规划",
        "实施“一月一签三会三见”推进机制",
        "2020年12月",
        "四季常青",
    ],
)
def test_it_does_not_read_numbers_years_or_plans_as_deadlines(text: str) -> None:
    assert find_deadlines(text, 2020) == []


def test_without_a_plan_year_only_explicit_years_count() -> None:
    assert find_deadlines("10月底前完成设计,年底前开工", None) == []
    assert find_deadlines("10月底前完成设计,2021年底前开工", None) == [date(2021, 12, 31)]


def test_it_lists_deadlines_in_order_without_repeats() -> None:
    text = "9月底前完成设计,6月30日前开工,三季度末前完成招标,年底前竣工"
    assert find_deadlines(text, 2022) == [
        date(2022, 9, 30),
        date(2022, 6, 30),
        date(2022, 12, 31),
    ]


def test_it_extracts_the_latest_deadline() -> None:
    assert extract_deadline("9月底前完成设计,6月30日前开工", 2022) == date(2022, 9, 30)


def test_it_extracts_nothing_from_text_without_deadlines() -> None:
    assert extract_deadline("加快水利设施建设。", 2022) is None
    assert extract_deadline("10月底前完成", None) is None


def _sample_items() -> dict[int, str]:
    text = SAMPLE.read_text(encoding="utf-8")
    items = re.finditer(r"^(?P<number>\d+)\.(?P<text>.*)$", text, re.MULTILINE)
    return {int(m["number"]): m["text"] for m in items}


def test_it_reads_every_sample_item_without_raising() -> None:
    items = _sample_items()
    assert len(items) > 100
    deadlines = {number: find_deadlines(text, 2020) for number, text in items.items()}
    # Item 8 sets a 「全年」 target; the sample names no other deadline in its items.
    assert deadlines[8] == [date(2020, 12, 31)]
    assert all(not found for number, found in deadlines.items() if number != 8)


def test_it_reads_only_the_dated_signature_in_the_whole_sample() -> None:
    assert find_deadlines(SAMPLE.read_text(encoding="utf-8"), None) == [date(2020, 2, 27)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2027-10-31", date(2027, 10, 31)),
        ("2027/10/31", date(2027, 10, 31)),
        ("2027.10.31", date(2027, 10, 31)),
        ("２０２７．１０．３１", date(2027, 10, 31)),
        ("2027年10月", date(2027, 10, 31)),
        ("2027.10", date(2027, 10, 31)),
        ("12月底前", date(2027, 12, 31)),
        ("9月投入使用", date(2027, 9, 30)),
        ("5月底前动工", date(2027, 5, 31)),
        ("9月", date(2027, 9, 30)),
        ("年底前", date(2027, 12, 31)),
        ("上半年", date(2027, 6, 30)),
        ("三季度末", date(2027, 9, 30)),
        ("2028年", date(2028, 12, 31)),
    ],
)
def test_a_deadline_cell_reads_every_form_offices_write(text: str, expected: date) -> None:
    assert read_deadline_cell(text, 2027).dates == (expected,)


@pytest.mark.parametrize("text", ["长期坚持", "持续推进", "常态化开展", "不设时限"])
def test_ongoing_work_has_no_deadline_of_its_own(text: str) -> None:
    cell = read_deadline_cell(text, 2027)
    assert (cell.dates, cell.ongoing, cell.readable) == ((), True, True)


def test_an_unreadable_cell_is_neither_a_date_nor_ongoing() -> None:
    assert not read_deadline_cell("待定", 2027).readable


def test_prose_reads_a_month_with_what_happens_in_it_and_a_target_year() -> None:
    assert find_deadlines("9月投入使用", 2023) == [date(2023, 9, 30)]
    assert find_deadlines("到2025年,全市新增公共停车位", 2023) == [date(2025, 12, 31)]
    assert find_deadlines("每年9月开展", 2023) == []


def test_each_date_comes_with_what_is_due_then() -> None:
    assert deadline_events("6月底前开工，12月底前建成投用。", 2023) == [
        (date(2023, 6, 30), "开工"),
        (date(2023, 12, 31), "建成投用"),
    ]


def test_the_year_of_dates_is_the_year_most_written_dates_fall_in() -> None:
    texts = ["2027年6月底前开工，2028年底前建成。", "新增公共停车位 2000 个。"]
    assert year_of_dates(texts, ["2027-10-31", "年底前"]) == 2027
    assert year_of_dates(["年底前完成。"], ["12月底前"]) is None
