"""What the supervision and export CLI tests share: the real `duban` app on a database, and
the ranking flow tests' story through October in it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from typer.testing import CliRunner, Result

from bot.cli import app
from bot.store import database
from tests.engine_factories import writer_sessions
from tests.supervise.test_ranking_flow import Story
from tests.test_cli import Duban, environment


def make_duban(db_url: str, **overrides: str) -> Duban:
    runner, env = CliRunner(), environment(db_url, **overrides)

    def duban(*args: str | Path) -> Result:
        return runner.invoke(app, [str(a) for a in args], env=env, catch_exceptions=False)

    return duban


def october_story(db_url: str, folder: Path) -> Iterator[Story]:
    """The flow tests' plan through October, in the database the CLI uses."""
    engine = database.make_engine(db_url)
    story = Story(writer_sessions(engine), folder)
    story.october()
    yield story
    engine.dispose()
