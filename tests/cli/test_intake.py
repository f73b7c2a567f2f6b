"""`duban import`, `tasks`, `units` and `db upgrade` (bot/cli/intake.py), driven in-process
on both backends."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from bot.store import database
from tests.support.cli import Duban, fails_with_one_line, json_of, make_duban, row_counts, succeeds
from tests.support.factories import write_plan, write_table
from tests.support.paths import SAMPLE

pytestmark = pytest.mark.slow  # most tests import the sample plan's 128 tasks

SMALL_PLAN = """
    2020年重点工作任务责任分解
    1.新增公共停车位 1000 个。
    责任单位:市住建局、市财政局
    2.推进政务公开。
    责任单位:市府办
"""
COUNTIES = ["定海区政府", "普陀区政府", "岱山县政府", "嵊泗县政府"]
TASK_KEYS = {
    "number",
    "text",
    "section",
    "supervisor",
    "lead",
    "co_units",
    "deadline",
    "milestones",
    "indicators",
}


@pytest.fixture
def duban(db_url: str) -> Duban:
    return make_duban(db_url)


@pytest.fixture
def imported(duban: Duban) -> Duban:
    """The CLI on a database holding the sample plan."""
    succeeds(duban("import", SAMPLE))
    return duban


def by_number(tasks: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {task["number"]: task for task in tasks}


# import --dry-run


def test_a_dry_run_prints_the_documented_shape_and_writes_nothing(
    duban: Duban, db_url: str
) -> None:
    parsed = json_of(duban("import", SAMPLE, "--dry-run", "--json"))
    assert set(parsed) == {"plan", "tasks", "units", "warnings", "review"}
    assert set(parsed["review"]) == {
        "tasks",
        "units",
        "new_units",
        "tasks_without_units",
        "tasks_without_deadline",
        "flags",
    }
    assert parsed["plan"] == {"title": "2020 年市政府重点工作任务责任分解", "year": 2020}
    assert len(parsed["tasks"]) == 128
    for task in parsed["tasks"]:
        assert set(task) == TASK_KEYS
        for indicator in task["indicators"]:
            assert set(indicator) == {"phrase", "value", "unit"}
    for unit in parsed["units"]:
        assert set(unit) == {"name", "aliases", "collective"}
    assert all(isinstance(w, str) for w in parsed["warnings"])
    tasks = by_number(parsed["tasks"])
    assert (tasks["1"]["lead"], tasks["1"]["co_units"]) == ("市发改委", ["市财政局"])
    assert tasks["55"]["indicators"] == [
        {"phrase": "新增公共停车位 1000 个", "value": 1000, "unit": "个"}
    ]
    assert set(row_counts(db_url).values()) == {0}
    assert "还没有计划" in fails_with_one_line(duban("tasks"))


def test_a_dry_run_without_json_prints_a_table_of_tasks(duban: Duban) -> None:
    output = succeeds(duban("import", SAMPLE, "--dry-run")).stdout
    assert "2020 年市政府重点工作任务责任分解" in output
    assert "市发改委" in output


def test_a_dry_run_counts_and_flags_what_a_clerk_should_check(duban: Duban, tmp_path: Path) -> None:
    plan = write_plan(
        tmp_path,
        """
        2023年重点工作任务分解
        1.新增公共停车位 1000 个，10月底前完成。
        责任单位:市发该委、市财政局
        2.建设小干岛中央商务区。
        """,
    )
    output = succeeds(duban("import", plan, "--dry-run")).stdout
    assert "任务 2 项，单位 2 个（单位名录中没有的 1 个）" in output
    assert "未找到责任单位的任务 1 项，未写完成时限的任务 1 项" in output
    assert "任务 1：单位「市发该委」不在单位名录中，是否为「市发改委」？" in output
    assert "任务 2：未找到责任单位" in output


def test_a_review_sheet_corrected_in_excel_imports_as_corrected(
    duban: Duban, db_url: str, tmp_path: Path
) -> None:
    plan = write_plan(tmp_path, "2023年重点工作任务分解\n1.新增停车位。\n责任单位:市发该委")
    review = tmp_path / "review.xlsx"
    assert str(review) in succeeds(duban("import", plan, "--dry-run", "-o", review)).stdout
    assert set(row_counts(db_url).values()) == {0}
    book = load_workbook(review)
    sheet = book.active
    assert sheet is not None
    assert [c.value for c in sheet[4]][:3] == ["1", "新增停车位。", "市发该委"]
    sheet["C4"] = "市发改委"
    book.save(review)
    succeeds(duban("import", review))
    [task] = json_of(duban("tasks", "--json"))
    assert (task["lead"], task["text"]) == ("市发改委", "新增停车位。")


def test_a_review_sheet_is_only_written_by_a_dry_run_and_only_as_xlsx(
    duban: Duban, db_url: str, tmp_path: Path
) -> None:
    plan = write_plan(tmp_path, SMALL_PLAN)
    line = fails_with_one_line(duban("import", plan, "-o", tmp_path / "r.xlsx"), code=2)
    assert "--output" in line
    assert "--dry-run" in line
    line = fails_with_one_line(duban("import", plan, "--dry-run", "-o", tmp_path / "r.md"), 2)
    assert "review.xlsx" in line
    assert not list(tmp_path.glob("r.*"))
    assert set(row_counts(db_url).values()) == {0}


def test_columns_names_a_tables_columns_and_a_bad_one_is_a_usage_error(
    duban: Duban, tmp_path: Path
) -> None:
    table = tmp_path / "plan.csv"
    table.write_text("编号,项目,主办\n1,新建人行天桥2座,县住建局\n", encoding="utf-8")
    parsed = json_of(
        duban("import", table, "--dry-run", "--json", "--columns", "内容=项目,牵头=主办")
    )
    assert [(t["text"], t["lead"]) for t in parsed["tasks"]] == [("新建人行天桥2座", "县住建局")]
    line = fails_with_one_line(duban("import", table, "--dry-run", "--columns", "正文=项目"), 2)
    assert "--columns" in line


# import, then the read-only views


def test_an_import_reports_the_new_plan_and_its_tasks(duban: Duban) -> None:
    report = json_of(duban("import", SAMPLE, "--json"))
    assert report["plan_created"] is True
    assert report["tasks"] == 128
    assert report["added"][:3] == ["1", "2", "3"]
    assert len(report["added"]) == 128


def test_tasks_lists_every_imported_task_in_order(imported: Duban) -> None:
    tasks = json_of(imported("tasks", "--json"))
    assert [t["number"] for t in tasks] == [str(n) for n in range(1, 129)]
    first = by_number(tasks)["1"]
    assert (first["lead"], first["co_units"]) == ("市发改委", ["市财政局"])


def test_tasks_for_a_unit_accepts_an_alias(imported: Duban) -> None:
    tasks = json_of(imported("tasks", "--unit", "市民宗局", "--json"))
    assert [t["number"] for t in tasks] == ["21"]
    assert tasks[0]["lead"] == "市委统战部"


def test_tasks_show_lists_the_assignments_lead_first(imported: Duban) -> None:
    task = json_of(imported("tasks", "show", "124", "--json"))
    assert task["number"] == "124"
    assert task["effective_deadline"] == "2020-12-31"
    assert task["assignments"] == [
        {
            "unit": unit,
            "role": role,
            "status": "not_started",
            "progress": 0,
            "deadline": "2020-12-31",
        }
        for unit, role in [("市发改委", "lead"), ("市委市政府政研室", "co"), ("市府办", "co")]
    ]


def test_tasks_show_without_json_prints_the_task(imported: Duban) -> None:
    output = succeeds(imported("tasks", "show", "124")).stdout
    assert "任务 124：重视决策咨询工作。" in output
    assert "市委市政府政研室" in output


def test_units_lists_collectives_with_their_directory_members(imported: Duban) -> None:
    units = json_of(imported("units", "--json"))
    assert all(set(u) == {"name", "aliases", "collective", "members"} for u in units)
    named = {u["name"]: u for u in units}
    counties = named["各县(区)政府"]
    assert counties["collective"] is True
    assert sorted(counties["members"]) == sorted(COUNTIES)
    assert named["市发改委"]["aliases"] == ["市发展改革委", "发改委"]
    assert [u["name"] for u in units if "朱家尖" in u["name"]] == ["普陀山-朱家尖管委会"]


def test_importing_the_same_file_twice_changes_nothing(imported: Duban, db_url: str) -> None:
    before = row_counts(db_url)
    report = json_of(imported("import", SAMPLE, "--json"))
    assert report["plan_created"] is False
    assert (report["added"], report["changed"], report["removed"]) == ([], {}, [])
    assert report["tasks"] == 128
    assert row_counts(db_url) == before
    assert "无变化" in succeeds(imported("import", SAMPLE)).stdout


# bad input


def empty_file(folder: Path) -> Path:
    path = folder / "empty.txt"
    path.write_bytes(b"")
    return path


def binary_file(folder: Path) -> Path:
    path = folder / "binary.txt"
    path.write_bytes(b"PK\x03\x04\x00\x00\x08\x00" * 16)
    return path


def pdf_file(folder: Path) -> Path:
    path = folder / "plan.pdf"
    path.write_bytes(b"%PDF-1.7\n")
    return path


def text_without_tasks(folder: Path) -> Path:
    return write_plan(folder, "关于做好年度工作的说明\n只有一段说明文字。", "notes.txt")


def table_without_text_column(folder: Path) -> Path:
    rows: list[list[str | None]] = [["序号", "责任单位", "完成时限"], ["1", "市发改委", "年底"]]
    return write_table(folder, ".csv", rows)


def missing_file(folder: Path) -> Path:
    return folder / "absent.txt"


@pytest.mark.parametrize(
    ("make_file", "problem"),
    [
        (empty_file, "文件为空"),
        (binary_file, "不是文本文件"),
        (pdf_file, "不能直接读取 .pdf 文件，请把原文另存为 .docx，或把文字复制为 .txt"),
        (text_without_tasks, "未识别到任何编号任务"),
        (table_without_text_column, "缺少任务内容列"),
        (missing_file, "文件不存在"),
    ],
    ids=["empty", "binary", "pdf", "no-task", "csv-without-text", "missing"],
)
def test_a_bad_file_is_refused_in_one_line_and_the_database_is_unchanged(
    duban: Duban, db_url: str, tmp_path: Path, make_file: Callable[[Path], Path], problem: str
) -> None:
    succeeds(duban("import", write_plan(tmp_path, SMALL_PLAN)))
    before = row_counts(db_url)
    bad = make_file(tmp_path)
    line = fails_with_one_line(duban("import", bad))
    assert str(bad) in line
    assert problem in line
    assert row_counts(db_url) == before


@pytest.mark.parametrize(
    ("name", "save_as"),
    [("计划.doc", "另存为 .docx"), ("计划.XLS", "另存为 .xlsx"), ("计划.wps", "另存为 .docx")],
)
def test_an_old_office_file_is_refused_with_what_to_save_it_as(
    duban: Duban, tmp_path: Path, name: str, save_as: str
) -> None:
    old = tmp_path / name
    old.write_bytes(b"\xd0\xcf\x11\xe0" + bytes(60))
    line = fails_with_one_line(duban("import", old))
    assert line.startswith(f"错误：{old}: 不能直接读取")
    assert save_as in line


def test_a_bad_file_is_refused_by_a_dry_run_too(duban: Duban, tmp_path: Path) -> None:
    bad = text_without_tasks(tmp_path)
    assert str(bad) in fails_with_one_line(duban("import", bad, "--dry-run", "--json"))


# lookups that find nothing


def test_showing_an_unknown_task_fails_clearly(duban: Duban, tmp_path: Path) -> None:
    succeeds(duban("import", write_plan(tmp_path, SMALL_PLAN)))
    assert "没有任务 999" in fails_with_one_line(duban("tasks", "show", "999"))


def test_listing_the_tasks_of_an_unknown_unit_fails_clearly(duban: Duban, tmp_path: Path) -> None:
    succeeds(duban("import", write_plan(tmp_path, SMALL_PLAN)))
    assert "不存在的单位" in fails_with_one_line(duban("tasks", "--unit", "不存在的单位"))


# db upgrade


def test_db_upgrade_is_idempotent(duban: Duban) -> None:
    head = database.head_revision()
    assert head is not None
    for _ in range(2):
        assert head in succeeds(duban("db", "upgrade")).stdout


def test_db_upgrade_migrates_a_new_sqlite_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new' / 'duban.db'}"
    succeeds(make_duban(url)("db", "upgrade"))
    engine = database.make_engine(url)
    try:
        assert database.current_revision(engine) == database.head_revision()
    finally:
        engine.dispose()
