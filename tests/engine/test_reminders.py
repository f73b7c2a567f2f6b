"""The link to the report page in each unit's reminder: per unit and item, in the message's
items (for cards) and its text (a markdown link, or the bare address), never in what a
leader or the office reads (the link acts as the unit), and none while links are off."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from bot.app.runtime import Runtime
from bot.delivery.compose import Composer
from bot.delivery.render import render_reminder
from bot.delivery.splitting import split_message
from bot.domain.tokens import verify
from bot.platforms.formats import Formats, MessageFormat
from bot.present.links import Links
from bot.store.models import DuePoint, Message, Unit
from tests.support.engine import import_plan, local, make_runtime, working_mornings, writer_sessions
from tests.support.report import PUBLIC_URL, SECRET

LINKS = Links(PUBLIC_URL, SECRET.encode(), 30)


@pytest.fixture
def sessions(engine: Engine, tmp_path: Path) -> sessionmaker[Session]:
    factory = writer_sessions(engine)
    import_plan(factory, tmp_path)
    return factory


def runtime_with(sessions: sessionmaker[Session], composer: Composer) -> Runtime:
    return replace(make_runtime(sessions), composer=composer)


def messages(sessions: sessionmaker[Session]) -> list[Message]:
    with sessions() as session:
        return list(session.scalars(select(Message).order_by(Message.id)))


def test_each_units_reminder_links_each_item_to_its_report_page(
    sessions: sessionmaker[Session],
) -> None:
    runtime_with(sessions, Composer(links=LINKS)).cycle(local("2020-09-22T09:00"))
    sent = messages(sessions)
    assert len(sent) == 3
    with sessions() as session:
        units = {u.name: u.id for u in session.scalars(select(Unit))}
        for message in sent:
            (item,) = message.items
            link = item["link"]
            assert link.startswith(f"{PUBLIC_URL}/r/")
            assert f"在线填报：{link}" in message.text
            claims = verify(LINKS.key, link.rsplit("/", 1)[1], "report", local("2020-09-22T09:00"))
            unit_id, point_id = claims.subject
            assert unit_id == units[message.recipient_name]
            point = session.get_one(DuePoint, point_id)
            assert point.assignment.unit_id == unit_id


def test_a_markdown_channel_gets_a_markdown_link(sessions: sessionmaker[Session]) -> None:
    formats = Formats({"console": MessageFormat("console", "markdown")})
    runtime_with(sessions, Composer(formats, links=LINKS)).cycle(local("2020-09-22T09:00"))
    for message in messages(sessions):
        assert f"[在线填报]({message.items[0]['link']})" in message.text


def test_leaders_and_the_office_get_no_units_link(sessions: sessionmaker[Session]) -> None:
    runtime = runtime_with(sessions, Composer(links=LINKS))
    for morning in working_mornings(date(2020, 9, 22), date(2020, 11, 6), runtime.calendar):
        runtime.cycle(morning)
    to_leaders = [m for m in messages(sessions) if m.recipient_kind != "unit"]
    assert to_leaders, "the ladder reached a leader or the office"
    for message in to_leaders:
        assert all("link" not in item for item in message.items)
        assert "/r/" not in message.text


def test_no_link_while_links_are_off(sessions: sessionmaker[Session]) -> None:
    runtime_with(sessions, Composer()).cycle(local("2020-09-22T09:00"))
    for message in messages(sessions):
        assert "link" not in message.items[0]
        assert "在线填报" not in message.text


@pytest.mark.parametrize("markup", ["text", "markdown"])
def test_a_long_reminder_with_links_splits_within_the_budget_keeping_each_link_whole(
    markup: str,
) -> None:
    now = local("2020-09-22T09:00")
    items = [
        {
            "task": str(n),
            "text": "新增公共停车位 1000 个，完善配套设施建设。",
            "unit": "市发改委",
            "kind": "report",
            "name": None,
            "due": "2020-09-25",
            "overdue_days": 0,
            "level_name": "提醒",
            "link": LINKS.report(1, 1000 + n, now),
        }
        for n in range(1, 61)
    ]
    shape = MessageFormat("wecom", markup)
    text = render_reminder("notice", "市发改委", "unit", items, markup=markup)
    parts = split_message(text, shape.max_bytes)
    assert len(parts) > 1
    assert all(len(part.encode()) <= shape.max_bytes for part in parts)
    for item in items:
        assert sum(str(item["link"]) in part for part in parts) == 1
