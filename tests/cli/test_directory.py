"""The unit directory after an import (bot/intake/directory_sync.py, bot/cli/intake.py): a robot
channel or a contact's chat id added later is applied by `duban units sync` and at `duban run`
start, each saying what changed; a channel no configuration defines is refused naming the
unit; a misspelt unit name gets 「您是否要找：…」."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.support.cli import Duban, fails_with_one_line, json_of, make_duban, succeeds
from tests.support.factories import write_plan

PLAN = """
    2027年重点工作任务责任分解
    1.新增公共停车位 1000 个，12月底前完成。
    牵头单位:市住建局
    配合单位:市发改委
"""
DIRECTORY = """
    [units."市发改委"]
    aliases = ["发改委"]
    contacts = [{ name = "张三", mobile = "13800000000" }]

    [units."市住建局"]
    channel = "console"
"""
LATER = """
    [units."市发改委"]
    aliases = ["发改委"]
    channel = "fgw"
    contacts = [{ name = "张三", mobile = "13800000000", wecom_userid = "zhangsan" }]

    [units."市住建局"]
"""


def write_units(folder: Path, text: str) -> Path:
    path = folder / "units.toml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.fixture
def units(tmp_path: Path) -> Path:
    return write_units(tmp_path, DIRECTORY)


@pytest.fixture
def duban(db_url: str, tmp_path: Path, units: Path) -> Duban:
    """The CLI with a second channel `fgw` (a JSONL file) and the plan imported."""
    duban = make_duban(
        db_url,
        DUBAN_DIRECTORY__PATH=str(units),
        DUBAN_CHANNELS__FGW__PLATFORM="jsonl",
        DUBAN_CHANNELS__FGW__PATH=str(tmp_path / "fgw.jsonl"),
    )
    succeeds(duban("import", write_plan(tmp_path, PLAN)))
    return duban


def test_units_sync_applies_channels_and_chat_ids_added_later_and_says_so(
    duban: Duban, units: Path
) -> None:
    assert "无变化" in succeeds(duban("units", "sync")).stdout
    write_units(units.parent, LATER)
    shown = succeeds(duban("units", "sync")).stdout
    assert "单位「市发改委」渠道：新增 fgw" in shown
    assert "单位「市发改委」联系人张三的 wecom_userid：新增 zhangsan" in shown
    assert "单位「市住建局」渠道：删除（原为 console）" in shown
    assert "无变化" in succeeds(duban("units", "sync")).stdout


def test_units_sync_reports_as_json(duban: Duban, units: Path) -> None:
    write_units(units.parent, LATER + '\n[units."市财政局"]\n')
    found = json_of(duban("units", "sync", "--json"))
    assert found["added"] == ["单位「市财政局」"]
    assert len(found["changes"]) == 3


def test_run_applies_the_directory_at_start(duban: Duban, units: Path) -> None:
    write_units(units.parent, LATER)
    shown = succeeds(duban("run", "--once")).stdout
    assert "单位「市发改委」渠道：新增 fgw" in shown


def test_a_channel_no_configuration_defines_is_refused_at_start(duban: Duban, units: Path) -> None:
    write_units(units.parent, LATER.replace('"fgw"', '"fgw2"'))
    for command in (("run", "--once"), ("units", "sync")):
        line = fails_with_one_line(duban(*command))
        assert "单位「市发改委」的 channel「fgw2」不是已配置的渠道" in line
        assert "[channels.fgw2]" in line
    write_units(units.parent, LATER)  # refused twice, nothing was applied
    assert "单位「市发改委」渠道：新增 fgw" in succeeds(duban("units", "sync")).stdout


def test_a_misspelt_unit_name_in_a_tasks_filter_gets_a_suggestion(duban: Duban) -> None:
    line = fails_with_one_line(duban("tasks", "--unit", "市发该委"))
    assert "没有名为「市发该委」的单位" in line
    assert "您是否要找：市发改委？" in line


def test_a_misspelt_collective_member_in_the_directory_gets_a_suggestion(
    duban: Duban, units: Path
) -> None:
    write_units(
        units.parent, DIRECTORY + '\n[collectives."各部门"]\nmembers = ["市发该委", "市住建局"]\n'
    )
    warned = succeeds(duban("units", "sync")).stderr
    assert "集体单位「各部门」的成员「市发该委」不在单位名录中，您是否要找：市发改委？" in warned


def test_a_misspelt_unit_name_in_reply_as_gets_a_suggestion(duban: Duban) -> None:
    line = fails_with_one_line(duban("reply", "--as", "市发该委", "进展 #1 60%"))
    assert "没有名为「市发该委」的联系人" in line
    assert "您是否要找：市发改委？" in line


def test_tasks_show_gives_an_approved_extensions_deadline_and_the_dashboards_supervisor(
    db_url: str, tmp_path: Path
) -> None:
    units = write_units(
        tmp_path,
        DIRECTORY + '    supervisor = "李明"\n\n    [supervisors."李明"]\n    title = "副市长"\n',
    )
    duban = make_duban(db_url, DUBAN_DIRECTORY__PATH=str(units))
    succeeds(duban("import", write_plan(tmp_path, PLAN)))
    succeeds(duban("reply", "--as", "市住建局", "延期 #1 2028-03-31 用地审批未完成"))
    succeeds(duban("reply", "--as", "督查室", "同意延期 #1"))
    shown = json_of(duban("tasks", "show", "1", "--json"))
    assert shown["supervisor"] == "李明"  # the lead unit's, as the dashboard shows it
    deadlines = {a["unit"]: a["deadline"] for a in shown["assignments"]}
    assert deadlines == {"市住建局": "2028-03-31", "市发改委": "2027-12-31"}
    table = succeeds(duban("tasks", "show", "1")).stdout
    assert "分管领导：李明" in table
    assert "2028-03-31" in table
