"""`duban serve` (the web app alone), `duban reply --as` (a reply the office enters) and
`duban review-link` (the office's or a supervisor's 待审 page, bot/web/review.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from sqlalchemy import select

from bot.app.daemon import run_web
from bot.app.errors import DubanError
from bot.app.logs import setup_logging
from bot.app.runtime import composer_of
from bot.cli.support import directory_of, out, reports_errors, sessions_of, settings_of
from bot.engine.simulate import parse_moment
from bot.replies.identity import People
from bot.replies.inbox import enter_reply
from bot.store import queries
from bot.store.models import Supervisor
from bot.web.serve import make_server, web_context


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
    """只提供 Web 服务：督办看板（/）、各平台回调（/hooks/…）和 /healthz，不运行定时任务。"""
    settings = settings_of(ctx)
    web = web_context(settings, sessions_of(ctx, write=True))
    host, port = host or settings.web.host, settings.web.port if port is None else port
    server = make_server(web, host, port)
    setup_logging(settings)
    out.print(f"督办看板：http://{host}:{port}/（Ctrl-C 停止）", markup=False)
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
    directory = directory_of(settings)
    with sessions.begin() as session:
        tz = ZoneInfo(queries.current_plan(session).timezone)
        try:
            now = parse_moment(at, tz).astimezone(UTC) if at else datetime.now(UTC)
        except ValueError:
            raise DubanError(f"--at 不是有效的时间：{at}（示例：--at 2020-09-22T09:00）") from None
        people = People.load(session, directory.office)
        hint = directory.suggest(as_)
        applied = enter_reply(session, people, as_, text, now, composer_of(settings), hint)
    out.print(applied.outcome.reply, markup=False)
    if applied.refused:
        raise typer.Exit(1)


@reports_errors
def review_link_command(
    ctx: typer.Context,
    supervisor: Annotated[
        str | None, typer.Option("--supervisor", help="分管领导姓名（默认：督办机构本身）。")
    ] = None,
) -> None:
    """打印督办机构或某位分管领导的待审页面链接（办结、延期申请在此办理）。"""
    settings = settings_of(ctx)
    links = composer_of(settings).links
    if not links.enabled:
        raise DubanError("未配置 web.public_url 或 report.secret，无法生成待审链接")
    person = None
    if supervisor is not None:
        with sessions_of(ctx)() as session:
            person = session.scalar(select(Supervisor.id).where(Supervisor.name == supervisor))
        if person is None:
            raise DubanError(f"没有名为「{supervisor}」的分管领导，请核对单位名录")
    link = links.review("supervisor" if person else "office", person, datetime.now(UTC))
    out.print(link, markup=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve_command)
    app.command("reply")(reply_command)
    app.command("review-link")(review_link_command)
