"""`duban export progress` and `duban export ranking`, driven in-process through the real
`duban` app on both backends."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet

from bot.domain.calendar import WorkCalendar
from bot.domain.periods import parse_period
from bot.present.labels import LIGHT_NAMES, TREND_NAMES
from bot.store import database
from bot.supervise.ranking import RankingConfig
from bot.supervise.ranking_export import RANKING_COLUMNS
from bot.supervise.ranking_flow import RankingSetup, compute_ranking
from tests.support.cli import Duban, fails_with_one_line, make_duban, october_story, succeeds
from tests.support.engine import TZ
from tests.support.snapshot import Snapshot
from tests.support.story import Story

pytestmark = pytest.mark.slow  # each test lives the ranking story through October

HEADER = ["序号", "内容与要求", "进展情况", "佐证材料", "责任单位", "状态", "灯"]
TITLE = "2020年重点工作任务责任分解 进展情况（截至2020年10月31日）"
OCTOBER_ROWS = [
    [
        "1",
        "新增公共停车位 1000 个。10月底前完成。",
        "市住建局（80%，10月20日）：主体完工\n市财政局（10月22日）：资金已拨付",
        "无",
        "牵头：市住建局；配合：市财政局",
        "推进中",
        "绿",
    ],
    [
        "2",
        "建设小干岛中央商务区。",
        "市发改委（10%，9月28日）：完成选址",
        "无",
        "牵头：市发改委",
        "推进中",
        "绿",
    ],
]


@pytest.fixture
def story(
    db_url: str, tmp_path: Path, snapshots: dict[tuple[str, str], Snapshot]
) -> Iterator[Story]:
    yield from october_story(db_url, tmp_path, snapshots)


@pytest.fixture
def duban(db_url: str, story: Story) -> Duban:
    return make_duban(db_url)


@pytest.fixture
def out(tmp_path: Path) -> Path:
    folder = tmp_path / "out"
    folder.mkdir()
    return folder


def xlsx_rows(path: Path) -> tuple[Worksheet, list[list[Any]]]:
    sheet = load_workbook(path).active
    assert isinstance(sheet, Worksheet)
    return sheet, [[c.value for c in row] for row in sheet.iter_rows()]


def csv_rows(path: Path) -> list[list[str]]:
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


# --- export progress ----------------------------------------------------------------------


def test_progress_as_xlsx(duban: Duban, out: Path) -> None:
    path = out / "进展.xlsx"
    result = succeeds(duban("export", "progress", "-o", path, "--as-of", "2020-10-31"))
    assert "已导出进展情况表（2 项任务，截至 2020-10-31，xlsx）" in result.stdout
    sheet, rows = xlsx_rows(path)
    assert sheet.title == "进展情况 2020-10-31"
    assert rows[0][0] == TITLE
    assert rows[1] == HEADER
    assert rows[2:] == OCTOBER_ROWS
    assert sheet.freeze_panes == "A3"
    assert all(cell.font.bold for cell in sheet[2])
    assert sheet["C3"].alignment.wrap_text
    assert [p.name for p in out.iterdir()] == ["进展.xlsx"]  # no temporary file left


def test_progress_as_csv_and_md(duban: Duban, out: Path) -> None:
    day = ("--as-of", "2020-10-31")
    succeeds(duban("export", "progress", "--format", "csv", "-o", out / "p", *day))
    assert csv_rows(out / "p") == [HEADER, *OCTOBER_ROWS]
    succeeds(duban("export", "progress", "-o", out / "p.md", *day))
    lines = (out / "p.md").read_text(encoding="utf-8").splitlines()
    assert lines[0] == f"# {TITLE}"
    assert lines[2] == "| 序号 | 内容与要求 | 进展情况 | 佐证材料 | 责任单位 | 状态 | 灯 |"
    assert lines[4] == (
        "| 1 | 新增公共停车位 1000 个。10月底前完成。 "
        "| 市住建局（80%，10月20日）：主体完工<br>市财政局（10月22日）：资金已拨付 "
        "| 无 | 牵头：市住建局；配合：市财政局 | 推进中 | 绿 |"
    )
    assert len(lines) == 6


def test_as_of_before_and_after_a_reply(duban: Duban, out: Path) -> None:
    def progress(day: str) -> list[list[str]]:
        succeeds(duban("export", "progress", "-o", out / f"{day}.csv", "--as-of", day))
        return csv_rows(out / f"{day}.csv")[1:]

    before, after = progress("2020-09-22"), progress("2020-09-23")
    assert [r[2] for r in before] == ["尚未报送", "尚未报送"]
    assert [r[HEADER.index("状态")] for r in before] == ["未启动", "未启动"]
    assert [r[2] for r in after] == ["市住建局（50%，9月23日）：已开工", "尚未报送"]
    assert [r[HEADER.index("状态")] for r in after] == ["推进中", "未启动"]
    assert progress("2020-10-21")[0][2] == "市住建局（80%，10月20日）：主体完工"
    assert progress("2020-10-22")[0][2] == OCTOBER_ROWS[0][2]


def test_progress_as_of_today_shows_the_overdue_lights(duban: Duban, out: Path) -> None:
    succeeds(duban("export", "progress", "-o", out / "today.csv"))
    # Task 1 was due 2020-10-31 and task 2 by the year end: neither closed since.
    assert [row[HEADER.index("灯")] for row in csv_rows(out / "today.csv")[1:]] == ["红", "红"]


def test_progress_replaces_an_existing_file(duban: Duban, out: Path) -> None:
    path = out / "p.csv"
    path.write_text("old", encoding="utf-8")
    succeeds(duban("export", "progress", "-o", path, "--as-of", "2020-10-31"))
    assert csv_rows(path)[0] == HEADER


# --- export ranking -----------------------------------------------------------------------


def ranking_rows(db_url: str, labels: list[str]) -> list[list[Any]]:
    """What the export should hold: compute_ranking's answer for each period."""
    setup = RankingSetup(config=RankingConfig(), tz=TZ, calendar=WorkCalendar())
    engine = database.make_engine(db_url)
    rows: list[list[Any]] = []
    try:
        with database.session_factory(engine)() as session:
            for label in labels:
                for r in compute_ranking(session, parse_period(label), setup):
                    m = r.metrics.as_json()
                    rows.append(
                        [label, r.rank, r.unit, r.score, LIGHT_NAMES[r.light], TREND_NAMES[r.trend]]
                        + [m[k] for k in METRICS]
                    )
    finally:
        engine.dispose()
    return rows


METRICS = (
    "reports_due",
    "reports_on_time",
    "on_time_rate",
    "lead_tasks",
    "on_track",
    "on_track_rate",
    "assignments",
    "overdue",
    "no_overdue_rate",
)


def test_ranking_as_xlsx_covers_the_plan_years_ended_months(
    duban: Duban, db_url: str, out: Path
) -> None:
    path = out / "ranking.xlsx"
    result = succeeds(duban("export", "ranking", "-o", path))
    assert "已导出 2020-01 至 2020-12 共 12 期排名" in result.stdout
    sheet, rows = xlsx_rows(path)
    assert sheet.title == "晾晒排名"
    assert rows[0][0] == "2020年重点工作任务责任分解 工作晾晒排名（2020-01 至 2020-12，按月）"
    assert rows[1] == [c.name for c in RANKING_COLUMNS]
    expected = ranking_rows(db_url, [f"2020-{m:02d}" for m in range(1, 13)])
    assert rows[2:] == expected
    assert [r[0] for r in expected[:4]] == ["2020-09", "2020-09", "2020-09", "2020-10"]
    assert expected[0][:6] == ["2020-09", 1, "市住建局", 100.0, "绿", "新上榜"]


def test_ranking_of_weeks_as_csv(duban: Duban, db_url: str, out: Path) -> None:
    path = out / "weeks.csv"
    succeeds(duban("export", "ranking", "-o", path, "--from", "2020-W38", "--to", "2020-W40"))
    rows = csv_rows(path)
    assert rows[0] == [c.name for c in RANKING_COLUMNS]
    expected = ranking_rows(db_url, ["2020-W38", "2020-W39", "2020-W40"])
    assert rows[1:] == [["" if v is None else str(v) for v in row] for row in expected]
    assert {r[0] for r in rows[1:]} == {"2020-W38", "2020-W39", "2020-W40"}


def test_ranking_as_md(duban: Duban, out: Path) -> None:
    path = out / "r.md"
    succeeds(duban("export", "ranking", "-o", path, "--from", "2020-10", "--to", "2020-10"))
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "# 2020年重点工作任务责任分解 工作晾晒排名（2020-10，按月）"
    first = (
        "| 2020-10 | 1 | 市财政局 | 100.0 | 绿 | 上升 | 1 | 1 | 100.0 | 0 | 0 |  | 1 | 0 | 100.0 |"
    )
    assert lines[4] == first
    assert len(lines) == 7


# --- bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["progress", "--format", "pdf", "-o", "{out}/p.pdf"], "不支持的格式「pdf」"),
        (["progress", "-o", "{out}/p.txt"], "无法从文件名「p.txt」判断格式"),
        (["progress", "-o", "{out}/missing/p.csv"], "不存在"),
        (["progress", "-o", "{out}", "--format", "csv"], "这是一个目录"),
        (["progress", "-o", "{out}/p.csv", "--as-of", "2020-10-32"], "不是有效日期"),
        (["progress", "-o", "{out}/p.csv", "--as-of", "2999-01-01"], "晚于今天"),
        (["progress", "-o", "{out}/p.csv", "--as-of", "2020-08-31"], "早于计划导入的日期"),
        (["ranking", "-o", "{out}/r.csv", "--from", "2020-13"], "不存在"),
        (["ranking", "-o", "{out}/r.csv", "--to", "2999-W01"], "尚未结束"),
        (["ranking", "-o", "{out}/r.csv", "--from", "2020-10", "--to", "2020-09"], "晚于 --to"),
        (["ranking", "-o", "{out}/r.csv", "--kind", "day"], "不支持的期间类型"),
        (["ranking", "-o", "{out}/r.csv", "--from", "2020-10", "--kind", "week"], "不一致"),
        (["ranking", "-o", "{out}/r.xls"], "无法从文件名「r.xls」判断格式"),
    ],
)
def test_bad_input_is_one_clear_line_and_leaves_no_file(
    duban: Duban, out: Path, args: list[str], problem: str
) -> None:
    line = fails_with_one_line(duban("export", *(a.format(out=out) for a in args)))
    assert line.startswith("错误：")
    assert problem in line
    assert list(out.iterdir()) == []


@pytest.mark.parametrize("command", ["progress", "ranking"])
def test_without_a_plan(db_url: str, out: Path, command: str) -> None:
    duban = make_duban(db_url)
    line = fails_with_one_line(duban("export", command, "-o", out / "x.xlsx"))
    assert "数据库中还没有计划" in line
    assert list(out.iterdir()) == []


def test_a_failed_write_leaves_no_file(
    duban: Duban, out: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(source: str, target: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full)
    line = fails_with_one_line(duban("export", "progress", "-o", out / "p.xlsx"))
    assert "无法写入" in line
    assert "No space left on device" in line
    assert list(out.iterdir()) == []
