"""The ranking export (晾晒排名历史): for each ended period in a range, the ranking
`compute_ranking` gives for it (the same as `duban rank --period`): period, rank, unit,
score, light, trend and the counts behind the score, as a `Sheet` (bot/present/sheets.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy.orm import Session

from bot.app.errors import DubanError
from bot.domain.periods import Period, PeriodKind, last_ended, parse_kind, parse_period, period_of
from bot.engine.schedule import plan_start
from bot.present.labels import LIGHT_FILLS, LIGHT_NAMES, TREND_NAMES
from bot.present.sheets import Column, Sheet, Value
from bot.store.models import Plan
from bot.supervise.ranking import RankedUnit
from bot.supervise.ranking_flow import RankingSetup, compute_ranking, ensure_ended

KIND_NAMES = {"month": "按月", "week": "按周"}


def ranking_periods(
    plan: Plan,
    setup: RankingSetup,
    now: datetime,
    *,
    first: str | None = None,
    last: str | None = None,
    kind: str | None = None,
) -> list[Period]:
    """The periods from `first` to `last` (2020-09, 2020-W38; both included), all ended.

    Without `first`, the plan year's first period; without `last`, the last period ended
    within the plan year (up to the last ended one when `first` is given). The kind is that
    of the periods given, else `kind`, else month.
    """
    given = [parse_period(text) for text in (first, last) if text is not None]
    wanted = parse_kind(kind)
    kinds = {p.kind for p in given} | ({wanted} if wanted else set())
    if len(kinds) > 1:
        raise DubanError("--from、--to 与 --kind 的期间类型不一致（月如 2020-11，周如 2020-W45）")
    chosen: PeriodKind = kinds.pop() if kinds else "month"
    today = now.astimezone(setup.tz).date()
    year = plan.year or plan_start(plan).year
    start = parse_period(first) if first else period_of(date(year, 1, 1), chosen)
    if last:
        end = parse_period(last)
    else:
        end = last_ended(chosen, today)
        if first is None:
            end = min(end, period_of(date(year, 12, 31), chosen))
    for period in (start, end):
        if period in given:
            ensure_ended(period, setup.tz, now)
    if end < start:
        if not given:
            raise DubanError(f"{year}年还没有已结束的期间，无可导出的排名")
        raise DubanError(f"期间范围不对：--from {start.label} 晚于 --to {end.label}")
    periods = [start]
    while periods[-1] < end:
        periods.append(periods[-1].next())
    return periods


def ranking_history(
    session: Session, periods: Sequence[Period], setup: RankingSetup
) -> list[tuple[Period, list[RankedUnit]]]:
    """Each period's ranking, as `duban rank --period` computes it."""
    return [(period, compute_ranking(session, period, setup)) for period in periods]


RANKING_COLUMNS = (
    Column("期间", 12),
    Column("排名", 6),
    Column("单位", 24),
    Column("得分", 8),
    Column("灯", 6, fills=LIGHT_FILLS),
    Column("趋势", 8),
    Column("应报送次数", 11),
    Column("按时报送次数", 13),
    Column("按时报送率(%)", 14),
    Column("牵头任务数", 11),
    Column("进度达标数", 11),
    Column("进度达标率(%)", 14),
    Column("承办事项数", 11),
    Column("逾期事项数", 11),
    Column("无逾期率(%)", 13),
)


def ranking_sheet(
    plan: Plan, history: Sequence[tuple[Period, Sequence[RankedUnit]]], kind: PeriodKind
) -> Sheet:
    rows: list[tuple[Value, ...]] = []
    for period, ranked in history:
        for row in ranked:
            m = row.metrics.as_json()
            rows.append(
                (
                    period.label,
                    row.rank,
                    row.unit,
                    row.score,
                    LIGHT_NAMES[row.light],
                    TREND_NAMES[row.trend],
                    m["reports_due"],
                    m["reports_on_time"],
                    m["on_time_rate"],
                    m["lead_tasks"],
                    m["on_track"],
                    m["on_track_rate"],
                    m["assignments"],
                    m["overdue"],
                    m["no_overdue_rate"],
                )
            )
    span = ""
    if history:
        first, last = history[0][0].label, history[-1][0].label
        span = first if first == last else f"{first} 至 {last}"
    return Sheet(
        title=f"{plan.title or plan.key} 工作晾晒排名（{span}，{KIND_NAMES[kind]}）",
        name="晾晒排名",
        columns=RANKING_COLUMNS,
        rows=tuple(rows),
    )
