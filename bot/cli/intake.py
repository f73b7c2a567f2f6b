"""Commands about the plan: import a document, list tasks and units, upgrade the database."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer
from rich.table import Table

from bot.app.errors import DubanError, UsageError
from bot.app.runtime import apply_directory
from bot.cli.support import (
    JsonFlag,
    PlanId,
    directory_of,
    out,
    print_json,
    progress_bar,
    reports_errors,
    sessions_of,
    settings_of,
    show_listing,
    warn,
)
from bot.engine.simulate import parse_moment
from bot.intake.directory_sync import DirectorySync
from bot.intake.importing import NO_YEAR, import_file
from bot.intake.labels import parse_columns
from bot.intake.model import ParsedPlan
from bot.intake.reader import read_plan
from bot.intake.review import Review, review_plan, review_sheet
from bot.intake.store import ImportReport
from bot.present.labels import ROLE_NAMES, STATUS_NAMES
from bot.present.sheets import check_target, render, write_atomic
from bot.store import database, queries
from bot.store.plans import plan_name
from bot.supervise.task_list import task_details

tasks_app = typer.Typer(help="查看任务。", invoke_without_command=True)
units_app = typer.Typer(
    help="查看单位；`duban units sync` 应用单位名录。", invoke_without_command=True
)
db_app = typer.Typer(help="数据库维护。", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command("import")(import_command)
    app.add_typer(units_app, name="units")
    app.add_typer(tasks_app, name="tasks")
    app.add_typer(db_app, name="db")


@reports_errors
def import_command(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="责任分解文件：.txt .docx .xlsx .csv")],
    year: Annotated[int | None, typer.Option(help="计划年度（默认从标题识别）。")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="只解析，不写数据库。")] = False,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="与 --dry-run 同用：把解析结果写成表格（.xlsx），在 Excel 中改正后再导入。",
        ),
    ] = None,
    columns: Annotated[
        str | None,
        typer.Option(help="指定表格的列，如「内容=民生实事,牵头=主办单位」。"),
    ] = None,
    at: Annotated[
        str | None,
        typer.Option(
            "--at",
            help="以该时刻为导入时间，如 2020-01-01T09:00（演示或培训：模拟往年的全年）。",
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """导入重点工作任务责任分解，生成任务、单位和交办。"""
    settings = settings_of(ctx)
    overrides = parse_columns(columns) if columns else None
    directory = directory_of(settings)
    if output is not None:
        _check_review_target(output, dry_run)
    if dry_run:
        parsed = read_plan(file, directory, year, overrides)
        review = review_plan(parsed, directory)
        if output is not None:
            write_atomic(output, render(review_sheet(parsed, review), "xlsx"))
        if as_json:
            print_json({**parsed.as_json(), "review": review.as_json()})
        else:
            _show_parse(parsed, review, output)
        return
    with progress_bar("正在导入"):
        parsed, report = import_file(
            sessions_of(ctx, write=True),
            file,
            directory,
            timezone=settings.plan.timezone,
            now=_import_time(at, settings.plan.timezone),
            year=year,
            columns=overrides,
        )
    print_json(report.as_json()) if as_json else _show_report(parsed, report)


def _import_time(at: str | None, timezone: str) -> datetime:
    if at is None:
        return datetime.now(UTC)
    try:
        return parse_moment(at, ZoneInfo(timezone)).astimezone(UTC)
    except ValueError:
        raise UsageError(f"不是有效的时间：{at}（示例：--at 2020-01-01T09:00）", "--at") from None


def _check_review_target(output: Path, dry_run: bool) -> None:
    if not dry_run:
        raise UsageError("只能与 --dry-run 同用：先写出表格核对，再导入改好的表格", "--output")
    if output.suffix.lower() != ".xlsx":
        raise UsageError(f"「{output.name}」不是 .xlsx 文件，请写作 review.xlsx", "--output")
    check_target(output)


def _show_parse(parsed: ParsedPlan, review: Review, output: Path | None) -> None:
    out.print(f"{parsed.title or '（无标题）'}  年度 {parsed.year or '未知'}", markup=False)
    new = f"（单位名录中没有的 {len(review.new_units)} 个）" if review.new_units else ""
    out.print(
        f"任务 {review.tasks} 项，单位 {review.units} 个{new}；"
        f"未找到责任单位的任务 {review.without_units} 项，"
        f"未写完成时限的任务 {review.without_deadline} 项（按计划默认时限）",
        markup=False,
    )
    table = Table("序号", "牵头单位", "配合单位", "时限", "分管领导", "任务内容", "核对")
    for task in parsed.tasks:
        deadline = task.deadline.isoformat() if task.deadline else ""
        flag = "⚠" if review.flagged(task.number) else ""
        co_units = "、".join(task.co_units)
        row = (task.number, task.lead, co_units, deadline, task.supervisor or "", task.text[:30])
        table.add_row(*row, flag)
    out.print(table)
    if review.flags:
        out.print(f"需要核对的任务（{len({f.number for f in review.flags})} 项）：")
        for found in review.flags:
            out.print(f"  任务 {found.number}：{found.problem}", markup=False)
    if output is not None:
        out.print(f"已写出 {output}：在 Excel 中改正标黄的行后，用 duban import {output} 导入。")
    warn(*parsed.warnings, *([] if parsed.year else [NO_YEAR]))


def _show_report(parsed: ParsedPlan, report: ImportReport) -> None:
    verb = "新建" if report.plan_created else "更新"
    out.print(
        f"{verb}计划「{parsed.title or '无标题'}」（{parsed.year or '年度未知'}）：", markup=False
    )
    out.print(
        f"  任务 {report.tasks} 项，单位 {len(parsed.units)} 个，交办 {report.assignments} 条"
    )
    if report.unchanged:
        out.print("  与上次导入相同，无变化。")
    for label, numbers in (("新增", report.added), ("删除", report.removed)):
        if numbers and not report.plan_created:
            out.print(f"  {label}任务：{'、'.join(numbers)}", markup=False)
    for number, fields in report.changed.items():
        out.print(f"  修改任务 {number}：{'、'.join(fields)}", markup=False)
    if report.new_units:
        out.print(
            f"  单位名录中没有的新单位（{len(report.new_units)}）：{'、'.join(report.new_units)}",
            markup=False,
        )
    warn(*report.warnings)


@tasks_app.callback()
@reports_errors
def tasks_command(
    ctx: typer.Context,
    unit: Annotated[str | None, typer.Option(help="只列出该单位承担的任务。")] = None,
    plan: PlanId = None,
    as_json: JsonFlag = False,
) -> None:
    """列出任务；`duban tasks show 编号` 查看单项任务。"""
    if ctx.invoked_subcommand is not None:
        return
    with sessions_of(ctx)() as session:
        found = queries.current_plan(session, plan)
        hint = directory_of(settings_of(ctx)).suggest(unit) if unit else ""
        rows, name = queries.list_tasks(session, found, unit, hint), plan_name(found)
    if as_json:
        print_json(rows)
        return
    out.print(f"{name}：任务 {len(rows)} 项", markup=False)
    table = Table("序号", "牵头单位", "配合单位", "时限", "任务内容")
    for row in rows:
        table.add_row(
            row["number"],
            row["lead"],
            "、".join(row["co_units"]),
            row["deadline"] or "",
            row["text"][:30],
        )
    out.print(table)


@tasks_app.command("show")
@reports_errors
def task_show_command(
    ctx: typer.Context,
    number: Annotated[str, typer.Argument(help="任务序号。")],
    plan: PlanId = None,
    as_json: JsonFlag = False,
) -> None:
    """查看一项任务及其交办情况。"""
    with sessions_of(ctx)() as session:
        found = queries.current_plan(session, plan)
        task, name = task_details(session, found, number), plan_name(found)
    if as_json:
        print_json(task)
        return
    out.print(f"{name} 任务 {task['number']}：{task['text']}", markup=False)
    out.print(
        f"时限：{task['effective_deadline'] or '未定'}  分管领导：{task['supervisor'] or '—'}",
        markup=False,
    )
    table = Table("单位", "角色", "状态", "进度", "时限")
    for a in task["assignments"]:
        table.add_row(
            a["unit"],
            ROLE_NAMES[a["role"]],
            STATUS_NAMES.get(a["status"], a["status"]),
            f"{a['progress']}%",
            a["deadline"],
        )
    out.print(table)


@units_app.callback()
@reports_errors
def units_command(
    ctx: typer.Context,
    as_json: JsonFlag = False,
) -> None:
    """列出单位（含别名、集体单位及其成员）；`duban units sync` 应用单位名录。"""
    show_listing(
        ctx, queries.list_units, as_json=as_json, json_of=lambda rows: rows, show=_show_units
    )


def _show_units(rows: list[dict[str, Any]]) -> None:
    table = Table("单位", "别名", "类型", "成员")
    for row in rows:
        table.add_row(
            row["name"],
            "、".join(row["aliases"]),
            "集体" if row["collective"] else "单位",
            "、".join(row["members"]),
        )
    out.print(table)


@units_app.command("sync")
@reports_errors
def units_sync_command(
    ctx: typer.Context,
    as_json: JsonFlag = False,
) -> None:
    """把单位名录（渠道、联系人及其企业微信/钉钉/飞书 ID）应用到数据库，列出变化。

    `duban run` 启动时和收到 SIGHUP 时也会这样做。"""
    settings = settings_of(ctx)
    found = apply_directory(settings, sessions_of(ctx, write=True), datetime.now(UTC))
    print_json(found.as_json()) if as_json else show_directory_sync(found)


def show_directory_sync(found: DirectorySync) -> None:
    """What applying the unit directory changed, one line each; warnings on stderr."""
    if not found.added and not found.changes:
        out.print("单位名录已应用：无变化。")
    else:
        out.print(f"单位名录已应用：{len(found.added) + len(found.changes)} 处变化。")
    if found.added:
        shown = "、".join(found.added[:5]) + (
            f" 等 {len(found.added)} 个" if len(found.added) > 5 else ""
        )
        out.print(f"  新列入：{shown}", markup=False)
    for line in found.changes:
        out.print(f"  {line}", markup=False)
    warn(*found.warnings)


@db_app.command("upgrade")
@reports_errors
def db_upgrade_command(ctx: typer.Context) -> None:
    """把数据库结构升级到最新版本。"""
    engine = database.make_engine(settings_of(ctx).database.url)
    ctx.call_on_close(engine.dispose)
    try:
        database.upgrade(engine)
    except Exception as exc:  # a driver error here is an operator's problem to read
        raise DubanError(f"数据库升级失败：{exc}") from None
    out.print(f"数据库已是最新版本 {database.head_revision()}。")
