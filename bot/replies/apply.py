"""Applies a parsed reply command to the assignments it concerns, and words the answer.

A unit acts only on its own assignments; supervisors and the office approve. Every change
is an audit event; a refusal changes nothing and says what to do instead. Answers are
formal, concise Simplified Chinese.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.delivery.compose import Composer
from bot.delivery.render import render
from bot.domain.lifecycle import AWAITING, DONE, ENDED, Event, Status, after, preferred
from bot.platforms.formats import MessageFormat
from bot.present.labels import STATUS_NAMES
from bot.replies import reviewing
from bot.replies.keywords import Command, CommandKind, help_text
from bot.replies.lookups import Lookups
from bot.store.audit import record
from bot.store.database import pending_on
from bot.store.models import Assignment, AuditEvent, DuePoint, Plan, Task
from bot.store.plans import plan_name

APPROVALS = frozenset(
    {
        CommandKind.CONFIRM_CLOSE,
        CommandKind.RETURN,
        CommandKind.APPROVE_EXTENSION,
        CommandKind.REJECT_EXTENSION,
    }
)


@dataclass(frozen=True)
class Actor:
    """Who sent the command: a unit (acting for `unit_ids`), a supervisor or the office."""

    kind: str  # unit | supervisor | office
    name: str
    unit_ids: tuple[int, ...] = ()
    supervisor_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class Outcome:
    reply: str
    changed: bool


@dataclass(frozen=True)
class Request:
    session: Session
    actor: Actor
    command: Command
    plan: Plan
    now: datetime
    channel: str
    inbound: str | None = None
    composer: Composer = field(default_factory=Composer)
    lookups: Lookups = field(default_factory=Lookups)  # shared by a batch's replies

    @property
    def note(self) -> str:  # what the sender wrote after the command, at most 200 characters
        return self.command.text[:200]

    @property
    def today(self) -> date:
        return self.now.astimezone(ZoneInfo(self.plan.timezone)).date()

    def audit(self, action: str, subject_id: int, **detail: object) -> None:
        record(
            self.session,
            self.now,
            self.actor.name,
            action,
            "assignment",
            subject_id,
            {"task": self.command.task, "text": self.command.text, **detail},
            channel=self.channel,
            inbound_message_id=self.inbound,
        )


def apply_command(
    session: Session,
    actor: Actor,
    command: Command,
    plan: Plan,
    now: datetime,
    *,
    channel: str = "cli",
    inbound: str | None = None,
    composer: Composer | None = None,
    lookups: Lookups | None = None,
) -> Outcome:
    """Carries out one command for `actor`; returns the answer to send back. `inbound` is
    the platform's message id (kept on the audit events); a blocker is escalated to the
    task's supervisor, else to the office, through `composer`."""
    request = Request(
        session, actor, command, plan, now, channel, inbound, composer or Composer(),
        lookups or Lookups(),
    )  # fmt: skip
    if command.kind is CommandKind.HELP:
        return Outcome(help_text(), False)
    if command.kind is CommandKind.TODO:
        return Outcome(_todo(request), False)
    if command.kind in APPROVALS:
        if actor.kind == "unit":
            return Outcome(f"该指令仅限{request.composer.office}或分管领导使用。", False)
        return _approve(request)
    if actor.kind != "unit":
        return Outcome(
            "该指令由责任单位回复使用；审批请使用「确认办结」「同意延期」等指令。", False
        )
    assignment = own_assignment(request)
    if assignment is None:
        return Outcome(
            f"贵单位没有第{command.task}项任务的承办事项，未作处理。"
            f"如有疑问，请联系{request.composer.office}。",
            False,
        )
    return UNIT_HANDLERS[command.kind](request, assignment)


def own_assignment(request: Request) -> Assignment | None:
    task = request.lookups.task(request.session, request.plan, request.command.task)
    if task is None:
        return None
    return preferred(a for a in task.assignments if a.unit_id in request.actor.unit_ids)


def _progress(request: Request, assignment: Assignment) -> Outcome:
    percent = request.command.percent
    if percent is not None:
        assignment.progress = percent
    assignment.status = after(assignment.status, Event.PROGRESS)
    assignment.last_report_at, assignment.updated_at = request.now, request.now
    settled = _settle_reports(request, assignment)
    request.audit(Event.PROGRESS, assignment.id, percent=percent, cycles=settled)
    shown = f"（{percent}%）" if percent is not None else ""
    return Outcome(f"已收到第{request.command.task}项进展{shown}，谢谢。", True)


def _settle_reports(request: Request, assignment: Assignment) -> int:
    """A report settles every open report cycle it falls in (late ones too)."""
    if not request.lookups.first_settling(assignment.id, request.today):
        return 0  # an earlier reply of this transaction settled them: none is open
    result = request.session.execute(
        update(DuePoint)
        .where(
            DuePoint.assignment_id == assignment.id,
            DuePoint.kind == "report",
            DuePoint.state == "open",
            DuePoint.window_start < request.today,
        )
        .values(
            state="resolved",
            resolution="reported",
            resolved_at=request.now,
            next_action_at=DuePoint.superseded_at,
        )
        .execution_options(autoflush=pending_on(request.session, DuePoint))
    )
    return int(getattr(result, "rowcount", 0))


def _complete(request: Request, assignment: Assignment) -> Outcome:
    if assignment.role != "lead":
        return Outcome("办结申请由牵头单位提出；配合单位请回复「进展」报送本单位进展。", False)
    if assignment.status in DONE:
        label = STATUS_NAMES[assignment.status]
        return Outcome(f"第{request.command.task}项当前状态为「{label}」，无需重复申请。", False)
    assignment.status = after(assignment.status, Event.COMPLETE)
    assignment.last_report_at, assignment.updated_at = request.now, request.now
    # A closure request reports on the cycle too: it must not turn into a missed report.
    request.audit(Event.COMPLETE, assignment.id, cycles=_settle_reports(request, assignment))
    reviewing.tell_reviewer(
        request.session, request.composer, assignment, request.now, request.note
    )
    office = request.composer.office
    return Outcome(f"第{request.command.task}项办结申请已收到，待{office}确认。", True)


def _extend(request: Request, assignment: Assignment) -> Outcome:
    wanted = request.command.date
    if wanted is None or wanted <= request.today:
        return Outcome("延期日期应晚于今天，请按「延期 #12 2020-12-31 原因」格式回复。", False)
    assignment.status, assignment.updated_at = after(assignment.status, Event.EXTEND), request.now
    request.audit(Event.EXTEND, assignment.id, date=wanted.isoformat())
    reviewing.tell_reviewer(
        request.session, request.composer, assignment, request.now, request.note, wanted
    )
    return Outcome(
        f"第{request.command.task}项延期申请（至{wanted.year}年{wanted.month}月{wanted.day}日）"
        "已收到，待审批。",
        True,
    )


def _blocker(request: Request, assignment: Assignment) -> Outcome:
    request.audit("reply.blocker", assignment.id)
    _escalate_blocker(request, assignment)
    return Outcome(f"第{request.command.task}项困难已记录，将报分管领导协调。", True)


def _escalate_blocker(request: Request, assignment: Assignment) -> None:
    """The item's supervisor (domain.lifecycle), else the office, hears of it at once."""
    task, composer = assignment.task, request.composer
    recipient = reviewing.reviewer_of(composer, assignment)

    def text(shape: MessageFormat) -> str:
        return render(
            "blocker",
            shape.markup,
            recipient=recipient.address,
            recipient_kind=recipient.kind,
            unit=assignment.unit.name,
            task=task.number,
            summary=task.text[:60],
            description=request.command.text,
        )

    item = {"assignment": assignment.id, "task": task.number}
    request.session.add_all(composer.compose(recipient, "blocker", text, request.now, items=[item]))


def _ack(request: Request, assignment: Assignment) -> Outcome:
    request.audit("reply.ack", assignment.id)
    return Outcome(f"已确认收到第{request.command.task}项提醒，请及时报送进展。", True)


def _evidence(request: Request, assignment: Assignment) -> Outcome:
    """Names the item the unit's next image or file is for (bot/replies/evidence.py)."""
    return Outcome(
        f"请在 10 分钟内直接发送第{request.command.task}项的佐证材料（图片或文件）。"
        "所用平台不能直接接收文件的，请通过提醒中的「在线填报」链接上传。",
        False,
    )


UNIT_HANDLERS: dict[CommandKind, Callable[[Request, Assignment], Outcome]] = {
    CommandKind.PROGRESS: _progress,
    CommandKind.COMPLETE: _complete,
    CommandKind.EXTEND: _extend,
    CommandKind.BLOCKER: _blocker,
    CommandKind.ACK: _ack,
    CommandKind.EVIDENCE: _evidence,
}


def _todo(request: Request) -> str:
    """The unit's open items in every active plan, under each plan's name when several."""
    rows = request.session.execute(
        select(Plan, Task.number, Assignment.status, Assignment.progress)
        .join(Task, Task.plan_id == Plan.id)
        .join(Assignment, Assignment.task_id == Task.id)
        .where(
            Plan.archived_at.is_(None),
            Task.state == "active",
            Assignment.unit_id.in_(request.actor.unit_ids),
            Assignment.status.notin_(sorted(ENDED)),
        )
        .order_by(Plan.id, Task.seq)
    ).all()
    if not rows:
        return "贵单位目前没有待办事项。"
    several = len({plan.id for plan, *_ in rows}) > 1
    lines, heading = ["贵单位待办事项："], None
    for plan, number, status, progress in rows:
        if several and plan.id != heading:
            heading = plan.id
            lines.append(f"{plan_name(plan)}：")
        lines.append(f"第{number}项：{STATUS_NAMES[status]}，进度 {progress}%")
    return "\n".join(lines)


def _approve(request: Request) -> Outcome:
    task = request.lookups.task(request.session, request.plan, request.command.task)
    if task is None:
        return Outcome(f"没有第{request.command.task}项任务，未作处理。", False)
    wanted = AWAITING[APPROVAL_EVENTS[request.command.kind]]
    if request.actor.kind == "supervisor" and not oversees(request.actor, task):
        return Outcome(
            f"第{request.command.task}项不在您分管的范围内，未作处理。"
            f"如需审批，请联系{request.composer.office}。",
            False,
        )
    pending = [a for a in task.assignments if a.status == wanted]
    if not pending:
        return Outcome(f"第{request.command.task}项没有待审批的申请。", False)
    for assignment in pending:
        APPROVAL_HANDLERS[request.command.kind](request, task, assignment)
    return Outcome(f"第{request.command.task}项已{request.command.kind.value}。", True)


def oversees(actor: Actor, task: Task) -> bool:
    """A supervisor approves the tasks they lead and those of the units they oversee."""
    if task.supervisor_id in actor.supervisor_ids:
        return True
    return any(
        a.role == "lead" and a.unit.supervisor_id in actor.supervisor_ids for a in task.assignments
    )


def _confirm_close(request: Request, task: Task, assignment: Assignment) -> None:
    for each in task.assignments:
        if each.status != Status.WITHDRAWN:
            each.status, each.updated_at = after(each.status, Event.CONFIRM_CLOSE), request.now
            _settle_points(request, each, "closed")
    accepted = reviewing.decide_evidence(
        request.session, (a.id for a in task.assignments), reviewing.ACCEPTED, request.now
    )
    request.audit(Event.CONFIRM_CLOSE, assignment.id, evidence=accepted)


def _return(request: Request, task: Task, assignment: Assignment) -> None:
    assignment.status = after(assignment.status, Event.RETURN)
    _wake_points(request, assignment)
    reason = request.note
    returned = reviewing.decide_evidence(
        request.session, [assignment.id], reviewing.RETURNED, request.now, reason
    )
    request.audit(Event.RETURN, assignment.id, evidence=returned)
    reviewing.tell_unit(request.session, request.composer, assignment, request.now, "退回", reason)


def _approve_extension(request: Request, task: Task, assignment: Assignment) -> None:
    asked = _requested_date(request.session, assignment)
    if asked is not None:
        assignment.deadline, assignment.needs_schedule = asked, True
    event = Event.APPROVE_EXTENSION
    assignment.status = after(assignment.status, event, progress=assignment.progress)
    request.audit(event, assignment.id, date=asked.isoformat() if asked else None)


def _reject_extension(request: Request, task: Task, assignment: Assignment) -> None:
    event = Event.REJECT_EXTENSION
    assignment.status = after(assignment.status, event, progress=assignment.progress)
    _wake_points(request, assignment)
    request.audit(event, assignment.id)
    reviewing.tell_unit(
        request.session, request.composer, assignment, request.now, "驳回延期", request.note
    )


APPROVAL_EVENTS = {
    CommandKind.CONFIRM_CLOSE: Event.CONFIRM_CLOSE,
    CommandKind.RETURN: Event.RETURN,
    CommandKind.APPROVE_EXTENSION: Event.APPROVE_EXTENSION,
    CommandKind.REJECT_EXTENSION: Event.REJECT_EXTENSION,
}
APPROVAL_HANDLERS: dict[CommandKind, Callable[[Request, Task, Assignment], None]] = {
    CommandKind.CONFIRM_CLOSE: _confirm_close,
    CommandKind.RETURN: _return,
    CommandKind.APPROVE_EXTENSION: _approve_extension,
    CommandKind.REJECT_EXTENSION: _reject_extension,
}


def _requested_date(session: Session, assignment: Assignment) -> date | None:
    event = session.scalar(
        select(AuditEvent)
        .where(
            AuditEvent.subject_type == "assignment",
            AuditEvent.subject_id == assignment.id,
            AuditEvent.action == Event.EXTEND,
        )
        .order_by(AuditEvent.id.desc())
        .limit(1)
    )
    return date.fromisoformat(event.detail["date"]) if event else None


def _settle_points(request: Request, assignment: Assignment, resolution: str) -> None:
    request.session.execute(
        update(DuePoint)
        .where(DuePoint.assignment_id == assignment.id, DuePoint.state == "open")
        .values(
            state="resolved", resolution=resolution, resolved_at=request.now, next_action_at=None
        )
    )


def _wake_points(request: Request, assignment: Assignment) -> None:
    """The ladder resumes: the sweep looks at the assignment's open points again now."""
    request.session.execute(
        update(DuePoint)
        .where(DuePoint.assignment_id == assignment.id, DuePoint.state == "open")
        .values(next_action_at=request.now)
    )
