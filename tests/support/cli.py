"""The `duban` command line, driven in-process: the real app on a test database and the
sample directory, the checks of its results, and the ranking flow tests' story through
October in the database it uses."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import func, select
from typer.testing import CliRunner, Result

from bot.cli import app
from bot.store import database
from bot.store.models import Base
from tests.support.engine import writer_sessions
from tests.support.paths import EXAMPLE_CONFIG, SAMPLE, SAMPLE_UNITS
from tests.support.processes import environment
from tests.support.snapshot import Snapshot
from tests.support.story import Story


class Duban(Protocol):
    def __call__(self, *args: str | Path) -> Result: ...


def runner_environment(db_url: str, **overrides: str) -> dict[str, str | None]:
    """The test database and the sample directory; no DUBAN_ variable of the shell leaks in.
    As CliRunner takes it: laid over this process's environment, None unsetting."""
    sample = {"DUBAN_DIRECTORY__PATH": str(SAMPLE_UNITS), "DUBAN_PLAN__SAMPLE": str(SAMPLE)}
    env = environment(db_url, EXAMPLE_CONFIG, **(sample | overrides))
    return {name: None for name in os.environ if name not in env} | env


def make_duban(db_url: str, **overrides: str) -> Duban:
    runner, env = CliRunner(), runner_environment(db_url, **overrides)

    def duban(*args: str | Path) -> Result:
        # Unexpected exceptions propagate and fail the test instead of hiding in the result.
        return runner.invoke(app, [str(a) for a in args], env=env, catch_exceptions=False)

    return duban


def succeeds(result: Result) -> Result:
    assert result.exit_code == 0, result.output
    return result


def json_of(result: Result) -> Any:
    return json.loads(succeeds(result).stdout)


def fails_with_one_line(result: Result, code: int = 1) -> str:
    """Asserts a clean failure: the exit code, no traceback, one line on stderr; returns it."""
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def row_counts(db_url: str) -> dict[str, int]:
    engine = database.make_engine(db_url)
    try:
        with engine.connect() as conn:
            return {
                table.name: conn.scalar(select(func.count()).select_from(table)) or 0
                for table in Base.metadata.sorted_tables
            }
    finally:
        engine.dispose()


def october_story(
    db_url: str, folder: Path, snapshots: dict[tuple[str, str], Snapshot]
) -> Iterator[Story]:
    """The flow tests' plan through October, in the database the CLI uses."""
    engine = database.make_engine(db_url)
    story = Story(writer_sessions(engine), folder, snapshots)
    story.october()
    yield story
    engine.dispose()
