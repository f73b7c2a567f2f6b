"""`duban run --once` (bot/cli/engine.py), driven in-process: an empty database says how to
import; `--sample` (what `make run` does, in sample.db) imports the sample plan once; each run
names the next reminder; `serve --help` names the dashboard."""

from __future__ import annotations

from pathlib import Path

from tests.support.cli import make_duban, row_counts, succeeds


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
