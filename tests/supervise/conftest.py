"""What the supervision tests share: writer sessions (the daemon's), the ranking story, and
the default ranking setup."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.domain.calendar import WorkCalendar
from bot.supervise.ranking import RankingConfig
from bot.supervise.ranking_flow import RankingSetup
from tests.support.engine import TZ, writer_sessions
from tests.support.snapshot import Snapshot
from tests.support.story import Story


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return writer_sessions(engine)


@pytest.fixture
def story(
    sessions: sessionmaker[Session],
    tmp_path: Path,
    snapshots: dict[tuple[str, str], Snapshot],
) -> Story:
    return Story(sessions, tmp_path, snapshots)


@pytest.fixture
def setup() -> RankingSetup:
    return RankingSetup(config=RankingConfig(), tz=TZ, calendar=WorkCalendar())
