"""`duban serve` (the web app alone) and `duban reply --as` (a reply the office enters)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from zoneinfo import ZoneInfo

import typer

from bot.app.daemon import run_web
from bot.app.errors import DubanError
from bot.app.logs import setup_logging
from bot.app.runtime import composer_of
from bot.cli.support import directory_of, out, reports_errors, sessions_of, settings_of
from bot.engine.simulate import parse_moment
from bot.replies.apply import apply_command
from bot.replies.identity import People
from bot.replies.inbox import INFORMATIONAL
from bot.replies.keywords import ParseError, parse_command
from bot.store import queries
from bot.store.audit import record
from bot.web.serve import make_server, web_context

OFFICE_ENTRY = "office-entry"  # the audit channel of replies the office typed in


@reports_errors
def serve_command(
    ctx: typer.Context,
    host: Annotated[
        str | None, typer.Option("--host", help="监听地址（默认取配置 web.host）。")
    ] = None,
    port: Annotated[
        int | None,
        typer.Option("--port", min=0, max=65535, help="监听端口（默认取配置 web.port）。"),
    ] = None,
) -> None:
    """只提供 Web 服务（各平台回调 /hooks/…、/healthz），不运行定时任务。"""
    settings = settings_of(ctx)
    web = web_context(settings, sessions_of(ctx, write=True))
    host, port = host or settings.web.host, settings.web.port if port is None else port
    server = make_server(web, host, port)
    setup_logging(settings)
    out.print(f"Web 服务：http://{host}:{port}（Ctrl-C 停止）", markup=False)
    run_web(server)


@reports_errors
def reply_command(
    ctx: typer.Context,
    text: Annotated[str, typer.Argument(help="回复内容，例如「进展 #12 60% 已完成立项」。")],
    as_: Annotated[
        str,
        typer.Option(
            "--as", help="代谁录入：联系人姓名、单位名称（或简称）、分管领导或督办机构本身。"
        ),
    ],
    at: Annotated[str | None, typer.Option("--at", help="回复时刻（ISO 时间，默认现在）。")] = None,
) -> None:
    """代为录入通过电话或纸面收到的回复（规则与群内回复相同，记入审计）。"""
    settings = settings_of(ctx)
    sessions = sessions_of(ctx, write=True)
    office = directory_of(settings).office
    with sessions.begin() as session:
        plan = queries.current_plan(session)
        tz = ZoneInfo(plan.timezone)
        try:
            now = parse_moment(at, tz).astimezone(UTC) if at else datetime.now(UTC)
        except ValueError:
            raise DubanError(f"--at 不是有效的 ISO 时间：{at}") from None
        identity = People.load(session, office).named(as_)
        if identity is None:
            raise DubanError(
                f"没有名为「{as_}」的联系人、单位、分管领导或{office.name}"
                "（可用 `duban units` 查看）"
            )
        try:
            command = parse_command(text, year=now.astimezone(tz).year)
        except ParseError as exc:
            raise DubanError(exc.message) from None
        actor = identity.actor(command.kind)
        outcome = apply_command(
            session,
            actor,
            command,
            plan,
            now,
            channel=OFFICE_ENTRY,
            composer=composer_of(settings),
        )
        action = "reply.entered" if outcome.changed else "reply.refused"
        detail = {"as": as_, "actor": actor.name, "text": text, "reply": outcome.reply}
        if outcome.changed or command.kind not in INFORMATIONAL:
            record(session, now, office.name, action, "reply", None, detail, channel=OFFICE_ENTRY)
    out.print(outcome.reply, markup=False)
    if not outcome.changed and command.kind not in INFORMATIONAL:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve_command)
    app.command("reply")(reply_command)
