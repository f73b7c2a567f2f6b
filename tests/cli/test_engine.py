"""`duban run --once` (bot/cli/engine.py), driven in-process: the sample plan imported into an
empty database, once."""

from __future__ import annotations

from pathlib import Path

from tests.support.cli import make_duban, row_counts, succeeds


def test_run_imports_the_sample_into_an_empty_database_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'duban.db'}"
    duban = make_duban(url)
    first = succeeds(duban("run", "--once", "--at", "2026-03-02T08:00")).stdout
    assert "导入示例计划（移至 2026 年）" in first
    assert "任务 128 项" in first
    second = succeeds(duban("run", "--once", "--at", "2026-03-02T08:00")).stdout
    assert "导入示例计划" not in second
    assert row_counts(url)["plans"] == 1
