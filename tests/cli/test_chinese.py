"""The words of the command line itself (bot/cli/chinese.py, bot/domain/tomlfiles.py): help
pages, usage errors, `--version` and bad settings, all in Chinese, as a user types them."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import typer

from bot.app.errors import DubanError
from bot.cli import app, version_line
from tests.support.cli import Duban, fails_with_one_line, make_duban, succeeds
from tests.support.paths import SAMPLE

# typer's and click's English as it would show without bot/cli/chinese.py.
ENGLISH = (
    "Usage",
    "Options",
    "Commands",
    "Arguments",
    "Show this message",
    "[default",
    "<bool>",
    " range>",
)


@pytest.fixture
def duban(tmp_path: Path) -> Duban:
    return make_duban(f"sqlite:///{tmp_path / 'duban.db'}")


def every_command() -> dict[str, Any]:
    """Every command and group of the app by the words a user types before --help."""
    root = typer.main.get_command(app)
    found: dict[str, Any] = {"": root}

    def walk(command: Any, path: str) -> None:
        for name, sub in getattr(command, "commands", {}).items():
            found[f"{path} {name}".strip()] = sub
            walk(sub, f"{path} {name}".strip())

    walk(root, "")
    return found


COMMANDS = every_command()


def usage_error(duban: Duban, *args: str) -> str:
    """Runs a mistyped command: exit 2 (the operator guide's usage problem), nothing on stdout,
    no traceback; returns stderr."""
    result = duban(*args)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert "用法：" in result.stderr
    assert "错误" in result.stderr
    return result.stderr


def unboxed(text: str) -> str:
    """A help page with its boxes, padding and line breaks taken out."""
    return re.sub(r"[\s│╭╮╰╯─]", "", text)


@pytest.mark.parametrize("path", COMMANDS)
def test_every_help_page_is_in_chinese_and_whole(duban: Duban, path: str) -> None:
    page = succeeds(duban(*path.split(), "--help")).stdout
    assert "用法：" in page
    assert "显示本帮助并退出。" in page
    assert "选项" in page
    assert not [word for word in ENGLISH if word in page]
    for param in COMMANDS[path].params:
        assert unboxed(param.help or "") in unboxed(page), param.name


def test_a_commands_help_is_shown_whole_in_its_groups_list(duban: Duban) -> None:
    page = unboxed(succeeds(duban("--help")).stdout)
    for name, command in COMMANDS[""].commands.items():
        first = unboxed((command.help or "").split("\n\n")[0])
        assert name + first in page, name


def test_an_unknown_command_says_so_in_chinese(duban: Duban) -> None:
    assert "没有命令 nosuch，可用 --help 查看全部命令" in usage_error(duban, "nosuch")


def test_a_mistyped_option_suggests_the_right_one(duban: Duban) -> None:
    assert "没有选项 --onc，是否要用 --force、--once" in usage_error(duban, "run", "--onc")


def test_a_missing_option_is_named(duban: Duban) -> None:
    assert "缺少选项 --from" in usage_error(duban, "simulate", "--to", "2020-12-31")


def test_a_missing_argument_is_named(duban: Duban) -> None:
    assert "缺少参数 file" in usage_error(duban, "import")


def test_a_value_of_the_wrong_type_is_named_with_what_it_should_be(duban: Duban) -> None:
    assert "--limit 的值无效：应为整数" in usage_error(duban, "outbox", "--limit", "many")


def test_an_extra_argument_is_named(duban: Duban) -> None:
    stderr = usage_error(duban, "simulate", "--from", "2020-01-01", "--to", "2020-01-02", "x")
    assert "多余的参数：x" in stderr


def test_an_option_without_its_value_says_it_needs_one(duban: Duban) -> None:
    result = duban("tasks", "--plan")
    assert result.exit_code == 2
    assert "选项 --plan 需要一个值" in result.stderr


def test_version_prints_the_installed_version(duban: Duban) -> None:
    assert re.fullmatch(r"duban \d+\.\d+\.\d+\S*\n", succeeds(duban("--version")).stdout)


def test_a_package_that_is_not_installed_has_no_version_to_show() -> None:
    with pytest.raises(DubanError, match=r"未找到已安装的 no-such-package 包.*make install"):
        version_line("no-such-package")


@pytest.mark.parametrize(
    ("variable", "value", "problem"),
    [
        ("DUBAN_WEB__PORT", "many", "web.port: 应为整数"),
        ("DUBAN_WEB__PORTT", "8000", "web.portt: 不认识的设置项（请检查拼写）"),
        ("DUBAN_LOG__LEVEL", "LOUD", "log.level: 应为以下之一：DEBUG、INFO、WARNING、ERROR"),
        ("DUBAN_WEB__ENABLED", "maybe", "web.enabled: 应为 true 或 false"),
        ("DUBAN_PLAN__TIMEZONE", "Mars/Base", "plan.timezone: 未知的时区「Mars/Base」"),
    ],
)
def test_a_bad_setting_is_explained_in_chinese(
    tmp_path: Path, variable: str, value: str, problem: str
) -> None:
    duban = make_duban(f"sqlite:///{tmp_path / 'duban.db'}", **{variable: value})
    line = fails_with_one_line(duban("units"), code=2)
    assert line.startswith(f"错误：配置错误 {problem}")
    assert line.endswith(f"（见 ${variable}）")


def test_a_bad_directory_is_explained_in_chinese(tmp_path: Path) -> None:
    units = tmp_path / "units.toml"
    units.write_text('[units."市水利局"]\ncolour = "blue"\n', encoding="utf-8")
    duban = make_duban(f"sqlite:///{tmp_path / 'duban.db'}", DUBAN_DIRECTORY__PATH=str(units))
    line = fails_with_one_line(duban("import", SAMPLE, "--dry-run"))
    assert "单位名录字段 units.市水利局.colour 有误：不认识的设置项（请检查拼写）" in line
