"""The engine run as real processes: two at once, and the clock read by `run --once`."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from freezegun import freeze_time
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from bot.cli import app
from bot.store.models import Message, Notification
from tests.support.engine import count, import_plan, writer_sessions
from tests.support.paths import ROOT
from tests.support.processes import DUBAN, environment

pytestmark = pytest.mark.slow  # real `duban` processes


def test_two_processes_sweeping_at_once_create_each_reminder_once(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    sessions = writer_sessions(engine)
    import_plan(sessions, tmp_path)
    command = [str(DUBAN), "run", "--once", "--at", "2020-10-12T09:00"]
    processes = [
        subprocess.Popen(
            command,
            cwd=ROOT,
            env=environment(db_url),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=60) for p in processes]
    assert [p.returncode for p in processes] == [0, 0], outputs
    with sessions() as session:
        keys = session.scalars(select(Notification.key)).all()
        per_message = session.execute(
            select(Notification.message_id, func.count()).group_by(Notification.message_id)
        ).all()
    assert len(keys) == len(set(keys)) == 6  # 3 points x (supervisor, office)
    assert count(sessions, Message) == len(per_message)
    assert all(n > 0 for _, n in per_message)


def test_run_once_reads_the_clock_when_no_moment_is_given(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    sessions = writer_sessions(engine)
    import_plan(sessions, tmp_path)
    with freeze_time("2020-09-22 01:00:00"):  # 09:00 in Asia/Shanghai
        result = CliRunner().invoke(app, ["run", "--once"], env=environment(db_url))
    assert result.exit_code == 0, result.output
    assert "发送 3 条" in result.stdout
    assert count(sessions, Message) == 3
