"""Who may do what, through the generic hook of the served app: a unit acts only on its
own assignments (closure only as the lead), supervisors approve the tasks they oversee, the
office approves anything. A refusal answers politely, is audited, and changes nothing."""

from __future__ import annotations

from datetime import date

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.delivery.compose import DEFAULT_OFFICE
from bot.replies.inbox import UNKNOWN_SENDER
from bot.store.models import Assignment, Task
from tests.support.web import NOW, assignment_of, assignments, audit, generic_reply, message_count

# Senders, by the ids the sample directory gives them.
pytestmark = pytest.mark.slow  # the app served by uvicorn, with a plan imported, for each test

LIAISON_NDRC = "liaison2"  # 联络员2, 市发改委: leads task 1
LIAISON_FINANCE = "liaison3"  # 联络员3, 市财政局: helps on task 1, leads task 11
LIAISON_HOUSING = "liaison1"  # 联络员1, 市住建局: leads task 50, nothing on task 1
SUPERVISOR = "liming"  # 李明: oversees 市发改委 and 市财政局, not 市住建局 (赵华's)
OFFICE = "ducha"  # 督查员 of the 督查室


def deadline_of(sessions: sessionmaker[Session], number: str, unit_role: str) -> date | None:
    with sessions() as session:
        return session.scalar(
            select(Assignment.deadline)
            .join(Task, Assignment.task_id == Task.id)
            .where(Task.number == number, Assignment.role == unit_role)
        )


def test_the_lead_unit_may_ask_for_closure(
    client: httpx.Client, planned: sessionmaker[Session]
) -> None:
    reply = generic_reply(client, LIAISON_NDRC, "完成 #1 各项指标均已达成", "oa-1", NOW)
    assert reply == "第1项办结申请已收到，待督查室确认。"
    assert assignment_of(planned, "1", "市发改委") == ("closure_requested", 0)
    assert assignment_of(planned, "1", "市财政局") == ("not_started", 0)
    [event] = audit(planned)
    assert (event.action, event.actor, event.channel) == ("reply.complete", "市发改委", "oa")
    assert event.detail["text"] == "各项指标均已达成"


def test_a_co_unit_may_report_progress_on_its_own_assignment(
    client: httpx.Client, planned: sessionmaker[Session]
) -> None:
    reply = generic_reply(client, LIAISON_FINANCE, "进展 #1 30% 资金已拨付", "oa-1", NOW)
    assert reply == "已收到第1项进展（30%），谢谢。"
    assert assignment_of(planned, "1", "市财政局") == ("in_progress", 30)
    assert assignment_of(planned, "1", "市发改委") == ("not_started", 0)


REFUSALS = [
    pytest.param(
        LIAISON_FINANCE,
        "完成 #1 已完成",
        "办结申请由牵头单位提出；配合单位请回复「进展」报送本单位进展。",
        "市财政局",
        id="a co-unit asks for closure",
    ),
    pytest.param(
        LIAISON_HOUSING,
        "进展 #1 50% 已开工",
        "贵单位没有第1项任务的承办事项，未作处理。如有疑问，请联系督查室。",
        "市住建局",
        id="another unit reports on a task not its own",
    ),
    pytest.param(
        "13900009999",
        "进展 #1 50% 已开工",
        UNKNOWN_SENDER.format(office=DEFAULT_OFFICE),
        "unknown sender",
        id="an unknown sender",
    ),
    pytest.param(
        LIAISON_NDRC,
        "确认办结 #1",
        "该指令仅限督查室或分管领导使用。",
        "市发改委",
        id="a unit approves",
    ),
    pytest.param(
        SUPERVISOR,
        "进展 #1 50% 已开工",
        "该指令由责任单位回复使用；审批请使用「确认办结」「同意延期」等指令。",
        "李明",
        id="a supervisor reports progress",
    ),
    pytest.param(
        LIAISON_NDRC,
        "进展 #99 50%",
        "贵单位没有第99项任务的承办事项，未作处理。如有疑问，请联系督查室。",
        "市发改委",
        id="a task that does not exist",
    ),
]


@pytest.mark.parametrize(("sender", "text", "answer", "actor"), REFUSALS)
def test_a_refused_command_is_answered_audited_and_changes_nothing(
    client: httpx.Client,
    planned: sessionmaker[Session],
    sender: str,
    text: str,
    answer: str,
    actor: str,
) -> None:
    before = assignments(planned)
    assert generic_reply(client, sender, text, "oa-1", NOW) == answer
    assert assignments(planned) == before
    assert message_count(planned) == 0
    [refused] = audit(planned)
    assert (refused.action, refused.actor, refused.channel) == ("reply.refused", actor, "oa")
    assert refused.inbound_message_id == "oa-1"
    assert refused.detail == {"sender": sender, "text": text, "reply": answer}


def test_the_supervisor_confirms_the_closure_of_a_task_he_oversees(
    client: httpx.Client, planned: sessionmaker[Session]
) -> None:
    generic_reply(client, LIAISON_NDRC, "完成 #1", "oa-1", NOW)
    reply = generic_reply(client, SUPERVISOR, "确认办结 #1", "oa-2", NOW)
    assert reply == "第1项已确认办结。"
    assert assignment_of(planned, "1", "市发改委") == ("closed", 0)
    assert assignment_of(planned, "1", "市财政局") == ("closed", 0)
    [approval] = audit(planned, "approve.close")
    assert (approval.actor, approval.channel) == ("李明", "oa")


def test_the_supervisor_may_not_confirm_a_task_outside_his_units(
    client: httpx.Client, planned: sessionmaker[Session]
) -> None:
    generic_reply(client, LIAISON_HOUSING, "完成 #50 滨海大道已通车", "oa-1", NOW)
    before = assignments(planned)
    reply = generic_reply(client, SUPERVISOR, "确认办结 #50", "oa-2", NOW)
    assert reply == "第50项不在您分管的范围内，未作处理。如需审批，请联系督查室。"
    assert assignments(planned) == before
    assert assignment_of(planned, "50", "市住建局") == ("closure_requested", 0)
    assert [e.action for e in audit(planned)] == ["reply.complete", "reply.refused"]


def test_the_supervisor_may_not_confirm_what_nobody_asked_for(
    client: httpx.Client, planned: sessionmaker[Session]
) -> None:
    before = assignments(planned)
    reply = generic_reply(client, SUPERVISOR, "确认办结 #11", "oa-1", NOW)
    assert reply == "第11项没有待审批的申请。"
    assert assignments(planned) == before


def test_the_office_may_approve_any_task(
    client: httpx.Client, planned: sessionmaker[Session]
) -> None:
    generic_reply(client, LIAISON_HOUSING, "完成 #50", "oa-1", NOW)
    assert generic_reply(client, OFFICE, "确认办结 #50", "oa-2", NOW) == "第50项已确认办结。"
    assert assignment_of(planned, "50", "市住建局") == ("closed", 0)
    assert assignment_of(planned, "50", "普陀区政府") == ("closed", 0)
    [approval] = audit(planned, "approve.close")
    assert approval.actor == "督查室"


def test_the_office_may_return_a_closure_and_grant_an_extension(
    client: httpx.Client, planned: sessionmaker[Session]
) -> None:
    generic_reply(client, LIAISON_NDRC, "完成 #1", "oa-1", NOW)
    reply = generic_reply(client, OFFICE, "退回 #1 佐证材料不全", "oa-2", NOW)
    assert reply == "第1项已退回。"
    assert assignment_of(planned, "1", "市发改委") == ("in_progress", 0)
    reply = generic_reply(client, LIAISON_NDRC, "延期 #1 2021-01-31 统计数据次年公布", "oa-3", NOW)
    assert reply == "第1项延期申请（至2021年1月31日）已收到，待审批。"
    assert assignment_of(planned, "1", "市发改委") == ("extension_requested", 0)
    assert generic_reply(client, OFFICE, "同意延期 #1", "oa-4", NOW) == "第1项已同意延期。"
    assert assignment_of(planned, "1", "市发改委")[0] == "not_started"
    assert deadline_of(planned, "1", "lead") == date(2021, 1, 31)
