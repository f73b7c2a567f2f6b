"""Due dates and the reminder ladder, as pure functions of the rules, calendar and `now`.

A due point's ladder is a list of steps (提醒 → 催办 → 督办 → 通报, then repeats of the last
level), each at a local working-day time converted to UTC. `decide` looks at one due point
at `now` and says what to send (only the highest step reached: a daemon that was down does
not replay the backlog), when to look again, and whether the point's cycle is over.
"""

from __future__ import annotations

import calendar as months
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from functools import lru_cache
from zoneinfo import ZoneInfo

from bot.domain.calendar import WorkCalendar
from bot.domain.lifecycle import PAUSED
from bot.domain.rules import Level, ReportCycle, Rules


@dataclass(frozen=True)
class Step:
    index: int
    level: Level
    repeat: int  # 0 for the ladder's own levels, 1.. for repeats of the last level
    at: datetime  # aware UTC


@dataclass(frozen=True)
class DueSpec:
    """A due point to create: what it is for, when it is due, which reports count for it."""

    kind: str
    key: str
    due_date: date
    window_start: date
    name: str | None = None


@dataclass(frozen=True)
class PointState:
    """What `decide` needs to know about one due point and its assignment."""

    kind: str
    due_date: date
    window_start: date
    state: str
    step: int
    superseded_at: datetime | None
    status: str
    last_report_at: datetime | None


@dataclass(frozen=True)
class Decision:
    send: Step | None
    step: int
    next_action_at: datetime | None
    state: str
    roll_over: bool = False


def local_at(day: date, at: time, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, at, tzinfo=tz).astimezone(UTC)


def adjust_due(day: date, policy: str, calendar: WorkCalendar) -> date:
    """A due date on a non-working day moves as the rules say (default: next working day)."""
    if policy == "next":
        return calendar.next_working_day(day)
    if policy == "previous":
        return calendar.previous_working_day(day)
    return day


def ladder_steps(due: date, rules: Rules, calendar: WorkCalendar, tz: ZoneInfo) -> list[Step]:
    # Offsets count from the due date moved onto a working day (a milestone, or the "keep"
    # policy, may leave it on a day off): else 催办 (0) and 督办 (+1) land on the same day.
    anchor = calendar.next_working_day(due)
    steps = [
        Step(i, level, 0, local_at(calendar.add_working_days(anchor, level.offset), level.at, tz))
        for i, level in enumerate(rules.ladder)
    ]
    last = rules.ladder[-1]
    base = calendar.add_working_days(anchor, last.offset)
    for repeat in range(1, rules.repeat_max + 1 if rules.repeat_every else 1):
        day = calendar.add_working_days(base, rules.repeat_every * repeat)
        steps.append(Step(len(steps), last, repeat, local_at(day, last.at, tz)))
    return steps


def first_step_at(due: date, rules: Rules, calendar: WorkCalendar, tz: ZoneInfo) -> datetime:
    first = rules.ladder[0]
    anchor = calendar.next_working_day(due)
    return local_at(calendar.add_working_days(anchor, first.offset), first.at, tz)


@lru_cache(maxsize=4096)
def nominal_report_dates(cycle: ReportCycle, after: date, until: date) -> tuple[date, ...]:
    """Report dates of a cycle in (after, until], before moving off non-working days."""
    return tuple(_report_dates(cycle, after, until))


def _report_dates(cycle: ReportCycle, after: date, until: date) -> list[date]:
    if cycle.kind == "dates":
        return sorted(d for d in cycle.dates if after < d <= until)
    if cycle.kind == "none":
        return []
    step = 3 if cycle.kind == "quarterly" else 1
    found = []
    for year in range(after.year, until.year + 1):
        for month in range(step, 13, step):
            day = date(year, month, min(cycle.day, months.monthrange(year, month)[1]))
            if after < day <= until:
                found.append(day)
    return found


def next_report(
    cycle: ReportCycle, after: date, deadline: date, rules: Rules, calendar: WorkCalendar
) -> DueSpec | None:
    """The first report cycle due after `after` and not after the deadline."""
    dates = nominal_report_dates(cycle, after, deadline)
    if not dates:
        return None
    nominal = dates[0]
    due = adjust_due(nominal, rules.non_working_day, calendar)
    return DueSpec("report", f"report:{nominal.isoformat()}", due, after)


def deadline_spec(
    deadline: date, window_start: date, rules: Rules, calendar: WorkCalendar
) -> DueSpec:
    due = adjust_due(deadline, rules.non_working_day, calendar)
    return DueSpec("deadline", f"deadline:{deadline.isoformat()}", due, window_start)


def reported(point: PointState, tz: ZoneInfo) -> bool:
    """Whether the unit reported in this point's window (after its window start)."""
    if point.last_report_at is None:
        return False
    return point.last_report_at.astimezone(tz).date() > point.window_start


class StepCache:
    """Ladder steps by due date: a sweep asks for the same few dates thousands of times."""

    def __init__(self, rules: Rules, calendar: WorkCalendar, tz: ZoneInfo) -> None:
        self.rules, self.calendar, self.tz = rules, calendar, tz
        self._steps: dict[date, list[Step]] = {}

    def __call__(self, due: date) -> list[Step]:
        if due not in self._steps:
            self._steps[due] = ladder_steps(due, self.rules, self.calendar, self.tz)
        return self._steps[due]


def decide(
    point: PointState,
    rules: Rules,
    calendar: WorkCalendar,
    tz: ZoneInfo,
    now: datetime,
    steps_for: StepCache | None = None,
) -> Decision:
    """What to do about one due point at `now`."""
    if point.superseded_at is not None and now >= point.superseded_at:
        state = "missed" if point.state == "open" else point.state
        return Decision(None, point.step, None, state, roll_over=True)
    if point.state != "open" or point.status in PAUSED:
        return Decision(None, point.step, point.superseded_at, point.state)
    steps = (steps_for or StepCache(rules, calendar, tz))(point.due_date)
    reached = max((s.index for s in steps if s.at <= now), default=-1)
    send = None
    if reached > point.step:
        candidate = steps[reached]
        if not (candidate.level.skip_if_reported and reported(point, tz)):
            send = candidate
    upcoming = [s.at for s in steps if s.index > max(reached, point.step)]
    wake = [t for t in (upcoming[0] if upcoming else None, point.superseded_at) if t]
    return Decision(send, max(reached, point.step), min(wake) if wake else None, "open")
