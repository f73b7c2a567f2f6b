"""The export commands: `export progress` (进展情况表) and `export ranking` (晾晒 history)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import typer

from bot.app.errors import DubanError
from bot.app.runtime import composer_of
from bot.cli.support import PlanId, out, progress_bar, reports_errors, sessions_of, settings_of
from bot.domain.calendar import WorkCalendar, load_overrides
from bot.domain.rules import load_rules
from bot.present.sheets import check_target, choose_format, render, write_atomic
from bot.store import queries
from bot.supervise.progress import check_as_of, progress_sheet, progress_table
from bot.supervise.ranking_export import ranking_history, ranking_periods, ranking_sheet
from bot.supervise.ranking_flow import ranking_setup

export_app = typer.Typer(
    help="导出：进展情况表、晾晒排名历史（xlsx、csv 或 md 文件）。", no_args_is_help=True
)

Output = Annotated[
    Path, typer.Option("--output", "-o", help="输出文件；先写临时文件，完成后再替换。")
]
Format = Annotated[
    str | None,
    typer.Option("--format", "-f", help="格式：xlsx、csv（UTF-8 带 BOM）或 md（默认按扩展名）。"),
]


def register(app: typer.Typer) -> None:
    app.add_typer(export_app, name="export")


@export_app.command("progress")
@reports_errors
def export_progress_command(
    ctx: typer.Context,
    output: Output,
    fmt: Format = None,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="截至日期 2020-10-31（计划时区当日结束时；默认今天）。"),
    ] = None,
    plan: PlanId = None,
) -> None:
    """导出进展情况表：序号、内容与要求、进展情况、责任单位、状态、灯（截至某日）。"""
    chosen = choose_format(fmt, output)
    day = parse_day(as_of) if as_of is not None else None
    check_target(output)
    settings = settings_of(ctx)
    rules = load_rules(settings.schedules.rules)
    calendar = WorkCalendar(load_overrides(settings.schedules.calendar))
    now = datetime.now(UTC)
    with progress_bar("正在导出进展情况表"), sessions_of(ctx)() as session:
        found = queries.current_plan(session, plan)
        today = now.astimezone(ZoneInfo(found.timezone)).date()
        day = day or today
        check_as_of(found, day, today)
        table = progress_table(session, found, day, rules, calendar)
        write_atomic(output, render(progress_sheet(table), chosen))
    out.print(
        f"已导出进展情况表（{len(table.rows)} 项任务，截至 {day.isoformat()}，{chosen}）：{output}",
        markup=False,
    )


@export_app.command("ranking")
@reports_errors
def export_ranking_command(
    ctx: typer.Context,
    output: Output,
    fmt: Format = None,
    from_: Annotated[
        str | None,
        typer.Option(
            "--from", help="起始期间：月 2020-09 或 ISO 周 2020-W38（默认计划年度首期）。"
        ),
    ] = None,
    to: Annotated[
        str | None,
        typer.Option("--to", help="截止期间（含；默认计划年度内最近结束的一期）。"),
    ] = None,
    kind: Annotated[
        str | None,
        typer.Option(
            "--kind", help="期间类型：month 按月或 week 按周（默认按 --from/--to，否则按月）。"
        ),
    ] = None,
    plan: PlanId = None,
) -> None:
    """导出晾晒排名历史：每个已结束期间每个单位一行（期间、排名、单位、得分、灯、趋势及各项指标）。"""
    chosen = choose_format(fmt, output)
    check_target(output)
    setup = ranking_setup(settings_of(ctx), composer_of(settings_of(ctx)))
    now = datetime.now(UTC)
    with progress_bar("正在导出晾晒排名"), sessions_of(ctx)() as session:
        found = queries.current_plan(session, plan)
        periods = ranking_periods(found, setup, now, first=from_, last=to, kind=kind)
        history = ranking_history(session, periods, setup)
        sheet = ranking_sheet(found, history, periods[0].kind)
        write_atomic(output, render(sheet, chosen))
    span = periods[0].label if len(periods) == 1 else f"{periods[0].label} 至 {periods[-1].label}"
    out.print(
        f"已导出 {span} 共 {len(periods)} 期排名（{len(sheet.rows)} 行，{chosen}）：{output}",
        markup=False,
    )


def parse_day(text: str, option: str = "--as-of") -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise DubanError(f"{option}「{text}」不是有效日期，请用 2020-10-31 的格式") from None
