"""Typer's own words in Chinese: help panels, the usage line, the help option, type names and
usage errors.

Typer 0.2x vendors click without gettext, so there is no catalogue to install: its English is
replaced at the few places it is produced, once, by `install()` where the app is built. A usage
error is reworded from the exception's fields (never by matching its English), and a value that
failed typer's pydantic coercion is described like a bad setting (`describe_error`).
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError
from rich.markup import escape
from rich.panel import Panel
from rich.text import Text
from typer import _click, core, rich_utils
from typer._click import exceptions as click_errors
from typer._click.formatting import HelpFormatter

from bot.domain.tomlfiles import describe_error

HELP_TEXT = "显示本帮助并退出。"
USAGE = "用法："
# What a help page shows for a parameter's type; a flag (bool) shows none.
TYPE_NAMES = {
    "<int>": "<整数>",
    "<int range>": "<整数>",
    "<float range>": "<数字>",
    "<str>": "<文本>",
    "<path>": "<路径>",
    "<float>": "<数字>",
}
PANEL_WORDS = {
    "ARGUMENTS_PANEL_TITLE": "参数",
    "OPTIONS_PANEL_TITLE": "选项",
    "COMMANDS_PANEL_TITLE": "命令",
    "ERRORS_PANEL_TITLE": "错误",
    "ABORTED_TEXT": "已中止。",
    "DEFAULT_STRING": "[默认：{}]",
    "ENVVAR_STRING": "[环境变量：{}]",
    "REQUIRED_LONG_STRING": "[必填]",
    "DEPRECATED_STRING": "（已停用）",
    "RICH_HELP": "查看帮助：[blue]{command_path} {help_option}[/]",
}
USAGE_WORDS = {"[OPTIONS]": "[选项]", "COMMAND [ARGS]...": "命令 [参数]..."}
PARAM_KINDS = {"option": "选项", "argument": "参数"}


def install() -> None:
    """Puts the Chinese words in place; calling it again changes nothing."""
    for name, words in PANEL_WORDS.items():
        setattr(rich_utils, name, words)
    if getattr(rich_utils.rich_format_error, "chinese", False):
        return
    rich_utils.rich_format_error = _print_usage_error  # type: ignore[assignment]
    rich_utils._make_rich_text = _folded(rich_utils._make_rich_text)
    HelpFormatter.write_usage = _usage_in_chinese(HelpFormatter.write_usage)  # type: ignore[method-assign]
    _click.core.Command.get_help_option = _help_in_chinese(  # type: ignore[method-assign]
        _click.core.Command.get_help_option
    )
    core._TyperParameter.display_type = _type_in_chinese(  # type: ignore[method-assign]
        core._TyperParameter.display_type
    )


def usage_message(exc: _click.ClickException) -> str:
    """The error's message in Chinese, from its fields; an unknown kind keeps its text."""
    if isinstance(exc, click_errors.NoSuchOption):
        suggestion = (
            f"，是否要用 {'、'.join(sorted(exc.possibilities))}" if exc.possibilities else ""
        )
        return f"没有选项 {exc.option_name}{suggestion}"
    if isinstance(exc, click_errors.MissingParameter):
        kind = PARAM_KINDS.get(exc.param.param_type_name, "参数") if exc.param else "参数"
        name = _hint(exc)
        return f"缺少{kind} {name}" if name else f"缺少{kind}"
    if isinstance(exc, click_errors.BadParameter):
        cause = exc.__cause__
        problem = (
            describe_error(cause.errors()[0]) if isinstance(cause, ValidationError) else exc.message
        )
        name = _hint(exc)
        return f"{name} 的值无效：{problem}" if name else f"值无效：{problem}"
    return _reworded(exc.message)


def _hint(exc: click_errors.BadParameter) -> str:
    if exc.param_hint is not None:
        hint = exc.param_hint
        return hint if isinstance(hint, str) else " / ".join(hint)
    return exc.param.get_error_hint().replace("'", "") if exc.param is not None else ""


# Click and typer raise these as a plain UsageError with only the text to go by.
_PLAIN = (
    (re.compile(r"No such command '(.*)'\.$"), "没有命令 {0}，可用 --help 查看全部命令"),
    (re.compile(r"Missing command\.$"), "缺少命令，可用 --help 查看全部命令"),
    (re.compile(r"Got unexpected extra argument\(s\) \((.*)\)$"), "多余的参数：{0}"),
    (re.compile(r"Option '(.*)' requires an argument\.$"), "选项 {0} 需要一个值"),
    (re.compile(r"Option '(.*)' requires (\d+) arguments\.$"), "选项 {0} 需要 {1} 个值"),
    (re.compile(r"Option '(.*)' does not take a value\.$"), "选项 {0} 不带值"),
    (re.compile(r"Argument '(.*)' takes (\d+) values\.$"), "参数 {0} 需要 {1} 个值"),
)


def _reworded(message: str) -> str:
    for pattern, words in _PLAIN:
        found = pattern.match(message)
        if found:
            return words.format(*found.groups())
    return message


def _print_usage_error(exc: _click.ClickException) -> None:
    """The usage line, where to find help and the error, as typer prints them, in Chinese."""
    if exc.__class__.__name__ == "NoArgsIsHelpError":  # the help page has been shown
        return
    console = rich_utils._get_rich_console(stderr=True)
    ctx: _click.Context | None = getattr(exc, "ctx", None)
    if ctx is not None:
        console.print(rich_utils.highlighter(ctx.get_usage()), style="bold")
        if ctx.command.get_help_option(ctx) is not None:
            console.print(
                rich_utils.RICH_HELP.format(
                    command_path=escape(ctx.command_path), help_option=ctx.help_option_names[0]
                ),
                style=rich_utils.STYLE_ERRORS_SUGGESTION,
            )
    panel = Panel(
        Text(usage_message(exc), overflow="fold"),
        border_style=rich_utils.STYLE_ERRORS_PANEL_BORDER,
        title=rich_utils.ERRORS_PANEL_TITLE,
        title_align=rich_utils.ALIGN_ERRORS_PANEL,
    )
    console.print(panel)


_print_usage_error.chinese = True  # type: ignore[attr-defined]


def _folded(make_help: Any) -> Any:
    """Help text folds onto the next line instead of ending in "…" (Chinese has no spaces to
    wrap at)."""

    def make_rich_text(**kwargs: Any) -> Any:
        text = make_help(**kwargs)
        if isinstance(text, Text):
            text.overflow = "fold"
        return text

    return make_rich_text


def _usage_in_chinese(write_usage: Any) -> Any:
    def chinese_usage(
        self: HelpFormatter, prog: str, args: str = "", prefix: str | None = None
    ) -> None:
        for english, chinese in USAGE_WORDS.items():
            args = args.replace(english, chinese)
        write_usage(self, prog, args, USAGE if prefix is None else prefix)

    return chinese_usage


def _help_in_chinese(get_help_option: Any) -> Any:
    def chinese_help_option(self: _click.Command, ctx: _click.Context) -> Any:
        option = get_help_option(self, ctx)
        if option is not None:
            option.help = HELP_TEXT
        return option

    return chinese_help_option


def _type_in_chinese(display_type: Any) -> Any:
    def chinese_type(self: core._TyperParameter, ctx: _click.Context) -> str:
        shown = str(display_type(self, ctx))
        return "" if shown == "<bool>" else TYPE_NAMES.get(shown, shown)

    return chinese_type
