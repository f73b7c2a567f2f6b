"""The `duban` command line: option parsing and printing only; every command calls a flow.

Settings are loaded once, by the root callback, and reach the commands through the context.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Annotated

import typer

from bot.app.config import load_settings
from bot.app.errors import DubanError
from bot.cli import chinese, delivery, engine, exports, intake, plans, replies, supervision
from bot.cli.support import out, reports_errors

chinese.install()
app = typer.Typer(
    help="督办：政府重点工作任务督办提醒机器人。",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def version_line(distribution: str = "duban") -> str:
    """The installed package's name and version; DubanError when it is not installed."""
    try:
        return f"{distribution} {version(distribution)}"
    except PackageNotFoundError:
        raise DubanError(
            f"未找到已安装的 {distribution} 包，无法确定版本（请在项目目录运行 make install）"
        ) from None


@reports_errors
def show_version(wanted: bool) -> None:
    if wanted:
        out.print(version_line(), markup=False)
        raise typer.Exit()


@app.callback()
@reports_errors
def configure(
    ctx: typer.Context,
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="配置文件（默认 config.toml）。")
    ] = None,
    _version: Annotated[
        bool,
        typer.Option("--version", callback=show_version, is_eager=True, help="显示版本号并退出。"),
    ] = False,
) -> None:
    """督办：政府重点工作任务督办提醒机器人。"""
    ctx.obj = load_settings(config)


for commands in (intake, plans, engine, delivery, replies, supervision, exports):
    commands.register(app)


def main() -> None:
    app()
