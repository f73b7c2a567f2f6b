"""The assignment lifecycle: every status rule of duban, written once in domain/lifecycle."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from bot.domain import lifecycle
from bot.domain.lifecycle import (
    AWAITING,
    DONE,
    ENDED,
    PAUSED,
    REQUESTS,
    Event,
    Status,
    after,
    effective_deadline,
    preferred,
    supervisor_of,
    task_status,
)

BOT = Path(__file__).resolve().parents[2] / "bot"


@pytest.mark.parametrize(
    ("status", "event", "progress", "expected"),
    [
        (Status.NOT_STARTED, Event.PROGRESS, 30, Status.IN_PROGRESS),
        (Status.EXTENSION_REQUESTED, Event.PROGRESS, 30, Status.EXTENSION_REQUESTED),
        (Status.IN_PROGRESS, Event.COMPLETE, 0, Status.CLOSURE_REQUESTED),
        (Status.IN_PROGRESS, Event.EXTEND, 0, Status.EXTENSION_REQUESTED),
        (Status.CLOSURE_REQUESTED, Event.CONFIRM_CLOSE, 0, Status.CLOSED),
        (Status.WITHDRAWN, Event.CONFIRM_CLOSE, 0, Status.WITHDRAWN),
        (Status.CLOSURE_REQUESTED, Event.RETURN, 0, Status.IN_PROGRESS),
        (Status.EXTENSION_REQUESTED, Event.APPROVE_EXTENSION, 0, Status.NOT_STARTED),
        (Status.EXTENSION_REQUESTED, Event.REJECT_EXTENSION, 40, Status.IN_PROGRESS),
        (Status.IN_PROGRESS, "reply.ack", 0, Status.IN_PROGRESS),
    ],
)
def test_each_event_moves_an_assignment_to_its_next_status(
    status: str, event: str, progress: int, expected: str
) -> None:
    assert after(status, event, progress=progress) == expected


def test_the_import_sets_a_status_outright() -> None:
    assert after(Status.IN_PROGRESS, Event.SET, to=Status.WITHDRAWN) == Status.WITHDRAWN


def test_the_status_sets_are_what_the_reminders_ranking_and_digests_need() -> None:
    assert {Status.CLOSURE_REQUESTED, Status.CLOSED, Status.WITHDRAWN} == PAUSED
    assert {Status.CLOSURE_REQUESTED, Status.CLOSED} == DONE
    assert {Status.CLOSED, Status.WITHDRAWN} == ENDED


def test_a_tasks_status_is_the_furthest_of_its_assignments() -> None:
    assert task_status(["in_progress", "closed", "withdrawn"], reported=True) == Status.CLOSED
    assert task_status(["withdrawn"], reported=False) == Status.NOT_STARTED
    assert task_status(["not_started"], reported=True) == Status.IN_PROGRESS


def test_status_takes_the_furthest_assignment() -> None:
    assert task_status(["closed", "not_started"], False) == "closed"
    assert task_status(["in_progress", "closure_requested"], True) == "closure_requested"
    assert task_status(["not_started", "extension_requested"], True) == "extension_requested"
    assert task_status(["not_started"], True) == "in_progress"  # a report without a percent
    assert task_status(["not_started", "withdrawn"], False) == "not_started"
    assert task_status([], False) == "not_started"


def test_the_effective_deadline_falls_back_to_the_year_end() -> None:
    extended, task, plan = date(2020, 12, 1), date(2020, 10, 31), date(2020, 11, 30)
    assert effective_deadline(extended, task, plan, 2020) == extended
    assert effective_deadline(None, task, plan, 2020) == task
    assert effective_deadline(None, None, plan, 2020) == plan
    assert effective_deadline(None, None, None, 2020) == date(2020, 12, 31)


def test_an_item_goes_to_the_tasks_then_the_units_then_the_leads_supervisor() -> None:
    assert supervisor_of("王五", "李四", "赵六") == "王五"
    assert supervisor_of(None, "李四", "赵六") == "李四"
    assert supervisor_of(None, None, "赵六") == "赵六"
    assert supervisor_of(None, None, None) is None


@dataclass
class Held:
    id: int
    role: str
    status: str


def test_the_lead_assignment_speaks_for_a_unit_and_a_withdrawn_one_never() -> None:
    co, lead = Held(1, "co", "in_progress"), Held(2, "lead", "in_progress")
    assert preferred([co, lead]) is lead
    assert preferred([co, Held(3, "lead", "withdrawn")]) is co
    assert preferred([Held(3, "lead", "withdrawn")]) is None


def test_no_other_module_spells_out_a_status() -> None:
    names = "|".join(s.value for s in Status if s is not Status.CLOSED)
    spelled = re.compile(rf'"(?:{names})"')
    found = [
        f"{path.relative_to(BOT)}:{n}"
        for path in BOT.rglob("*.py")
        if path != Path(lifecycle.__file__)
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if spelled.search(line)
    ]
    assert found == []


def test_the_requests_an_approver_decides_are_the_statuses_approvals_act_on() -> None:
    assert REQUESTS == {
        Status.CLOSURE_REQUESTED: Event.COMPLETE,
        Status.EXTENSION_REQUESTED: Event.EXTEND,
    }
    assert set(REQUESTS) == set(AWAITING.values())
