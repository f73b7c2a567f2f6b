"""The ranking history (bot/supervise/ranking_export.py) on real databases (SQLite and
PostgreSQL): the periods it covers, what is refused, and its rows."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from bot.app.errors import DubanError
from bot.domain.periods import parse_period
from bot.store.queries import current_plan
from bot.supervise.ranking_export import ranking_history, ranking_periods, ranking_sheet
from bot.supervise.ranking_flow import RankingSetup, compute_ranking
from tests.support.engine import local
from tests.support.story import Story

# --- the ranking history ------------------------------------------------------------------


def periods(
    sessions: sessionmaker[Session], setup: RankingSetup, now: str = "2020-11-15T10:00", **kw: Any
) -> list[str]:
    with sessions() as session:
        plan = current_plan(session)
        return [p.label for p in ranking_periods(plan, setup, local(now), **kw)]


def test_the_default_range_is_the_plan_years_ended_months(
    story: Story, sessions: sessionmaker[Session], setup: RankingSetup
) -> None:
    assert periods(sessions, setup) == [f"2020-{m:02d}" for m in range(1, 11)]
    assert periods(sessions, setup, "2021-03-01T10:00")[-1] == "2020-12"
    assert periods(sessions, setup, kind="week")[-1] == "2020-W45"  # 11-02 … 11-08
    assert periods(sessions, setup, first="2020-09") == ["2020-09", "2020-10"]
    assert periods(sessions, setup, last="2020-02") == ["2020-01", "2020-02"]
    weeks = periods(sessions, setup, first="2020-W38", last="2020-W40", kind="week")
    assert weeks == ["2020-W38", "2020-W39", "2020-W40"]


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({"first": "2020-13"}, "不存在"),
        ({"last": "2020/10"}, "格式不对"),
        ({"first": "2020-10", "last": "2020-09"}, "--from 2020-10 晚于 --to 2020-09"),
        ({"first": "2020-W38", "last": "2020-10"}, "期间类型不一致"),
        ({"first": "2020-09", "kind": "week"}, "期间类型不一致"),
        ({"kind": "day"}, "不支持的期间类型「day」"),
        ({"last": "2020-11"}, "尚未结束"),
    ],
)
def test_a_bad_range_is_refused(
    story: Story,
    sessions: sessionmaker[Session],
    setup: RankingSetup,
    options: dict[str, str],
    problem: str,
) -> None:
    with pytest.raises(DubanError, match=problem):
        periods(sessions, setup, **options)


def test_nothing_ended_yet_in_the_plan_year(
    story: Story, sessions: sessionmaker[Session], setup: RankingSetup
) -> None:
    with pytest.raises(DubanError, match="2020年还没有已结束的期间"):
        periods(sessions, setup, "2020-01-20T10:00")


def test_the_rows_are_the_rankings_of_each_period(
    story: Story, sessions: sessionmaker[Session], setup: RankingSetup
) -> None:
    story.october()
    with sessions() as session:
        plan = current_plan(session)
        chosen = ranking_periods(plan, setup, local("2020-11-15T10:00"), first="2020-08")
        history = ranking_history(session, chosen, setup)
        expected = [
            (p, compute_ranking(session, parse_period(p), setup))
            for p in ("2020-08", "2020-09", "2020-10")
        ]
    assert [(p.label, rows) for p, rows in history] == expected
    sheet = ranking_sheet(plan, history, "month")
    assert sheet.title == "2020年重点工作任务责任分解 工作晾晒排名（2020-08 至 2020-10，按月）"
    assert [row[:6] for row in sheet.rows] == [
        ("2020-09", 1, "市住建局", 100.0, "绿", "新上榜"),
        ("2020-09", 2, "市财政局", 28.6, "红", "新上榜"),
        ("2020-09", 3, "市发改委", 20.0, "红", "新上榜"),
        ("2020-10", 1, "市财政局", 100.0, "绿", "上升"),
        ("2020-10", 2, "市住建局", 70.0, "黄", "下降"),
        ("2020-10", 3, "市发改委", 20.0, "红", "持平"),
    ]
    # reports due / on time / rate, lead tasks / on track / rate, assignments / overdue / rate
    assert sheet.rows[0][6:] == (1, 1, 100.0, 1, 1, 100.0, 1, 0, 100.0)
    assert sheet.rows[1][6:] == (1, 0, 0.0, 0, 0, None, 1, 0, 100.0)
