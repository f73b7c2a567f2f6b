"""The engine commands (bot/cli/engine.py), driven in-process: `run --once` (an empty database
says how to import; `--sample`, what `make run` does, imports the sample plan once; each run
names the next reminder; a year without holiday data is warned of), `serve --help` naming the
dashboard, `calendar check` and `simulate`'s summary."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.cli import fails_with_one_line, json_of, make_duban, row_counts, succeeds
from tests.support.paths import SAMPLE


def test_run_on_an_empty_database_says_how_to_import_and_imports_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'duban.db'}"
    shown = succeeds(make_duban(url)("run", "--once", "--at", "2026-03-02T08:00")).stdout
    assert "数据库中还没有计划：用 duban import 文件 导入" in shown
    assert "下一次提醒：暂无待提醒事项。" in shown
    assert row_counts(url)["plans"] == 0


def test_run_with_sample_imports_the_sample_into_an_empty_database_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'sample.db'}"
    duban = make_duban(url)
    first = succeeds(duban("run", "--once", "--sample", "--at", "2026-03-02T08:00")).stdout
    assert "导入示例计划（移至 2026 年）" in first
    assert "任务 128 项" in first
    second = succeeds(duban("run", "--once", "--sample", "--at", "2026-03-02T08:00")).stdout
    assert "导入示例计划" not in second
    assert row_counts(url)["plans"] == 1


def test_run_names_when_the_next_reminder_is_due_and_to_whom(tmp_path: Path) -> None:
    duban = make_duban(f"sqlite:///{tmp_path / 'sample.db'}")
    shown = succeeds(duban("run", "--once", "--sample", "--at", "2026-03-02T08:00")).stdout
    # The sample's first monthly report cycle (the 25th) warns three working days before.
    assert "下一次提醒：2026-03-20 09:00，发给 " in shown
    assert "个单位。" in shown


def test_serve_help_names_the_dashboard(tmp_path: Path) -> None:
    assert (
        "督办看板"
        in succeeds(make_duban(f"sqlite:///{tmp_path / 'x.db'}")("serve", "--help")).stdout
    )


def test_run_warns_in_chinese_of_a_year_without_holiday_data(tmp_path: Path) -> None:
    duban = make_duban(f"sqlite:///{tmp_path / 'duban.db'}")
    result = succeeds(duban("run", "--once", "--at", "2027-03-01T09:00"))
    assert "警告：2027 年没有法定节假日数据" in result.stderr
    assert "schedules/calendar.toml" in result.stderr
    covered = succeeds(duban("run", "--once", "--at", "2026-03-02T09:00"))
    assert "没有法定节假日数据" not in covered.stderr


def test_calendar_check_fails_until_calendar_toml_covers_the_year(tmp_path: Path) -> None:
    duban = make_duban(f"sqlite:///{tmp_path / 'duban.db'}")
    gap = duban("calendar", "check", "2027")
    assert gap.exit_code == 1
    assert "2027 年：无数据，按周一至周五" in gap.stdout
    assert "警告：2027 年没有法定节假日数据" in gap.stderr
    calendar = tmp_path / "calendar.toml"
    calendar.write_text('holidays = ["2027-01-01"]\n', encoding="utf-8")
    covered = make_duban(
        f"sqlite:///{tmp_path / 'duban.db'}", DUBAN_SCHEDULES__CALENDAR=str(calendar)
    )
    result = succeeds(covered("calendar", "check", "2027"))
    assert "仅 schedules 中的调整" in result.stdout
    assert "警告" not in result.stderr


@pytest.mark.slow  # three simulated weeks of the sample: seconds
def test_simulate_prints_a_summary_and_the_timeline_only_when_asked(tmp_path: Path) -> None:
    duban = make_duban(f"sqlite:///{tmp_path / 'duban.db'}")
    succeeds(duban("import", SAMPLE, "--at", "2020-01-01T09:00"))
    week = ("simulate", "--from", "2020-09-21", "--to", "2020-09-25")
    summary = succeeds(duban(*week)).stdout
    timeline = json_of(duban(*week, "--json"))
    sent = [entry for entry in timeline if entry["kind"] != "reply"]
    assert f"发送消息 {len(sent)} 条，处理回复 0 条。" in summary
    levels = [line for line in summary.splitlines() if "│ 提醒 " in line or "│ 催办 " in line]
    assert len(levels) == 2
    assert f"│ 2020-W39 │ 2020-09-21 │ {len(sent)}" in summary
    assert sent[0]["text"] not in summary
    assert "模拟中" not in summary  # no progress bar off a terminal
    verbose = succeeds(duban(*week, "--verbose")).stdout
    assert sent[0]["text"] in verbose
    assert "（催办）" in verbose
    assert "（urge）" not in verbose


@pytest.mark.parametrize(
    ("start", "end"), [("2020-13-01", "2020-12-31"), ("2020-10-01", "2020-09-01")]
)
def test_bad_simulate_dates_are_explained_with_an_example(
    tmp_path: Path, start: str, end: str
) -> None:
    duban = make_duban(f"sqlite:///{tmp_path / 'duban.db'}")
    line = fails_with_one_line(duban("simulate", "--from", start, "--to", end))
    assert line.endswith("如 --from 2020-09-01 --to 2020-10-31")
