"""The supervision commands: `rank` (the 晾晒 ranking of a period), `rank publish`, and
`accountability` (the 问责 ledger) with `accountability confirm|dismiss`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from rich.table import Table
from rich.text import Text

from bot.app.errors import UsageError
from bot.app.runtime import composer_of
from bot.cli.support import JsonFlag, out, print_json, reports_errors, sessions_of, settings_of
from bot.domain.periods import Period, last_ended, parse_period
from bot.present.labels import LIGHT_DOTS, LIGHT_NAMES, TREND_ARROWS, TREND_NAMES
from bot.store.models import AccountabilityEntry
from bot.supervise import ledger
from bot.supervise.accountability import RULE_NAMES, STATES
from bot.supervise.ledger import STATE_NAMES, Decision
from bot.supervise.ranking import RankedUnit, score_text
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


accountability_app = typer.Typer(
    help="问责台账：规则登记的问责事项及其依据，确认或撤销。",
    invoke_without_command=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(rank_app, name="rank")
    app.add_typer(accountability_app, name="accountability")


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
    as_json_: JsonFlag = False,
) -> None:
    """计算某期单位排名（晾晒）：按时报送、进度达标、无逾期加权得分，并列同名次。"""
    if ctx.invoked_subcommand is not None:
        return
    setup = ranking_setup(settings_of(ctx), composer_of(settings_of(ctx)))
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
            f"{LIGHT_DOTS[row.light]} {LIGHT_NAMES[row.light]}",
            f"{TREND_ARROWS[row.trend]} {TREND_NAMES[row.trend]}",
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
    """将某期排名发布到公开群（需审核时，看过预览后用它发布）；同一期只发布一次。"""
    setup = ranking_setup(settings_of(ctx), composer_of(settings_of(ctx)))
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


# --- accountability -----------------------------------------------------------------------


STATE_HELP = "只列出该状态：open 待处理、confirmed 已确认、dismissed 已撤销。"


@accountability_app.callback()
@reports_errors
def accountability_command(
    ctx: typer.Context,
    as_json_: JsonFlag = False,
    state: Annotated[str | None, typer.Option("--state", help=STATE_HELP)] = None,
) -> None:
    """列出问责事项（连续亮红灯、逾期超过规定工作日），含编号、单位、规则、依据和状态。"""
    if ctx.invoked_subcommand is not None:
        return
    if state is not None and state not in STATES:
        raise UsageError(f"未知的状态「{state}」，可选：{'、'.join(STATES)}")
    settings = settings_of(ctx)
    with sessions_of(ctx)() as session:
        entries = ledger.list_entries(session, state)
        if as_json_:
            print_json(ledger.as_json(entries))
            return
        _show_entries(entries, ZoneInfo(settings.plan.timezone))


def _show_entries(entries: list[AccountabilityEntry], tz: ZoneInfo) -> None:
    if not entries:
        out.print("没有问责事项。")
        return
    table = Table("编号", "单位", "规则", "事由", "登记", "状态", "处理意见")
    for entry in entries:
        decided = entry.decided_at.astimezone(tz).strftime("%m-%d") if entry.decided_at else ""
        state = STATE_NAMES.get(entry.state, entry.state)
        table.add_row(
            str(entry.id),
            Text(entry.unit.name),
            RULE_NAMES.get(entry.rule, entry.rule),
            Text(entry.summary),
            entry.created_at.astimezone(tz).strftime("%Y-%m-%d"),
            f"{state} {decided}".strip(),
            Text(entry.note or ""),
        )
    out.print(table)


def _decide(ctx: typer.Context, entry_id: int, decision: Decision, note: str | None) -> None:
    with sessions_of(ctx, write=True).begin() as session:
        office = composer_of(settings_of(ctx)).office
        entry = ledger.decide(
            session, entry_id, decision, datetime.now(UTC), note=note, actor=office
        )
        unit, summary = entry.unit.name, entry.summary
    shown = f"，处理意见：{entry.note}" if entry.note else ""
    out.print(
        f"问责事项 {entry_id}（{unit}：{summary}）{STATE_NAMES[decision]}{shown}。",
        markup=False,
    )


EntryId = Annotated[int, typer.Argument(metavar="ID", help="问责事项编号。")]
Note = Annotated[str | None, typer.Option("--note", help="处理意见（记入台账和审计）。")]


@accountability_app.command("confirm")
@reports_errors
def accountability_confirm_command(
    ctx: typer.Context,
    entry_id: EntryId,
    note: Note = None,
) -> None:
    """确认一项待处理的问责事项（确认后列入次月第一份督办日报）。"""
    _decide(ctx, entry_id, "confirmed", note)


@accountability_app.command("dismiss")
@reports_errors
def accountability_dismiss_command(
    ctx: typer.Context,
    entry_id: EntryId,
    note: Note = None,
) -> None:
    """撤销一项待处理的问责事项（不予问责），可附说明。"""
    _decide(ctx, entry_id, "dismissed", note)
