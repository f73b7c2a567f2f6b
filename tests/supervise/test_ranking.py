"""The ranking's pure parts: periods, the rule file, scores, ties, lights and trends."""

from __future__ import annotations

from datetime import UTC, date, datetime
from fractions import Fraction
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.app.errors import ConfigError, DubanError
from bot.domain.periods import last_ended, parse_period, period_of
from bot.supervise.ranking import (
    Lights,
    RankingConfig,
    UnitMetrics,
    Weights,
    expected_progress,
    light_of,
    load_ranking_config,
    message_rows,
    parse_config,
    rank_units,
    score_tenths,
    score_text,
    trend_of,
)
from tests.support.paths import ROOT

TZ = ZoneInfo("Asia/Shanghai")
DEFAULT = RankingConfig()
REPORTS_ONLY = Weights(Fraction(1), Fraction(0), Fraction(0))


def unit(name: str, **counts: int) -> UnitMetrics:
    return UnitMetrics(name, **counts)


def reporting(name: str, on_time: int, due: int = 20) -> UnitMetrics:
    """A unit scored on its reports alone (with the REPORTS_ONLY weights)."""
    return unit(name, reports_due=due, reports_on_time=on_time)


# --- periods ------------------------------------------------------------------------------


def test_a_month_runs_from_its_first_day_to_the_next_month() -> None:
    period = parse_period("2020-11")
    assert (period.kind, period.first, period.end) == (
        "month",
        date(2020, 11, 1),
        date(2020, 12, 1),
    )
    assert (period.label, period.title, period.last) == (
        "2020-11",
        "2020年11月",
        date(2020, 11, 30),
    )


def test_an_iso_week_runs_monday_to_sunday() -> None:
    period = parse_period("2020-W45")
    assert (period.kind, period.first, period.end) == ("week", date(2020, 11, 2), date(2020, 11, 9))
    assert period.label == "2020-W45"
    assert period.title == "2020年第45周（11月2日—11月8日）"


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("2020-1", "2020-01"),
        (" 2020-12 ", "2020-12"),
        ("2020-w5", "2020-W05"),
        ("2020-W53", "2020-W53"),
    ],
)
def test_periods_are_read_leniently_and_spelt_one_way(text: str, label: str) -> None:
    assert parse_period(text).label == label


@pytest.mark.parametrize("text", ["2020-13", "2020-00", "2021-W53", "2020-W00"])
def test_a_period_that_does_not_exist_is_refused(text: str) -> None:
    with pytest.raises(DubanError, match="不存在"):
        parse_period(text)


@pytest.mark.parametrize("text", ["2020", "2020/11", "11-2020", "2020-Q4", "W45", "", "2020-11-01"])
def test_a_period_in_another_form_is_refused_with_the_expected_forms(text: str) -> None:
    with pytest.raises(DubanError, match=r"2020-11.*2020-W45"):
        parse_period(text)


def test_previous_periods_cross_year_ends() -> None:
    assert parse_period("2021-01").previous().label == "2020-12"
    assert parse_period("2021-W01").previous().label == "2020-W53"
    assert parse_period("2020-W53").next().label == "2021-W01"
    assert parse_period("2020-12").next().label == "2021-01"


def test_bounds_are_local_midnights_in_utc() -> None:
    start, end = parse_period("2020-11").bounds(TZ)
    assert start == datetime(2020, 10, 31, 16, 0, tzinfo=UTC)
    assert end == datetime(2020, 11, 30, 16, 0, tzinfo=UTC)


def test_the_last_ended_period_is_the_one_before_today() -> None:
    assert last_ended("month", date(2020, 12, 1)).label == "2020-11"
    assert last_ended("month", date(2020, 11, 30)).label == "2020-10"
    assert last_ended("week", date(2020, 11, 9)).label == "2020-W45"  # a Monday
    assert period_of(date(2020, 11, 8), "week").label == "2020-W45"  # a Sunday


# --- the rule file ------------------------------------------------------------------------


def test_the_shipped_file_holds_the_design_defaults() -> None:
    assert load_ranking_config(ROOT / "schedules" / "ranking.toml") == DEFAULT
    assert DEFAULT.weights == Weights(Fraction(50), Fraction(30), Fraction(20))
    assert DEFAULT.lights == Lights(Fraction(85), Fraction(60))
    assert (DEFAULT.periods, DEFAULT.channel, DEFAULT.require_approval) == (
        ("week", "month"),
        "",
        False,
    )
    assert (DEFAULT.accountability.red_periods, DEFAULT.accountability.overdue_working_days) == (
        3,
        10,
    )


def test_an_empty_file_means_the_defaults() -> None:
    assert parse_config({}) == DEFAULT


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"weights": {"on_track": -1}}, "weights.on_track"),
        ({"weights": {"on_time_reports": 0, "on_track": 0, "no_overdue": 0}}, "weights"),
        ({"weights": {"speed": 5}}, "weights.speed"),
        ({"lights": {"green": 50, "yellow": 70}}, "lights"),
        ({"lights": {"green": 120}}, "lights.green"),
        ({"periods": ["quarter"]}, "periods.0"),
        ({"periods": ["week", "week"]}, "periods"),
        ({"require_approval": "maybe"}, "require_approval"),
        ({"accountability": {"red_periods": 0}}, "accountability.red_periods"),
        ({"chanel": "x"}, "chanel"),
    ],
)
def test_a_bad_setting_names_the_file_and_the_key(data: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse_config(data, "schedules/ranking.toml")
    assert error.value.key == f"schedules/ranking.toml: {key}"
    assert error.value.exit_code == 2


def test_a_missing_or_broken_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="晾晒规则文件不存在"):
        load_ranking_config(tmp_path / "ranking.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[weights\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="不是有效的 TOML"):
        load_ranking_config(broken)


def test_other_periods_and_a_channel_are_read(tmp_path: Path) -> None:
    path = tmp_path / "ranking.toml"
    path.write_text(
        'periods = ["month"]\nchannel = " public "\nrequire_approval = true\n'
        "[weights]\non_time_reports = 2.5\n",
        encoding="utf-8",
    )
    config = load_ranking_config(path)
    assert (config.periods, config.channel, config.require_approval) == (("month",), "public", True)
    assert config.weights.on_time_reports == Fraction(5, 2)


# --- scores -------------------------------------------------------------------------------


def test_expected_progress_spreads_the_work_evenly_and_rounds_down() -> None:
    start, deadline = date(2020, 9, 1), date(2020, 10, 31)  # 61 days
    assert expected_progress(start, deadline, date(2020, 9, 1)) == 0
    assert expected_progress(start, deadline, date(2020, 10, 1)) == 49  # 30/61
    assert expected_progress(start, deadline, date(2020, 11, 1)) == 100
    assert expected_progress(start, deadline, date(2021, 1, 1)) == 100
    assert expected_progress(start, date(2020, 8, 1), date(2020, 9, 2)) == 100
    assert expected_progress(start, deadline, date(2020, 8, 1)) == 0


def test_the_default_weights_make_a_score_out_of_100() -> None:
    perfect = unit("甲", reports_due=2, reports_on_time=2, lead_tasks=1, on_track=1, assignments=3)
    assert score_tenths(perfect, DEFAULT.weights) == 1000
    mixed = unit(
        "乙", reports_due=4, reports_on_time=3, lead_tasks=2, on_track=1, assignments=4, overdue=1
    )
    # 50 × 3/4 + 30 × 1/2 + 20 × 3/4 = 37.5 + 15 + 15
    assert score_tenths(mixed, DEFAULT.weights) == 675


def test_a_share_with_nothing_to_count_leaves_the_others_to_carry_the_score() -> None:
    co_unit = unit("丙", reports_due=1, reports_on_time=0, assignments=1)
    assert score_tenths(co_unit, DEFAULT.weights) == 286  # 20/70 → 28.57 → 28.6
    assert score_tenths(unit("丁"), DEFAULT.weights) is None
    only_overdue = Weights(Fraction(0), Fraction(0), Fraction(1))
    assert score_tenths(unit("戊", reports_due=3), only_overdue) is None


def test_scores_round_half_up_to_one_decimal() -> None:
    assert score_tenths(reporting("甲", 1, 8), REPORTS_ONLY) == 125  # 12.5 exactly
    assert score_tenths(reporting("乙", 1, 16), REPORTS_ONLY) == 63  # 6.25 → 6.3
    assert score_tenths(reporting("丙", 1, 3), REPORTS_ONLY) == 333


def test_units_are_ranked_best_first_and_ties_share_a_rank() -> None:
    ranked = rank_units(
        [reporting("丁", 10), reporting("乙", 18), reporting("甲", 18), reporting("丙", 15)],
        REPORTS_ONLY,
        DEFAULT.lights,
    )
    assert [(r.unit, r.score, r.rank) for r in ranked] == [
        ("乙", 90.0, 1),
        ("甲", 90.0, 1),
        ("丙", 75.0, 3),
        ("丁", 50.0, 4),
    ]


def test_scores_equal_once_rounded_tie() -> None:
    # 2/3 and 6667/10000 both show as 66.7: one rank, as the message shows them.
    ranked = rank_units(
        [reporting("甲", 2, 3), reporting("乙", 6667, 10000)], REPORTS_ONLY, DEFAULT.lights
    )
    assert [(r.score, r.rank) for r in ranked] == [(66.7, 1), (66.7, 1)]


def test_units_with_nothing_to_score_are_not_ranked() -> None:
    ranked = rank_units([unit("甲"), reporting("乙", 1, 1)], REPORTS_ONLY, DEFAULT.lights)
    assert [r.unit for r in ranked] == ["乙"]


@pytest.mark.parametrize(
    ("on_time", "light"),
    [(20, "green"), (17, "green"), (16, "yellow"), (12, "yellow"), (11, "red"), (0, "red")],
)
def test_lights_turn_at_their_thresholds(on_time: int, light: str) -> None:
    # Out of 20 reports: 17 → 85.0 (green at 85), 16 → 80, 12 → 60.0 (yellow at 60), 11 → 55.
    (row,) = rank_units([reporting("甲", on_time)], REPORTS_ONLY, DEFAULT.lights)
    assert row.light == light


def test_lights_follow_their_settings() -> None:
    strict = Lights(Fraction(95), Fraction(90))
    assert light_of(Fraction(94), strict) == "yellow"
    assert light_of(Fraction(95), strict) == "green"
    assert light_of(Fraction(89), strict) == "red"


def test_trends_compare_ranks_with_the_previous_period() -> None:
    assert (trend_of(1, 3), trend_of(3, 1), trend_of(2, 2), trend_of(2, None)) == (
        "up",
        "down",
        "same",
        "new",
    )
    ranked = rank_units(
        [reporting("甲", 20), reporting("乙", 15), reporting("丙", 10), reporting("丁", 5)],
        REPORTS_ONLY,
        DEFAULT.lights,
        {"甲": 2, "乙": 1, "丙": 3},
    )
    assert [(r.unit, r.trend) for r in ranked] == [
        ("甲", "up"),
        ("乙", "down"),
        ("丙", "same"),
        ("丁", "new"),
    ]


def test_a_ranked_unit_has_the_documented_json_shape() -> None:
    (row,) = rank_units(
        [unit("甲", reports_due=2, reports_on_time=1, assignments=2, overdue=1)],
        DEFAULT.weights,
        DEFAULT.lights,
    )
    assert row.as_json() == {
        "unit": "甲",
        "score": 50.0,
        "rank": 1,
        "light": "red",
        "trend": "new",
        "metrics": {
            "reports_due": 2,
            "reports_on_time": 1,
            "on_time_rate": 50.0,
            "lead_tasks": 0,
            "on_track": 0,
            "on_track_rate": None,
            "assignments": 2,
            "overdue": 1,
            "no_overdue_rate": 50.0,
        },
    }


def test_message_rows_show_whole_scores_without_decimals_and_trend_marks() -> None:
    ranked = rank_units(
        [reporting("甲", 20), reporting("乙", 1, 3)], REPORTS_ONLY, DEFAULT.lights, {"甲": 2}
    )
    assert message_rows(ranked) == [
        {"rank": 1, "unit": "甲", "score": "100", "light": "green", "trend": "↑"},
        {"rank": 2, "unit": "乙", "score": "33.3", "light": "red", "trend": "新"},
    ]
    assert (score_text(96.0), score_text(87.5)) == ("96", "87.5")
