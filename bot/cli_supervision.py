"""The supervision commands: `rank` (the 晾晒 ranking of a period) and `rank publish`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from bot.cli_support import out, print_json, reports_errors, sessions_of, settings_of
from bot.supervise.ranking import Period, RankedUnit, last_ended, parse_period, score_text
from bot.supervise.ranking_flow import (
    RankingSetup,
    as_json,
    compute_ranking,
    ensure_ended,
    publish_ranking,
    ranking_setup,
)

rank_app = typer.Typer(
    help="工作晾晒：按月或按周计算单位排名，并发布到公开群。", invoke_without_command=True
)
LIGHT_NAMES = {"green": "🟢 绿", "yellow": "🟡 黄", "red": "🔴 红"}
TREND_NAMES = {"up": "↑ 上升", "down": "↓ 下降", "same": "— 持平", "new": "新上榜"}


def register(app: typer.Typer) -> None:
    app.add_typer(rank_app, name="rank")


def _period(text: str | None, setup: RankingSetup, now: datetime) -> Period:
    """The period named, else the last month that has ended."""
    if text is None:
        return last_ended("month", now.astimezone(setup.tz).date())
    return parse_period(text)


@rank_app.callback()
@reports_errors
def rank_command(
    ctx: typer.Context,
    period: Annotated[
        str | None,
        typer.Option("--period", help="期间：月 2020-11，或 ISO 周 2020-W45（默认上月）。"),
    ] = None,
    as_json_: Annotated[bool, typer.Option("--json", help="输出 JSON。")] = False,
) -> None:
    """计算某期单位排名（晾晒）：按时报送、进度达标、无逾期加权得分，并列同名次。"""
    if ctx.invoked_subcommand is not None:
        return
    setup = ranking_setup(settings_of(ctx))
    now = datetime.now(UTC)
    chosen = _period(period, setup, now)
    ensure_ended(chosen, setup.tz, now)
    with sessions_of(ctx)() as session:
        ranked = compute_ranking(session, chosen, setup)
    if as_json_:
        print_json(as_json(ranked))
        return
    _show(chosen, ranked, setup)


def _show(period: Period, ranked: list[RankedUnit], setup: RankingSetup) -> None:
    w = setup.config.weights
    shown = [score_text(float(x)) for x in (w.on_time_reports, w.on_track, w.no_overdue)]
    out.print(
        f"{period.title} 工作晾晒（{period.label}）：按时报送 {shown[0]}、进度达标 {shown[1]}"
        f"、无逾期 {shown[2]}",
        markup=False,
    )
    if not ranked:
        out.print("本期没有可排名的单位。")
        return
    table = Table("排名", "单位", "得分", "灯", "趋势", "按时报送", "进度达标", "无逾期")
    for row in ranked:
        m = row.metrics
        table.add_row(
            str(row.rank),
            Text(row.unit),
            score_text(row.score),
            LIGHT_NAMES[row.light],
            TREND_NAMES[row.trend],
            f"{m.reports_on_time}/{m.reports_due}",
            f"{m.on_track}/{m.lead_tasks}" if m.lead_tasks else "—",
            f"{m.assignments - m.overdue}/{m.assignments}",
        )
    out.print(table)


@rank_app.command("publish")
@reports_errors
def rank_publish_command(
    ctx: typer.Context,
    period: Annotated[str, typer.Argument(help="期间：月 2020-11，或 ISO 周 2020-W45。")],
) -> None:
    """将某期排名发布到公开群（需审核时，督查室看过预览后用它发布）；同一期只发布一次。"""
    setup = ranking_setup(settings_of(ctx))
    chosen = parse_period(period)
    now = datetime.now(UTC)
    with sessions_of(ctx, write=True).begin() as session:
        result = publish_ranking(session, chosen, setup, now)
    ids = "、".join(str(i) for i in result.message_ids)
    if result.outcome == "already":
        when = result.at.astimezone(setup.tz).strftime("%Y-%m-%d %H:%M") if result.at else "此前"
        out.print(
            f"{chosen.label} 的排名已于 {when} 发布到渠道「{result.channel}」（消息 {ids}），"
            "未重复发布。",
            markup=False,
        )
        return
    out.print(
        f"{chosen.title}的排名（{len(result.rows)} 个单位）已加入发件箱，"
        f"将发送到渠道「{result.channel}」（消息 {ids}）。",
        markup=False,
    )
