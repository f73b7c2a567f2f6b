"""`duban reply --as`: a reply the office enters for a unit, a supervisor or itself, under the
same rules as replies from chat and on record; and `duban serve`'s address check."""

from __future__ import annotations

import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.domain.tokens import verify
from bot.replies.keywords import help_text
from bot.store import database
from bot.store.models import Assignment, AuditEvent, Message
from tests.support.cli import Duban, fails_with_one_line, json_of, make_duban, succeeds
from tests.support.web import write_directory, write_plan

pytestmark = pytest.mark.slow  # the CLI on a database holding part of the sample plan

PROGRESS = "进展 #1 60% 已完成立项"


@pytest.fixture
def duban(db_url: str, tmp_path: Path) -> Duban:
    """The CLI on a database holding the sample plan (its tasks 1, 11 and 50) and directory."""
    directory = write_directory(tmp_path, everywhere=False)
    duban = make_duban(db_url, DUBAN_DIRECTORY__PATH=str(directory))
    succeeds(duban("import", write_plan(tmp_path)))
    return duban


def task(duban: Duban, number: str = "1") -> dict[str, Any]:
    shown: dict[str, Any] = json_of(duban("tasks", "show", number, "--json"))
    return shown


def assignment(duban: Duban, unit: str, number: str = "1") -> dict[str, Any]:
    found: list[dict[str, Any]] = [
        a for a in task(duban, number)["assignments"] if a["unit"] == unit
    ]
    assert len(found) == 1, found
    return found[0]


def audit(db_url: str) -> list[AuditEvent]:
    engine = database.make_engine(db_url)
    try:
        with database.session_factory(engine)() as session:
            query = select(AuditEvent).where(AuditEvent.actor != "import").order_by(AuditEvent.id)
            return list(session.scalars(query))
    finally:
        engine.dispose()


def messages(db_url: str) -> list[Message]:
    engine = database.make_engine(db_url)
    try:
        with database.session_factory(engine)() as session:
            return list(session.scalars(select(Message).order_by(Message.id)))
    finally:
        engine.dispose()


def test_a_reply_entered_for_a_contact_is_applied_and_its_answer_printed(duban: Duban) -> None:
    result = succeeds(duban("reply", "--as", "联络员2", PROGRESS))
    assert result.stdout.strip() == "已收到第1项进展（60%），谢谢。"
    assert assignment(duban, "市发改委") == {
        "unit": "市发改委",
        "role": "lead",
        "status": "in_progress",
        "progress": 60,
        "deadline": "2020-12-31",
    }
    assert assignment(duban, "市财政局")["status"] == "not_started"


def test_the_entry_is_audited_on_the_office_entry_channel(duban: Duban, db_url: str) -> None:
    succeeds(duban("reply", "--as", "联络员2", PROGRESS))
    progress, entered = audit(db_url)
    assert (progress.action, progress.actor, progress.channel) == (
        "reply.progress",
        "市发改委",
        "office-entry",
    )
    assert progress.detail["percent"] == 60
    assert (entered.action, entered.actor, entered.channel) == (
        "reply.entered",
        "督查室",
        "office-entry",
    )
    assert entered.detail == {
        "as": "联络员2",
        "actor": "市发改委",
        "text": PROGRESS,
        "reply": "已收到第1项进展（60%），谢谢。",
    }


def test_a_unit_may_be_named_by_its_alias(duban: Duban) -> None:
    succeeds(duban("reply", "--as", "发改委", "完成 #1 指标均已达成"))
    assert assignment(duban, "市发改委")["status"] == "closure_requested"


def test_an_unknown_name_is_one_clear_line_and_changes_nothing(duban: Duban, db_url: str) -> None:
    before = task(duban)
    line = fails_with_one_line(duban("reply", "--as", "不存在", PROGRESS))
    assert line == (
        "错误：没有名为「不存在」的联系人、单位、分管领导或督查室（可用 `duban units` 查看）"
    )
    assert task(duban) == before
    assert audit(db_url) == []


def test_a_refused_command_exits_1_and_changes_nothing_but_the_record(
    duban: Duban, db_url: str
) -> None:
    before = task(duban)
    result = duban("reply", "--as", "联络员3", "完成 #1")  # 市财政局 only helps on task 1
    assert result.exit_code == 1
    assert result.stdout.strip() == (
        "办结申请由牵头单位提出；配合单位请回复「进展」报送本单位进展。"
    )
    assert task(duban) == before
    assert messages(db_url) == []
    [refused] = audit(db_url)
    assert (refused.action, refused.actor, refused.channel) == (
        "reply.refused",
        "督查室",
        "office-entry",
    )
    assert refused.detail["actor"] == "市财政局"


def test_a_reply_that_is_no_command_exits_1_with_the_reason(duban: Duban, db_url: str) -> None:
    line = fails_with_one_line(duban("reply", "--as", "联络员2", "进展 60%"))
    assert line == "错误：请注明任务编号，例如「进展 #12 60% 已完成项目立项」。"
    assert audit(db_url) == []


def test_help_is_printed_and_not_recorded(duban: Duban, db_url: str) -> None:
    result = succeeds(duban("reply", "--as", "联络员2", "帮助"))
    assert result.stdout.strip() == help_text()
    assert audit(db_url) == []


def test_at_backdates_the_reply(duban: Duban, db_url: str) -> None:
    succeeds(duban("reply", "--as", "联络员2", PROGRESS, "--at", "2020-03-10T09:30"))
    moment = datetime(2020, 3, 10, 1, 30, tzinfo=UTC)  # 09:30 in the plan's time zone
    assert {event.at for event in audit(db_url)} == {moment}
    engine = database.make_engine(db_url)
    try:
        with engine.connect() as conn:
            reported = conn.scalars(
                select(Assignment.last_report_at).where(Assignment.progress == 60)
            ).all()
    finally:
        engine.dispose()
    assert reported == [moment]


def test_at_takes_an_explicit_offset(duban: Duban, db_url: str) -> None:
    succeeds(duban("reply", "--as", "联络员2", PROGRESS, "--at", "2020-03-10T09:30:00+00:00"))
    assert {event.at for event in audit(db_url)} == {datetime(2020, 3, 10, 9, 30, tzinfo=UTC)}


def test_an_invalid_at_is_one_clear_line(duban: Duban, db_url: str) -> None:
    line = fails_with_one_line(duban("reply", "--as", "联络员2", PROGRESS, "--at", "昨天"))
    assert line == "错误：--at 不是有效的时间：昨天（示例：--at 2020-09-22T09:00）"
    assert audit(db_url) == []


def test_the_supervisor_confirms_a_closure_entered_for_the_lead_unit(duban: Duban) -> None:
    succeeds(duban("reply", "--as", "联络员2", "完成 #1"))
    result = succeeds(duban("reply", "--as", "李明", "确认办结 #1"))
    assert result.stdout.strip() == "第1项已确认办结。"
    assert {a["status"] for a in task(duban)["assignments"]} == {"closed"}


def test_the_supervisor_may_not_confirm_a_task_outside_his_units(duban: Duban) -> None:
    succeeds(duban("reply", "--as", "联络员1", "完成 #50"))
    result = duban("reply", "--as", "李明", "确认办结 #50")
    assert result.exit_code == 1
    assert "不在您分管的范围内" in result.stdout
    statuses = {a["unit"]: a["status"] for a in task(duban, "50")["assignments"]}
    assert statuses == {"市住建局": "closure_requested", "普陀区政府": "not_started"}


def test_a_blocker_is_queued_for_the_supervisor(duban: Duban, db_url: str) -> None:
    result = succeeds(duban("reply", "--as", "联络员2", "困难 #1 项目资金尚未到位"))
    assert result.stdout.strip() == "第1项困难已记录，将报分管领导协调。"
    [message] = messages(db_url)
    assert (message.kind, message.state) == ("blocker", "pending")
    assert (message.recipient_kind, message.recipient_name) == ("supervisor", "李明")
    assert "项目资金尚未到位" in message.text
    assert "市发改委" in message.text
    assert message.text.startswith("【困难上报】李明常务副市长：\n")  # by title, from the directory
    assert "请审阅" in message.text


def test_serve_on_an_address_in_use_is_one_clear_line(duban: Duban) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        line = fails_with_one_line(duban("serve", "--host", "127.0.0.1", "--port", str(port)))
    assert line.startswith(f"错误：无法在 127.0.0.1:{port} 上提供服务：")


def test_serve_refuses_a_port_outside_the_tcp_range(duban: Duban) -> None:
    result = duban("serve", "--port", "99999")
    assert result.exit_code == 2
    assert "65535" in result.output


# --- review-link ---------------------------------------------------------------------------

LINKED = {"DUBAN_WEB__PUBLIC_URL": "https://duban.example.gov.cn", "DUBAN_REPORT__SECRET": "k" * 32}


def test_review_link_prints_the_offices_page_and_a_supervisors(db_url: str, tmp_path: Path) -> None:
    directory = write_directory(tmp_path, everywhere=False)
    duban = make_duban(db_url, DUBAN_DIRECTORY__PATH=str(directory), **LINKED)
    succeeds(duban("import", write_plan(tmp_path)))
    now = datetime.now(UTC)

    office = succeeds(duban("review-link")).stdout.strip()
    leader = succeeds(duban("review-link", "--supervisor", "李明")).stdout.strip()

    key = LINKED["DUBAN_REPORT__SECRET"].encode()
    assert office.startswith("https://duban.example.gov.cn/v/")
    assert verify(key, office.rsplit("/", 1)[1], "review", now).subject == ("office",)
    assert verify(key, leader.rsplit("/", 1)[1], "review", now).subject[0] == "supervisor"
    assert "没有名为「张三」的分管领导" in fails_with_one_line(
        duban("review-link", "--supervisor", "张三")
    )


def test_review_link_says_what_is_missing_without_links(db_url: str) -> None:
    duban = make_duban(db_url)
    assert "未配置 web.public_url 或 report.secret" in fails_with_one_line(duban("review-link"))
