"""The reminder-engine commands: `run`, `calendar check`, `simulate`."""

from __future__ import annotations

import functools
import logging
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer
from rich.table import Table
from sqlalchemy.orm import Session, sessionmaker

from bot.app.config import Settings
from bot.app.daemon import run_daemon
from bot.app.errors import DubanError, UsageError
from bot.app.logs import setup_logging
from bot.app.runtime import Runtime, apply_directory, build_runtime
from bot.cli.intake import show_directory_sync
from bot.cli.support import (
    directory_of,
    engine_of,
    out,
    print_json,
    progress_bar,
    reports_errors,
    sessions_of,
    settings_of,
    warn,
)
from bot.domain.calendar import WorkCalendar, gap_warning, load_overrides
from bot.engine.simulate import (
    Summary,
    dry_cycle,
    parse_moment,
    read_replies,
    refuse_real_history,
    scratch_copy,
    simulate,
    summarize,
)
from bot.intake.importing import import_file
from bot.platforms.registry import PLATFORMS
from bot.present.labels import MESSAGE_KINDS
from bot.store import database, queries
from bot.web.serve import make_server, web_context

log = logging.getLogger("duban")
PAST_SLACK = timedelta(minutes=5)  # an --at this close to now is not the past

calendar_app = typer.Typer(help="工作日历。", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command("run")(run_command)
    app.command("simulate")(simulate_command)
    app.add_typer(calendar_app, name="calendar")


def import_sample_if_empty(
    settings: Settings, sessions: sessionmaker[Session], now: datetime
) -> None:
    """An empty database gets the bundled sample plan, moved to the current year."""
    if _has_plans(sessions):
        return
    year = now.astimezone().year
    out.print(f"数据库为空，导入示例计划（移至 {year} 年）：{settings.plan.sample}", markup=False)
    _, report = import_file(
        sessions,
        settings.plan.sample,
        directory_of(settings),
        timezone=settings.plan.timezone,
        now=now,
        year=year,
        sample=True,
    )
    out.print(f"示例计划：任务 {report.tasks} 项，交办 {report.assignments} 条。")


def _has_plans(sessions: sessionmaker[Session]) -> bool:
    with sessions() as session:
        return bool(queries.summary(session)["plans"])


def _say_how_to_import(sessions: sessionmaker[Session]) -> None:
    if not _has_plans(sessions):
        out.print(
            "数据库中还没有计划：用 duban import 文件 导入责任分解（先加 --dry-run 核对），"
            "运行中导入的计划在下一轮扫描时生效。试用示例计划：make run（在独立的 sample.db 中）。",
            markup=False,
        )


def _say_what_comes_next(runtime: Runtime, settings: Settings, *, daemon: bool) -> None:
    """The next reminder and, for the daemon, where the dashboard is and how to stop."""
    with runtime.sessions() as session:
        upcoming = queries.next_reminder(session)
    if upcoming is None:
        out.print("下一次提醒：暂无待提醒事项。")
    else:
        when = upcoming.at.astimezone(runtime.tz).strftime("%Y-%m-%d %H:%M")
        names = "、".join(upcoming.units[:3])
        more = f"等 {len(upcoming.units)} 个单位" if len(upcoming.units) > 3 else ""
        out.print(f"下一次提醒：{when}，发给 {names}{more}。", markup=False)
    if not daemon:
        return
    if settings.web.enabled:
        token = "（需加 ?token= 配置的 web.token）" if settings.web.token else ""
        out.print(f"督办看板：http://{settings.web.host}:{settings.web.port}/{token}", markup=False)
    out.print("每分钟扫描一次到期事项；按 Ctrl+C 停止。")


@reports_errors
def run_command(
    ctx: typer.Context,
    once: Annotated[bool, typer.Option("--once", help="只执行一轮扫描与发送后退出。")] = False,
    at: Annotated[
        str | None,
        typer.Option("--at", help="以该时刻执行（配合 --once），如 2020-09-22T09:00。"),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="配合 --once：只显示将发送的消息，不发送、不写数据库。"),
    ] = False,
    force: Annotated[
        bool,
        typer.Option("--force", help="允许以过去的 --at 时刻向真实渠道发送并写入数据库。"),
    ] = False,
    sample: Annotated[
        bool,
        typer.Option(
            "--sample",
            help="数据库为空时导入示例计划（移至今年）；make run 在独立的 sample.db 中这样试用。",
        ),
    ] = False,
) -> None:
    """运行督办守护进程：定时扫描到期事项并发送提醒，同时提供督办看板（Ctrl-C 停止）。"""
    settings = settings_of(ctx)
    if (at is not None or dry_run) and not once:
        raise UsageError(
            "--at 和 --dry-run 只能与 --once 一起使用，如 --once --at 2020-09-22T09:00"
        )
    if dry_run:
        _dry_run(ctx, settings, at)
        return
    sessions = sessions_of(ctx, write=True)
    runtime = build_runtime(settings, sessions)
    now = _moment(at, runtime.tz)
    _refuse_rewriting_the_past(settings, now, force)
    show_directory_sync(apply_directory(settings, sessions, datetime.now(UTC)))
    _warn_of_calendar_gaps(runtime.calendar, now.astimezone(runtime.tz).date())
    if sample:
        import_sample_if_empty(settings, sessions, now)
    else:
        _say_how_to_import(sessions)
    if once:
        result = runtime.cycle(now)
        out.print(
            f"扫描 {result.sweep.points} 个到期点，新建提醒 {result.sweep.notifications} 条、"
            f"消息 {result.sweep.messages} 条，发送 {result.sent} 条。"
        )
        _say_what_comes_next(runtime, settings, daemon=False)
        return
    setup_logging(settings)
    runtime.sweep(now)  # new assignments get their due points, so the next one can be named
    _say_what_comes_next(runtime, settings, daemon=True)
    reload = functools.partial(_reload_directory, settings, sessions)
    if not settings.web.enabled:
        run_daemon(runtime, settings.delivery.dispatch_seconds, on_hangup=reload)
        return
    web = web_context(settings, sessions)
    server = make_server(web, settings.web.host, settings.web.port)
    log.info("serving the web app on http://%s:%s", settings.web.host, settings.web.port)
    run_daemon(
        runtime, settings.delivery.dispatch_seconds, server=server, web=web, on_hangup=reload
    )


def _reload_directory(settings: Settings, sessions: sessionmaker[Session]) -> None:
    """SIGHUP: the directory read again and applied; a bad one leaves the old in force."""
    try:
        found = apply_directory(settings, sessions, datetime.now(UTC))
    except DubanError as exc:
        log.error("单位名录未应用，仍按原名录运行：%s", exc)
        return
    log.info("单位名录已应用：新列入 %d 个，变化 %d 处", len(found.added), len(found.changes))
    for line in [*found.changes, *(f"警告：{w}" for w in found.warnings)]:
        log.info("%s", line)


def _warn_of_calendar_gaps(calendar: WorkCalendar, today: date) -> None:
    """Every start names a year (this one, or the next from October on, when reminders start
    counting into it) whose days off duban does not know."""
    years = [today.year, today.year + 1] if today.month >= 10 else [today.year]
    for gap in (y for y in years if calendar.coverage(y) == "weekdays"):
        warn(gap_warning(gap, calendar.overrides.source))


def _moment(at: str | None, tz: ZoneInfo) -> datetime:
    try:
        return parse_moment(at, tz).astimezone(UTC) if at else datetime.now(UTC)
    except ValueError:
        raise UsageError(f"--at 不是有效的时间：{at}（示例：--at 2020-09-22T09:00）") from None


def _refuse_rewriting_the_past(settings: Settings, now: datetime, force: bool) -> None:
    """A past --at would send real messages dated in the past and write them into history."""
    real = [name for name, c in settings.channels.items() if not PLATFORMS[c.platform].local]
    if force or not real or now >= datetime.now(UTC) - PAST_SLACK:
        return
    raise DubanError(
        f"--at 早于当前时间，而已配置真实渠道（{'、'.join(real)}）：这会真的发送消息并把"
        "过去的记录写入数据库。请先用 --dry-run 查看，确需如此请加 --force"
    )


def _dry_run(ctx: typer.Context, settings: Settings, at: str | None) -> None:
    """The cycle on a scratch copy of the database, every channel captured."""
    with scratch_copy(engine_of(ctx)) as sessions:
        runtime = build_runtime(settings, sessions)
        now = _moment(at, runtime.tz)
        sent = dry_cycle(runtime, now)
    for entry in sent:
        kind = MESSAGE_KINDS.get(entry["kind"], entry["kind"])
        out.print(f"→ {entry['to']['name']}（{kind}）\n{entry['text']}\n", markup=False)
    out.print(f"试运行：将发送 {len(sent)} 条消息；未发送，数据库未改动。")


@calendar_app.command("check")
@reports_errors
def calendar_check_command(
    ctx: typer.Context,
    year: Annotated[int | None, typer.Argument(help="年份（默认今年）。")] = None,
) -> None:
    """查看某年的工作日历覆盖情况和生效的调整；缺少该年法定节假日数据时警告并以 1 退出。"""
    settings = settings_of(ctx)
    overrides = load_overrides(settings.schedules.calendar)
    warnings: list[str] = []
    cal = WorkCalendar(overrides, warn=warnings.append)
    year = year or datetime.now(UTC).year
    days = [
        date.fromordinal(o)
        for o in range(date(year, 1, 1).toordinal(), date(year, 12, 31).toordinal() + 1)
    ]
    off = [d for d in days if d.weekday() < 5 and not cal.is_working_day(d)]
    weekend_work = [d for d in days if d.weekday() >= 5 and cal.is_working_day(d)]
    coverage = {
        "statutory": "法定节假日数据（chinese-calendar）",
        "overrides": "仅 schedules 中的调整",
        "weekdays": "无数据，按周一至周五",
    }
    out.print(
        f"{year} 年：{coverage[cal.coverage(year)]}；工作日 "
        f"{sum(cal.is_working_day(d) for d in days)} 天。",
        markup=False,
    )
    table = Table("类型", "日期")
    table.add_row("工作日放假", "、".join(d.strftime("%m-%d") for d in off) or "—")
    table.add_row("周末调休上班", "、".join(d.strftime("%m-%d") for d in weekend_work) or "—")
    mine = sorted(d for d in overrides.holidays | overrides.workdays if d.year == year)
    table.add_row("本地调整", "、".join(d.isoformat() for d in mine) or "—")
    out.print(table)
    warn(*warnings)
    if cal.coverage(year) == "weekdays":
        raise typer.Exit(1)  # until schedules/calendar.toml covers the year


@reports_errors
def simulate_command(
    ctx: typer.Context,
    start: Annotated[str, typer.Option("--from", help="开始日期 YYYY-MM-DD。")],
    end: Annotated[str, typer.Option("--to", help="结束日期 YYYY-MM-DD。")],
    replies: Annotated[
        Path | None, typer.Option("--replies", help="模拟回复 CSV：at,unit,text。")
    ] = None,
    apply: Annotated[bool, typer.Option("--apply", help="保留模拟结果（仅限演示库）。")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="以 JSON 输出完整时间线。")] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="逐条显示将发送的消息和回复的答复。")
    ] = False,
) -> None:
    """用虚拟时钟模拟一段时间内的提醒发送（默认在数据库的临时副本上进行），并汇总结果。"""
    settings = settings_of(ctx)
    try:
        first, last = date.fromisoformat(start), date.fromisoformat(end)
    except ValueError:
        raise DubanError("--from/--to 应为日期，如 --from 2020-09-01 --to 2020-10-31") from None
    if last < first:
        raise DubanError(f"--to {last} 早于 --from {first}，如 --from 2020-09-01 --to 2020-10-31")
    engine = engine_of(ctx)
    if apply:
        sessions = database.session_factory(database.writer(engine))
        refuse_real_history(sessions)
        timeline = _simulate(settings, sessions, first, last, replies)
    else:
        with scratch_copy(engine) as sessions:
            timeline = _simulate(settings, sessions, first, last, replies)
    if as_json:
        print_json(timeline)
        return
    if verbose:
        for entry in timeline:
            kind = MESSAGE_KINDS.get(entry["kind"], entry["kind"])
            out.print(
                f"[{entry['at']}] → {entry['to']['name']}（{kind}）\n{entry['text']}\n",
                markup=False,
            )
    _print_summary(summarize(timeline), first, last)


def _print_summary(summary: Summary, first: date, last: date) -> None:
    unknown = f"（其中未找到单位 {summary.unknown_senders} 条）" if summary.unknown_senders else ""
    out.print(
        f"模拟 {first} 至 {last}：发送消息 {summary.messages} 条，处理回复 {summary.replies} 条"
        f"{unknown}。",
        markup=False,
    )
    kinds = Table("类型", "消息")
    order = list(MESSAGE_KINDS)
    for kind, count in sorted(
        summary.by_kind.items(), key=lambda kc: order.index(kc[0]) if kc[0] in order else 99
    ):
        kinds.add_row(MESSAGE_KINDS.get(kind, kind), str(count))
    weeks = Table("周", "起始日", "消息")
    for week, count in summary.by_week.items():
        weeks.add_row(week, date.fromisocalendar(*_iso_week(week), 1).isoformat(), str(count))
    if summary.messages:
        out.print(kinds, weeks)
    out.print("逐条查看请加 --verbose，完整时间线请加 --json。")


def _iso_week(week: str) -> tuple[int, int]:
    year, number = week.split("-W")
    return int(year), int(number)


def _simulate(
    settings: Settings,
    sessions: sessionmaker[Session],
    first: date,
    last: date,
    replies: Path | None,
) -> list[dict[str, Any]]:
    runtime = build_runtime(settings, sessions)
    scripted = read_replies(replies, runtime.tz) if replies else []
    with progress_bar("模拟中") as progress:
        return simulate(runtime, first, last, scripted, progress)
