"""`duban import` of a table that names no year in a title row (bot/intake/importing.py,
bot/intake/resolve.py): the year comes from the file name or the dates in it, else the
import is refused and asks for `--year`."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.cli import Duban, fails_with_one_line, json_of, make_duban, row_counts, succeeds
from tests.support.factories import write_table

HEADER: list[str | None] = ["序号", "工作任务", "牵头单位", "配合单位", "完成时限"]
UNDATED: list[list[str | None]] = [
    HEADER,
    ["1", "新增公共停车位 1000 个。", "市住建局", "", "年底前"],
    ["2", "推进政务公开。", "市府办", "", "6月底前"],
]


@pytest.fixture
def duban(db_url: str) -> Duban:
    return make_duban(db_url)


def csv_named(folder: Path, name: str, rows: list[list[str | None]]) -> Path:
    return write_table(folder, ".csv", rows).rename(folder / name)


def deadlines(duban: Duban) -> list[str]:
    return [task["deadline"] for task in json_of(duban("tasks", "--json"))]


def test_a_csv_without_any_year_is_refused_and_asks_for_year(
    duban: Duban, db_url: str, tmp_path: Path
) -> None:
    before = row_counts(db_url)
    line = fails_with_one_line(duban("import", write_table(tmp_path, ".csv", UNDATED)))
    assert "无法确定计划年度" in line
    assert "--year 2027" in line
    assert row_counts(db_url) == before


def test_a_dry_run_of_such_a_csv_shows_the_parse_and_warns_about_the_year(
    duban: Duban, tmp_path: Path
) -> None:
    result = succeeds(duban("import", write_table(tmp_path, ".csv", UNDATED), "--dry-run"))
    assert "年度 未知" in result.stdout
    assert "请用 --year 指定" in result.stderr
    assert "无法识别" not in result.stderr  # 年底前 is readable once there is a year


def test_year_dates_the_plan_and_its_deadlines(duban: Duban, tmp_path: Path) -> None:
    out = succeeds(duban("import", write_table(tmp_path, ".csv", UNDATED), "--year", "2027"))
    assert "（2027）" in out.stdout
    assert deadlines(duban) == ["2027-12-31", "2027-06-30"]


def test_the_year_is_read_from_the_file_name(duban: Duban, tmp_path: Path) -> None:
    succeeds(duban("import", csv_named(tmp_path, "2027年重点工作任务.csv", UNDATED)))
    assert deadlines(duban) == ["2027-12-31", "2027-06-30"]


def test_the_year_is_read_from_the_dates_in_the_table(duban: Duban, tmp_path: Path) -> None:
    dated: list[list[str | None]] = [
        *UNDATED,
        ["3", "建成智慧停车平台。", "市住建局", "", "2027-10-31"],
    ]
    succeeds(duban("import", write_table(tmp_path, ".csv", dated)))
    assert deadlines(duban) == ["2027-12-31", "2027-06-30", "2027-10-31"]


def test_an_unreadable_deadline_warns_with_its_row_and_stays_in_the_notes(
    duban: Duban, tmp_path: Path
) -> None:
    rows: list[list[str | None]] = [*UNDATED, ["3", "研究停车收费办法。", "市住建局", "", "视情况"]]
    result = succeeds(duban("import", write_table(tmp_path, ".csv", rows), "--year", "2027"))
    assert "任务 3 的完成时限「视情况」无法识别，已记入备注" in result.stderr
    shown = json_of(duban("tasks", "show", "3", "--json"))
    assert shown["deadline"] is None
    assert shown["notes"] == {"完成时限": "视情况"}
