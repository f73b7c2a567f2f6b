"""`duban simulate`: the real engine on a virtual clock, on a copy unless --apply."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select, update
from typer.testing import CliRunner, Result

from bot.cli import app
from bot.store.models import Message
from tests.support.engine import count, import_plan, writer_sessions
from tests.support.processes import environment

pytestmark = pytest.mark.slow  # weeks of the engine on a virtual clock, through the CLI


@pytest.fixture
def url(engine: Engine, db_url: str, tmp_path: Path) -> str:
    import_plan(writer_sessions(engine), tmp_path)
    return db_url


def simulate(url: str, *args: str) -> Result:
    return CliRunner().invoke(app, ["simulate", *args], env=environment(url))


def timeline(url: str, *args: str) -> list[dict[str, Any]]:
    result = simulate(url, "--from", "2020-09-20", "--to", "2020-10-15", "--json", *args)
    assert result.exit_code == 0, result.output
    entries: list[dict[str, Any]] = json.loads(result.stdout)
    return entries


def test_it_prints_the_documented_timeline_without_touching_the_database(
    url: str, engine: Engine
) -> None:
    entries = timeline(url)
    assert entries
    for entry in entries:
        assert set(entry) == {"at", "to", "kind", "items", "text"}
        assert set(entry["to"]) == {"kind", "name"}
        assert entry["to"]["kind"] in {"unit", "supervisor", "office", "group"}
        assert all(set(item) == {"task", "unit", "level", "due"} for item in entry["items"])
    assert entries[0]["at"] == "2020-09-22T09:00:00+08:00"
    assert entries[0]["kind"] == "notice"
    assert count(writer_sessions(engine), Message) == 0


def test_a_blocker_and_an_unanswered_acknowledgement_show_in_the_timeline(
    url: str, tmp_path: Path
) -> None:
    script = tmp_path / "replies.csv"
    script.write_text(
        "at,unit,text\n"
        "2020-09-23T15:00,市发改委,困难 #2 选址尚未确定\n"
        "2020-09-24T10:00,市住建局,收到 #1\n",
        encoding="utf-8",
    )
    entries = timeline(url, "--replies", str(script))
    (blocker,) = [e for e in entries if e["kind"] == "blocker"]
    assert blocker["to"] == {"kind": "supervisor", "name": "李明"}
    assert "选址尚未确定" in blocker["text"]
    assert blocker["items"] == [{"task": "2", "unit": None, "level": None, "due": None}]
    (followup,) = [e for e in entries if e["kind"] == "followup"]
    assert followup["to"] == {"kind": "unit", "name": "市住建局"}
    # 3 working days after 9月24日: 25th, the working Sunday 27th (调休), 28th
    assert followup["at"].startswith("2020-09-28")


def test_it_sends_nothing_during_the_national_day_holiday(url: str) -> None:
    days = {entry["at"][:10] for entry in timeline(url)}
    assert not [d for d in days if "2020-10-01" <= d <= "2020-10-08"]
    assert "2020-09-27" in days  # a working Sunday (调休)


def test_the_same_arguments_give_the_same_timeline(url: str) -> None:
    assert timeline(url) == timeline(url)


def test_scripted_replies_are_applied_at_their_moments(url: str, tmp_path: Path) -> None:
    script = tmp_path / "replies.csv"
    script.write_text(
        "at,unit,text\n2020-09-23T15:00,市发改委,进展 #2 40% 已完成选址\n", encoding="utf-8"
    )
    entries = timeline(url, "--replies", str(script))
    answers = [e for e in entries if e["kind"] == "reply"]
    assert [a["text"] for a in answers] == ["已收到第2项进展（40%），谢谢。"]
    to_unit = [e["kind"] for e in entries if e["to"]["name"] == "市发改委" and e["kind"] != "reply"]
    assert to_unit == ["notice"]


def test_a_bad_reply_script_is_refused_with_its_line(url: str, tmp_path: Path) -> None:
    script = tmp_path / "replies.csv"
    script.write_text("at,unit,text\nyesterday,市发改委,进展 #2\n", encoding="utf-8")
    result = simulate(url, "--from", "2020-09-20", "--to", "2020-10-15", "--replies", str(script))
    assert result.exit_code == 1
    assert "replies.csv:2" in result.stderr


def test_apply_keeps_the_simulated_state(url: str, engine: Engine) -> None:
    result = simulate(url, "--from", "2020-09-20", "--to", "2020-09-25", "--apply")
    assert result.exit_code == 0, result.output
    sessions = writer_sessions(engine)
    assert count(sessions, Message) > 0
    with sessions() as session:
        assert set(session.scalars(select(Message.simulated))) == {True}


def test_apply_refuses_a_database_with_messages_a_daemon_sent(url: str, engine: Engine) -> None:
    simulate(url, "--from", "2020-09-20", "--to", "2020-09-22", "--apply")
    sessions = writer_sessions(engine)
    with sessions.begin() as session:
        session.execute(update(Message).values(simulated=False, state="sent"))
    before = count(sessions, Message)
    result = simulate(url, "--from", "2020-09-23", "--to", "2020-09-25", "--apply")
    assert result.exit_code == 1
    assert "真实发送" in result.stderr
    assert count(sessions, Message) == before


@pytest.mark.parametrize(
    ("start", "end"), [("2020-13-01", "2020-12-31"), ("2020-10-01", "2020-09-01")]
)
def test_bad_dates_are_refused(url: str, start: str, end: str) -> None:
    result = simulate(url, "--from", start, "--to", end)
    assert result.exit_code == 1
    assert "Traceback" not in result.output
