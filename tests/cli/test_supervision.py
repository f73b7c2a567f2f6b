"""The supervision commands — `rank`, `rank publish` and `accountability` — driven in-process
through the real `duban` app on both backends."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.domain.calendar import WorkCalendar
from bot.domain.periods import parse_period
from bot.store import database
from bot.store.models import AuditEvent, Message
from bot.supervise.accountability import raise_entries
from bot.supervise.ranking import RankingConfig
from bot.supervise.ranking_flow import RankingSetup, as_json, compute_ranking
from tests.support.cli import (
    Duban,
    fails_with_one_line,
    json_of,
    make_duban,
    october_story,
    succeeds,
)
from tests.support.engine import TZ, local
from tests.support.paths import ROOT
from tests.support.snapshot import Snapshot
from tests.support.story import Story

pytestmark = pytest.mark.slow  # each test lives the ranking story through October

JSON_KEYS = {"unit", "score", "rank", "light", "trend", "metrics"}
LEDGER_KEYS = {"id", "unit", "rule", "evidence", "state"}
METRIC_KEYS = {
    "reports_due",
    "reports_on_time",
    "on_time_rate",
    "lead_tasks",
    "on_track",
    "on_track_rate",
    "assignments",
    "overdue",
    "no_overdue_rate",
}


@pytest.fixture
def story(
    db_url: str, tmp_path: Path, snapshots: dict[tuple[str, str], Snapshot]
) -> Iterator[Story]:
    yield from october_story(db_url, tmp_path, snapshots)


@pytest.fixture
def duban(db_url: str, story: Story) -> Duban:
    return make_duban(db_url)


def ranking_messages(db_url: str) -> list[Message]:
    engine = database.make_engine(db_url)
    try:
        with database.session_factory(engine)() as session:
            query = select(Message).where(Message.kind == "ranking").order_by(Message.id)
            return list(session.scalars(query))
    finally:
        engine.dispose()


def schedules_with(folder: Path, ranking: str) -> dict[str, str]:
    """Settings overrides pointing at a copy of schedules/ with this ranking.toml."""
    folder.mkdir()
    shutil.copyfile(ROOT / "schedules" / "default.toml", folder / "default.toml")
    (folder / "ranking.toml").write_text(ranking, encoding="utf-8")
    return {
        "DUBAN_SCHEDULES__RULES": str(folder / "default.toml"),
        "DUBAN_SCHEDULES__RANKING": str(folder / "ranking.toml"),
    }


# --- rank ---------------------------------------------------------------------------------


def test_rank_json_is_the_documented_list_best_first(duban: Duban, story: Story) -> None:
    rows = json_of(duban("rank", "--period", "2020-10", "--json"))
    assert [(r["unit"], r["score"], r["rank"], r["light"], r["trend"]) for r in rows] == [
        ("市财政局", 100.0, 1, "green", "up"),
        ("市住建局", 70.0, 2, "yellow", "down"),
        ("市发改委", 20.0, 3, "red", "same"),
    ]
    for row in rows:
        assert set(row) == JSON_KEYS
        assert set(row["metrics"]) == METRIC_KEYS
    setup = RankingSetup(config=RankingConfig(), tz=TZ, calendar=WorkCalendar())
    with story.sessions() as session:
        assert rows == as_json(compute_ranking(session, parse_period("2020-10"), setup))


def test_rank_gives_the_same_answer_whenever_it_is_asked(duban: Duban, story: Story) -> None:
    before = duban("rank", "--period", "2020-W39", "--json")
    story.november()
    after = duban("rank", "--period", "2020-W39", "--json")
    assert succeeds(before).stdout == succeeds(after).stdout
    assert [r["unit"] for r in json_of(before)] == ["市住建局", "市财政局", "市发改委"]


def test_rank_shows_a_table(duban: Duban) -> None:
    output = succeeds(duban("rank", "--period", "2020-09")).stdout
    assert "2020年9月 工作晾晒（2020-09）：按时报送 50、进度达标 30、无逾期 20" in output
    for shown in ("市住建局", "100", "🟢 绿", "28.6", "🔴 红", "新上榜", "1/1", "0/1"):
        assert shown in output


def test_rank_without_a_period_ranks_the_last_month(duban: Duban) -> None:
    assert isinstance(json_of(duban("rank", "--json")), list)


@pytest.mark.parametrize(
    ("period", "problem"),
    [("2020-13", "不存在"), ("2020/10", "格式不对"), ("2999-01", "尚未结束")],
)
def test_a_bad_or_unfinished_period_is_one_clear_line(
    duban: Duban, period: str, problem: str
) -> None:
    assert problem in fails_with_one_line(duban("rank", "--period", period, "--json"))


def test_a_bad_ranking_file_names_the_key(db_url: str, story: Story, tmp_path: Path) -> None:
    overrides = schedules_with(tmp_path / "schedules", "[lights]\ngreen = 50\nyellow = 70\n")
    duban = make_duban(db_url, **overrides)
    line = fails_with_one_line(duban("rank", "--period", "2020-10"), code=2)
    assert "ranking.toml: lights" in line
    assert "yellow 不能高于 green" in line


def test_a_ranking_channel_that_is_not_configured_is_refused(
    db_url: str, story: Story, tmp_path: Path
) -> None:
    duban = make_duban(db_url, **schedules_with(tmp_path / "schedules", 'channel = "public"\n'))
    line = fails_with_one_line(duban("rank", "publish", "2020-10"), code=2)
    assert "ranking.toml: channel" in line
    assert "[channels.public]" in line


# --- rank publish -------------------------------------------------------------------------


def test_publish_queues_the_ranking_once(duban: Duban, db_url: str) -> None:
    first = succeeds(duban("rank", "publish", "2020-10")).stdout
    assert "2020年10月的排名（3 个单位）已加入发件箱" in first
    assert "渠道「console」" in first
    (message,) = ranking_messages(db_url)
    assert message.state == "pending"
    assert message.text.splitlines()[:2] == ["【工作晾晒】2020年10月", "1. 市财政局 100 分 绿灯 ↑"]
    again = succeeds(duban("rank", "publish", "2020-10")).stdout
    assert "2020-10 的排名已于" in again
    assert f"（消息 {message.id}），未重复发布" in again
    assert len(ranking_messages(db_url)) == 1


def test_publish_refuses_a_period_without_units_or_not_over(duban: Duban, db_url: str) -> None:
    assert "没有可排名的单位" in fails_with_one_line(duban("rank", "publish", "2020-08"))
    assert "尚未结束" in fails_with_one_line(duban("rank", "publish", "2999-W01"))
    assert ranking_messages(db_url) == []


def test_publish_posts_to_the_configured_channel_in_its_markup(
    db_url: str, story: Story, tmp_path: Path
) -> None:
    overrides = schedules_with(tmp_path / "schedules", 'channel = "public"\n')
    overrides |= {
        "DUBAN_CHANNELS": (
            '{"console": {"platform": "console"}, "public": {"platform": "dingtalk",'
            ' "webhook": "https://oapi.dingtalk.com/robot/send?access_token=x"}}'
        )
    }
    duban = make_duban(db_url, **overrides)
    succeeds(duban("rank", "publish", "2020-10"))
    (message,) = ranking_messages(db_url)
    assert message.channel == "public"
    assert message.text.startswith("**【工作晾晒】2020年10月**\n第1名　市财政局　**100** 分")


# --- accountability -----------------------------------------------------------------------


@pytest.fixture
def ledger(db_url: str, story: Story) -> Duban:
    """The CLI after the rules ran on 11-17: task 1 (due 11-02) is 11 working days overdue for
    市住建局 and 市财政局 (entries 1 and 2)."""
    story.sweep_until("2020-11-17")
    setup = RankingSetup(config=RankingConfig(), tz=TZ, calendar=WorkCalendar())
    with story.sessions.begin() as session:
        raise_entries(session, setup, local("2020-11-17T08:00"))
    return make_duban(db_url)


def decisions(db_url: str) -> list[AuditEvent]:
    engine = database.make_engine(db_url)
    try:
        with database.session_factory(engine)() as session:
            query = (
                select(AuditEvent)
                .where(AuditEvent.action.like("accountability.%"))
                .where(AuditEvent.action != "accountability.raised")
                .order_by(AuditEvent.id)
            )
            return list(session.scalars(query))
    finally:
        engine.dispose()


def test_accountability_json_is_the_documented_list(ledger: Duban) -> None:
    rows = json_of(ledger("accountability", "--json"))
    assert [(r["id"], r["unit"], r["rule"], r["state"]) for r in rows] == [
        (1, "市住建局", "overdue", "open"),
        (2, "市财政局", "overdue", "open"),
    ]
    for row in rows:
        assert set(row) == LEDGER_KEYS
        assert row["evidence"][0]["type"] == "due_point"
        assert row["evidence"][0]["working_days_overdue"] == 11


def test_accountability_with_nothing_raised_is_empty(duban: Duban) -> None:
    assert json_of(duban("accountability", "--json")) == []
    assert succeeds(duban("accountability")).stdout.strip() == "没有问责事项。"


def test_accountability_shows_a_table(ledger: Duban) -> None:
    output = succeeds(ledger("accountability")).stdout
    for shown in ("编号", "市住建局", "市财政局", "逾期未办", "第1项", "待处理"):
        assert shown in output


def test_confirm_and_dismiss_decide_entries_with_a_note(ledger: Duban, db_url: str) -> None:
    confirmed = succeeds(ledger("accountability", "confirm", "1", "--note", "约谈主要负责人"))
    assert confirmed.stdout.startswith("问责事项 1（市住建局：第1项")
    assert confirmed.stdout.strip().endswith("已确认，处理意见：约谈主要负责人。")
    dismissed = succeeds(ledger("accountability", "dismiss", "2"))
    assert dismissed.stdout.strip().endswith("已撤销。")
    rows = json_of(ledger("accountability", "--json"))
    assert [(r["id"], r["state"]) for r in rows] == [(1, "confirmed"), (2, "dismissed")]
    only = json_of(ledger("accountability", "--json", "--state", "confirmed"))
    assert [r["id"] for r in only] == [1]
    assert json_of(ledger("accountability", "--json", "--state", "open")) == []
    assert [(e.action, e.subject_id, e.detail["note"]) for e in decisions(db_url)] == [
        ("accountability.confirmed", 1, "约谈主要负责人"),
        ("accountability.dismissed", 2, None),
    ]


def test_an_entry_is_decided_once(ledger: Duban, db_url: str) -> None:
    succeeds(ledger("accountability", "confirm", "1"))
    for again in ("confirm", "dismiss"):
        line = fails_with_one_line(ledger("accountability", again, "1", "--note", "再议"))
        assert line.startswith("错误：问责事项 1 已确认，不能再")
    assert [e.action for e in decisions(db_url)] == ["accountability.confirmed"]


def test_an_unknown_entry_is_one_clear_line(ledger: Duban, db_url: str) -> None:
    line = fails_with_one_line(ledger("accountability", "confirm", "99"))
    assert line.startswith("错误：没有编号为 99 的问责事项")
    assert decisions(db_url) == []


def test_an_unknown_state_is_a_usage_error(ledger: Duban) -> None:
    line = fails_with_one_line(ledger("accountability", "--state", "closed"), code=2)
    assert line == "错误：未知的状态「closed」，可选：open、confirmed、dismissed"
