"""The plan commands: `plans` lists them, `plans archive` and `plans remove` end one."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table

from bot.cli.support import (
    JsonFlag,
    directory_of,
    out,
    reports_errors,
    sessions_of,
    settings_of,
    show_listing,
)
from bot.store.plans import (
    PLAN_STATES,
    PlanRow,
    archive_plan,
    list_plans,
    plan_name,
    remove_plan,
)

plans_app = typer.Typer(
    help="计划：列出已导入的计划，归档或删除某个计划。", invoke_without_command=True
)
PlanArgument = Annotated[int, typer.Argument(help="计划编号（见 `duban plans`）。", min=1)]


def register(app: typer.Typer) -> None:
    app.add_typer(plans_app, name="plans")


@plans_app.callback()
@reports_errors
def plans_command(
    ctx: typer.Context,
    as_json: JsonFlag = False,
) -> None:
    """列出已导入的计划：编号、年度、任务数和状态。"""
    show_listing(
        ctx,
        list_plans,
        as_json=as_json,
        json_of=lambda rows: [row.as_json() for row in rows],
        show=_show_plans,
    )


def _show_plans(rows: list[PlanRow]) -> None:
    if not rows:
        out.print("数据库中还没有计划：请先运行 `duban import 文件`。", markup=False)
        return
    table = Table("编号", "年度", "标题", "任务", "交办", "状态", "导入时间")
    for row in rows:
        table.add_row(
            str(row.id),
            str(row.year or "—"),
            row.title,
            str(row.tasks),
            str(row.assignments),
            PLAN_STATES[row.state],
            f"{row.imported_at.astimezone():%Y-%m-%d %H:%M}",
        )
    out.print(table)


@plans_app.command("archive")
@reports_errors
def plans_archive_command(ctx: typer.Context, plan: PlanArgument) -> None:
    """归档计划：不再提醒、不再接受回复和参与晾晒，历史记录保留。"""
    with sessions_of(ctx, write=True).begin() as session:
        found = archive_plan(session, plan, datetime.now(UTC), _actor(ctx))
        name = plan_name(found)
    out.print(f"已归档{name}：其提醒已停止，历史记录保留。", markup=False)


@plans_app.command("remove")
@reports_errors
def plans_remove_command(
    ctx: typer.Context,
    plan: PlanArgument,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="不再询问，直接删除。")] = False,
) -> None:
    """删除计划及其任务、交办、提醒记录（用于撤销误导入；不可恢复）。"""
    sessions = sessions_of(ctx, write=True)
    with sessions.begin() as session:
        row = next((r for r in list_plans(session) if r.id == plan), None)
        if row is not None and not yes:
            question = f"删除计划{row.id}《{row.title}》及其 {row.tasks} 项任务的全部记录？"
            if not typer.confirm(question, default=False):
                out.print("未删除。")
                raise typer.Exit(1)
        removed = remove_plan(session, plan, datetime.now(UTC), _actor(ctx))
    out.print(
        f"已删除计划{removed.id}《{removed.title}》：任务 {removed.tasks} 项、"
        f"交办 {removed.assignments} 条。",
        markup=False,
    )


def _actor(ctx: typer.Context) -> str:
    """Who the audit log says did it: the office, as the directory names it."""
    return directory_of(settings_of(ctx)).office.name
