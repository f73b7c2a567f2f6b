"""The assignment lifecycle: its statuses, what moves it from one to the next, and the facts
every part of duban derives from an assignment the same way.

    not_started ─进展→ in_progress ─完成→ closure_requested ─确认办结→ closed
         │                 │    ↑                 └──退回──→ in_progress
         └──延期──→ extension_requested ──同意/驳回延期→ in_progress (or not_started)
    any ──(dropped from the document)→ withdrawn ──(back in it)→ in_progress / not_started

`after` is the one transition function: replies apply it to the row, and every history
replay (ranking, dashboard, progress table) applies it to audit events. Pure: no database,
network or clock.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from enum import StrEnum
from typing import Protocol, TypeVar


class Status(StrEnum):
    NOT_STARTED = "not_started"
    IN_PROGRESS = "in_progress"
    CLOSURE_REQUESTED = "closure_requested"
    CLOSED = "closed"
    EXTENSION_REQUESTED = "extension_requested"
    WITHDRAWN = "withdrawn"


class Event(StrEnum):
    """The audit actions that change an assignment's status."""

    PROGRESS = "reply.progress"
    COMPLETE = "reply.complete"
    EXTEND = "reply.extend"
    CONFIRM_CLOSE = "approve.close"
    RETURN = "approve.return"
    APPROVE_EXTENSION = "approve.extension"
    REJECT_EXTENSION = "reject.extension"
    SET = "assignment.status"  # the import withdrew or restored it: detail {"from", "to"}


# Reminders pause: closure is asked for or done, or the unit no longer has the task.
PAUSED = frozenset({Status.CLOSURE_REQUESTED, Status.CLOSED, Status.WITHDRAWN})
# Counted as done in the ranking: the lead has asked for closure or it is confirmed.
DONE = frozenset({Status.CLOSURE_REQUESTED, Status.CLOSED})
# Nothing more is expected of the unit: the to-do list and the digests leave these out.
ENDED = frozenset({Status.CLOSED, Status.WITHDRAWN})
# A report counts for the cycle: progress, or the closure request that ends the work.
REPORTS = frozenset({Event.PROGRESS, Event.COMPLETE})
# What an approval acts on: the request it answers.
AWAITING = {
    Event.CONFIRM_CLOSE: Status.CLOSURE_REQUESTED,
    Event.RETURN: Status.CLOSURE_REQUESTED,
    Event.APPROVE_EXTENSION: Status.EXTENSION_REQUESTED,
    Event.REJECT_EXTENSION: Status.EXTENSION_REQUESTED,
}


def after(status: str, event: str, *, progress: int = 0, to: str | None = None) -> str:
    """The status an assignment in `status` has once `event` happened to it (`progress`
    after the event; `to` for an import's assignment.status). Other events change nothing."""
    if event == Event.PROGRESS:
        return Status.IN_PROGRESS if status == Status.NOT_STARTED else status
    if event == Event.COMPLETE:
        return Status.CLOSURE_REQUESTED
    if event == Event.EXTEND:
        return Status.EXTENSION_REQUESTED
    if event == Event.CONFIRM_CLOSE:
        return status if status == Status.WITHDRAWN else Status.CLOSED
    if event == Event.RETURN:
        return Status.IN_PROGRESS
    if event in (Event.APPROVE_EXTENSION, Event.REJECT_EXTENSION):
        return resumed(progress)
    if event == Event.SET and to is not None:
        return to
    return status


# The requests an approver decides, each with the event that asks for it (from `after`).
REQUESTS = {after(Status.IN_PROGRESS, event): event for event in (Event.COMPLETE, Event.EXTEND)}


def resumed(progress: int) -> str:
    """Where work resumes after a request is answered, or a withdrawn assignment returns."""
    return Status.IN_PROGRESS if progress else Status.NOT_STARTED


# A task's status is the first of these that one of its assignments is in.
_TASK_ORDER = (
    Status.CLOSED,
    Status.CLOSURE_REQUESTED,
    Status.EXTENSION_REQUESTED,
    Status.IN_PROGRESS,
)


def task_status(statuses: Iterable[str], reported: bool) -> str:
    """A task's status from its assignments' (withdrawn ones left out) and its reports."""
    present = set(statuses) - {Status.WITHDRAWN}
    found = next((status for status in _TASK_ORDER if status in present), None)
    return found or (Status.IN_PROGRESS if reported else Status.NOT_STARTED)


def effective_deadline(
    extended: date | None, task_deadline: date | None, plan_default: date | None, year: int
) -> date:
    """An approved extension, else the task's deadline, else the plan's, else its year end."""
    return extended or task_deadline or plan_default or date(year, 12, 31)


S = TypeVar("S")


def supervisor_of(task: S | None, unit: S | None, lead_unit: S | None) -> S | None:
    """Who an item (a task × unit) is escalated to: the task's supervisor (its section's
    leader), else the unit's own (分管领导 in the directory), else the lead unit's."""
    return task or unit or lead_unit


class Held(Protocol):
    @property
    def id(self) -> int: ...

    @property
    def role(self) -> str: ...

    @property
    def status(self) -> str: ...


H = TypeVar("H", bound=Held)


def preferred(assignments: Iterable[H]) -> H | None:
    """The assignment that speaks for a unit on a task: the lead one if it has several,
    else the oldest; a withdrawn assignment never."""
    active = [a for a in assignments if a.status != Status.WITHDRAWN]
    return min(active, key=lambda a: (a.role != "lead", a.id)) if active else None
