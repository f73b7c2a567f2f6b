"""The `duban` command line: option parsing and printing only; every command calls a flow.

Settings are loaded once, by the root callback, and reach the commands through the context.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bot.app.config import load_settings
from bot.cli import delivery, engine, exports, intake, plans, replies, supervision
from bot.cli.support import reports_errors

app = typer.Typer(
    help="督办：政府重点工作任务督办提醒机器人。",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
@reports_errors
def configure(
    ctx: typer.Context,
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="配置文件（默认 config.toml）。")
    ] = None,
) -> None:
    """督办：政府重点工作任务督办提醒机器人。"""
    ctx.obj = load_settings(config)


for commands in (intake, plans, engine, delivery, replies, supervision, exports):
    commands.register(app)


def main() -> None:
    app()
