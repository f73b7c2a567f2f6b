"""A year of supervision on the sample plan, both backends: lights, ranks, digests, the ledger.

The plan is the sample (examples/zhoushan-2020-key-tasks.txt) cut to four of its tasks, each
worded as the sample words it, with the sample directory's office and supervisors and the
units of those tasks (all 128 tasks lived for a year take 20 s on SQLite alone):

  #4   市发改委 alone (李明)       reports on time, on the 20th, with its progress; asks to
                                   close it in December and the office confirms
  #43  市发改委 alone (李明)       reports on time, on the 20th, with its progress
  #50  市住建局 leads (赵华),      reports with its progress three days after each due day;
       普陀区政府 helps            asks for an extension in November, which the office
                                   grants. 普陀区政府 reports on time (the 22nd), but in
                                   September reports a difficulty (困难) instead
  #51  市交通运输局 alone (王强)   never replies; it has a milestone on 30 June
                                   (tests/system/scenario/milestones.toml, added to the
                                   rules: the sample words no date before the year end)

The replies are tests/system/scenario/replies.csv (`at,unit,text`, read as `duban simulate
--replies` reads it); its last rows, in January 2021, come after the year is over. The
engine is the daemon's (bot/runtime.py, built from settings) with a capture channel, on a
virtual clock from the import (2 March 2020) to New Year's Day 2021: each day at 00:05 the
ranking and accountability jobs, each working day the digests at 08:30 and the sweep and
dispatch at 09:00 (every ladder level is at 09:00), and each scripted reply, and two
decisions of the office on the ledger, at its moment. Each month's ranking is also computed
as soon as the month is over, to compare with what is computed once everything happened.

The year runs once per backend, on a database of its own; the tests read what it left. The
last test is apart: a reply through the real app's generic hook is what the ranking and the
dashboard read. The year also keeps an early report settling the cycle it falls in even
when that cycle's due point is created after it (it once did not: the unit was chased).
"""

from __future__ import annotations

import os
import shutil
import warnings
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from bot.app.config import DirectorySettings, InboundSettings, SchedulesSettings, Settings
from bot.app.runtime import Runtime, build_runtime
from bot.domain.periods import parse_period, period_of
from bot.engine.simulate import ScriptedReply, read_replies
from bot.intake.directory import load_directory
from bot.intake.importing import import_file
from bot.platforms import CaptureChannel
from bot.store import database
from bot.store.models import (
    AccountabilityEntry,
    Assignment,
    AuditEvent,
    DuePoint,
    Message,
    OnceKey,
    Supervisor,
    Task,
    Unit,
)
from bot.supervise.ledger import Decision, decide, list_entries
from bot.supervise.ranking import expected_progress
from bot.supervise.ranking_flow import RankingSetup, as_json, compute_ranking
from bot.web.app import create_app
from bot.web.context import WebContext
from tests.support.database import BACKENDS, fresh_postgres_database
from tests.support.engine import apply_reply, writer_sessions
from tests.support.paths import ROOT
from tests.support.web import HOOKS, Clock, generic_reply, write_directory, write_plan

with warnings.catch_warnings():  # starlette prefers httpx2; httpx is what this project has
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

pytestmark = pytest.mark.slow  # a year lived day by day, on both backends

HERE = Path(__file__).resolve().parent / "scenario"
REPLIES = HERE / "replies.csv"
MILESTONES = HERE / "milestones.toml"
SCHEDULES = ROOT / "schedules"
TZ = ZoneInfo("Asia/Shanghai")
TASKS = ("4", "43", "50", "51")
UNITS = ("市发改委", "市住建局", "普陀区政府", "市交通运输局")
OFFICE = "督查室"
FIRST, LAST = date(2020, 3, 2), date(2021, 1, 1)
MONTHS = tuple(f"2020-{month:02d}" for month in range(3, 13))
SILENT_TASK = "第51项「加快推进 526 国道、南部景观公路等一批重点…」"
BLOCKER_LINE = "  · 第50项（普陀区政府，9月22日反映）：沿线3户征迁协议尚未签订，需市级协调"

# The office's decisions on the ledger: when, the unit, the rule, the decision, the note.
DECISIONS: tuple[tuple[str, str, str, Decision, str], ...] = (
    ("2020-06-02T10:00", "市交通运输局", "red_periods", "confirmed", "三个月未报送进展，约谈"),
    ("2020-06-02T10:05", "市住建局", "red_periods", "dismissed", "均已报送，仅迟报数日"),
)


def local(moment: str) -> datetime:
    return datetime.fromisoformat(moment).replace(tzinfo=TZ)


def at(day: date, hour: int, minute: int) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=TZ)


IMPORTED = local("2020-03-02T08:00")


# --- the settings, the plan, the runtime --------------------------------------------------


def scenario_settings(folder: Path, inbound: dict[str, InboundSettings] | None = None) -> Settings:
    """The daemon's settings: the shipped rules plus the milestone, the shipped calendar and
    ranking rules, the sample directory cut to the four units; nothing from the environment."""
    rules = folder / "rules.toml"
    rules.write_text(
        (SCHEDULES / "default.toml").read_text(encoding="utf-8")
        + MILESTONES.read_text(encoding="utf-8"),
        encoding="utf-8",
    )
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.upper().startswith("DUBAN_"):
                patch.delenv(name)
        return Settings(
            directory=DirectorySettings(path=write_directory(folder, UNITS, everywhere=False)),
            schedules=SchedulesSettings(
                rules=rules,
                calendar=SCHEDULES / "calendar.toml",
                ranking=SCHEDULES / "ranking.toml",
            ),
            inbound=inbound or {},
        )


def import_sample(sessions: sessionmaker[Session], settings: Settings, folder: Path) -> None:
    import_file(
        sessions,
        write_plan(folder, TASKS),
        load_directory(settings.directory.path),
        timezone=settings.plan.timezone,
        now=IMPORTED,
    )


def captured_runtime(settings: Settings, sessions: sessionmaker[Session]) -> Runtime:
    """The runtime `duban run` builds from the settings, every channel a capture channel."""
    with httpx.Client() as http:
        built = build_runtime(settings, sessions, http)
    capture = CaptureChannel()
    return replace(built, channels={name: capture for name in built.channels})


def answer(runtime: Runtime, reply: ScriptedReply) -> str:
    """Applies a scripted reply as `duban simulate` does: the unit, or the office, acting."""
    with runtime.sessions.begin() as session:
        return apply_reply(
            session,
            reply.unit,
            reply.text,
            reply.at,
            channel="simulate",
            composer=runtime.messages,
        )


# --- the year -----------------------------------------------------------------------------


@dataclass
class Year:
    """What the year left: its database and runtime, the answers to the scripted replies,
    and each month's ranking as computed when the month had just ended."""

    sessions: sessionmaker[Session]
    runtime: Runtime
    answers: list[tuple[ScriptedReply, str]] = field(default_factory=list)
    at_the_time: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def setup(self) -> RankingSetup:
        assert self.runtime.ranking is not None
        return self.runtime.ranking

    def ranking(self, label: str) -> list[dict[str, Any]]:
        with self.sessions() as session:
            return as_json(compute_ranking(session, parse_period(label), self.setup))

    def digests(self) -> dict[date, dict[str, Message]]:
        """Each day's digests by recipient (each fits one message here)."""
        found: dict[date, dict[str, Message]] = defaultdict(dict)
        with self.sessions() as session:
            query = select(Message).where(Message.kind == "digest").order_by(Message.id)
            for message in session.scalars(query):
                assert message.parts == 1
                day = message.created_at.astimezone(TZ).date()
                found[day][message.recipient_name] = message
        return found

    def digest(self, day: str, recipient: str) -> list[str]:
        return self.digests()[date.fromisoformat(day)][recipient].text.splitlines()

    def messages(self, *kinds: str) -> list[Message]:
        with self.sessions() as session:
            query = select(Message).where(Message.kind.in_(kinds)).order_by(Message.id)
            return list(session.scalars(query))

    def ledger(self) -> list[AccountabilityEntry]:
        with self.sessions() as session:
            return list_entries(session)


Action = Callable[[datetime], object]


def live_the_year(sessions: sessionmaker[Session], folder: Path) -> Year:
    settings = scenario_settings(folder)
    import_sample(sessions, settings, folder)
    runtime = captured_runtime(settings, sessions)
    year = Year(sessions, runtime)
    # (moment, order, action): at one moment, what people do comes before the engine's jobs.
    agenda: list[tuple[datetime, int, Action]] = []
    for reply in read_replies(REPLIES, runtime.tz):
        agenda.append((reply.at, 0, _replying(year, reply)))
    for when, unit, rule, verdict, note in DECISIONS:
        agenda.append((local(when), 0, _deciding(year, unit, rule, verdict, note)))
    day = FIRST
    while day <= LAST:
        agenda.append((at(day, 0, 5), 1, _nightly(year)))
        if runtime.calendar.is_working_day(day):
            agenda.append((at(day, 8, 30), 1, runtime.send_digests))
            agenda.append((at(day, 9, 0), 1, runtime.cycle))
        day += timedelta(days=1)
    for moment, _, act in sorted(agenda, key=lambda entry: (entry[0], entry[1])):
        if moment >= IMPORTED:
            act(moment)
    return year


def _replying(year: Year, reply: ScriptedReply) -> Action:
    def act(_now: datetime) -> None:
        year.answers.append((reply, answer(year.runtime, reply)))

    return act


def _deciding(year: Year, unit: str, rule: str, verdict: Decision, note: str) -> Action:
    def act(now: datetime) -> None:
        with year.sessions.begin() as session:
            (entry,) = [
                e for e in list_entries(session, "open") if e.unit.name == unit and e.rule == rule
            ]
            decide(session, entry.id, verdict, now, note=note)

    return act


def _nightly(year: Year) -> Action:
    """The daemon's jobs that wait for a period to end; then the month just ended, ranked."""

    def act(now: datetime) -> None:
        year.runtime.publish_rankings(now)
        year.runtime.raise_accountability(now)
        today = now.astimezone(TZ).date()
        if today.day == 1:
            ended = period_of(today, "month").previous().label
            year.at_the_time[ended] = year.ranking(ended)

    return act


@pytest.fixture(scope="module", params=BACKENDS)
def year_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """An empty migrated database for the year, of its own: the function-scoped databases
    of the other tests (the PostgreSQL one is shared) are emptied before each of them."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        target = tmp_path_factory.mktemp("scenario") / "duban.db"
        shutil.copyfile(template, target)
        yield f"sqlite:///{target}"
        return
    request.getfixturevalue("postgres_database")  # skips, or fails, as other PostgreSQL tests
    with fresh_postgres_database("duban_scenario") as url:
        yield url


@pytest.fixture(scope="module")
def year(year_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Year]:
    engine: Engine = database.make_engine(year_url)
    yield live_the_year(writer_sessions(engine), tmp_path_factory.mktemp("year"))
    engine.dispose()


# --- the replies --------------------------------------------------------------------------


def test_every_scripted_reply_is_taken(year: Year) -> None:
    said = [(reply.unit, reply.text.split()[0], answer) for reply, answer in year.answers]
    assert len(said) == 48
    assert [s for s in said if s[1] == "进展" and not s[2].startswith("已收到第")] == []
    assert [s for s in said if s[1] != "进展"] == [
        ("普陀区政府", "困难", "第50项困难已记录，将报分管领导协调。"),
        ("市住建局", "延期", "第50项延期申请（至2021年6月30日）已收到，待审批。"),
        (OFFICE, "同意延期", "第50项已同意延期。"),
        ("市发改委", "完成", "第4项办结申请已收到，待督查室确认。"),
        (OFFICE, "确认办结", "第4项已确认办结。"),
        ("市发改委", "完成", "第43项办结申请已收到，待督查室确认。"),
        ("市住建局", "延期", "第50项延期申请（至2021年9月30日）已收到，待审批。"),
        (OFFICE, "确认办结", "第43项已确认办结。"),
        (OFFICE, "同意延期", "第50项已同意延期。"),
    ]


# --- lights, ranks and trends -------------------------------------------------------------

# Scores: 50 for reporting on time, 30 for being on track, 20 for nothing overdue.
STEADY = [
    ("市发改委", 100.0, 1, "green"),  # on time, on track
    ("普陀区政府", 100.0, 1, "green"),  # on time; it leads nothing: on track does not count
    ("市住建局", 50.0, 3, "red"),  # late every month, on track
    ("市交通运输局", 20.0, 4, "red"),  # silent; nothing overdue until its milestone
]
MILESTONE_MISSED = [*STEADY[:3], ("市交通运输局", 0.0, 4, "red")]
MONTHLY: dict[str, list[tuple[str, float, int, str, str]]] = {
    "2020-03": [(*row, "new") for row in STEADY],
    "2020-04": [(*row, "same") for row in STEADY],
    "2020-05": [(*row, "same") for row in STEADY],
    # 市住建局's June report came on 1 July: at June's end it was behind (30%, 39% due).
    # Tied with 市交通运输局, which so moves up a rank without doing anything.
    "2020-06": [
        ("市发改委", 100.0, 1, "green", "same"),
        ("普陀区政府", 100.0, 1, "green", "same"),
        ("市交通运输局", 20.0, 3, "red", "up"),
        ("市住建局", 20.0, 3, "red", "same"),
    ],
    # The milestone of 30 June is overdue from July on.
    "2020-07": [
        *[(*row, "same") for row in STEADY[:3]],
        ("市交通运输局", 0.0, 4, "red", "down"),
    ],
    "2020-08": [(*row, "same") for row in MILESTONE_MISSED],
    # 普陀区政府 reported a difficulty instead of its September report.
    "2020-09": [
        ("市发改委", 100.0, 1, "green", "same"),
        ("市住建局", 50.0, 2, "red", "up"),
        ("普陀区政府", 28.6, 3, "red", "down"),
        ("市交通运输局", 0.0, 4, "red", "same"),
    ],
    "2020-10": [
        ("市发改委", 100.0, 1, "green", "same"),
        ("普陀区政府", 100.0, 1, "green", "up"),
        ("市住建局", 50.0, 3, "red", "down"),
        ("市交通运输局", 0.0, 4, "red", "same"),
    ],
    "2020-11": [(*row, "same") for row in MILESTONE_MISSED],
    "2020-12": [(*row, "same") for row in MILESTONE_MISSED],
}


def summary(rows: list[dict[str, Any]]) -> list[tuple[str, float, int, str, str]]:
    return [(r["unit"], r["score"], r["rank"], r["light"], r["trend"]) for r in rows]


def test_lights_ranks_and_trends_month_by_month(year: Year) -> None:
    assert {label: summary(year.ranking(label)) for label in MONTHS} == MONTHLY


def test_the_on_time_unit_is_green_above_the_late_one_and_the_silent_one_red(
    year: Year,
) -> None:
    for label in MONTHS:
        rows = {r["unit"]: r for r in year.ranking(label)}
        on_time, late, silent = rows["市发改委"], rows["市住建局"], rows["市交通运输局"]
        assert on_time["light"] == "green", label
        assert on_time["rank"] < late["rank"], label
        assert on_time["metrics"]["reports_on_time"] == on_time["metrics"]["reports_due"] == 2
        assert late["metrics"]["reports_due"] == 1
        assert late["metrics"]["reports_on_time"] == 0
        assert silent["light"] == "red", label
        assert silent["metrics"]["reports_on_time"] == 0


def test_the_extension_keeps_the_late_unit_on_track_at_the_year_end(year: Year) -> None:
    with year.sessions() as session:
        approved, _january = session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == "approve.extension")
            .order_by(AuditEvent.at, AuditEvent.id)
        )
        assert approved.at.astimezone(TZ) == local("2020-11-17T15:00")
        assert approved.detail["date"] == "2021-06-30"
        (old,) = session.scalars(
            select(DuePoint)
            .join(Assignment, DuePoint.assignment_id == Assignment.id)
            .join(Unit, Assignment.unit_id == Unit.id)
            .where(Unit.name == "市住建局", DuePoint.key == "deadline:2020-12-31")
        )
        assert (old.state, old.resolution) == ("resolved", "extended")
        assert old.resolved_at is not None
        assert old.resolved_at.astimezone(TZ) == local("2020-11-18T09:00")  # the next sweep
    # 95% by the year end: behind a deadline of 31 December, on track for 30 June 2021.
    assert expected_progress(FIRST, date(2020, 12, 31), LAST) == 100
    assert expected_progress(FIRST, date(2021, 6, 30), LAST) == 62
    (housing,) = [r for r in year.ranking("2020-12") if r["unit"] == "市住建局"]
    assert (housing["metrics"]["lead_tasks"], housing["metrics"]["on_track"]) == (1, 1)


# --- reproducibility ----------------------------------------------------------------------


def test_a_months_ranking_is_the_same_whatever_happened_later(year: Year) -> None:
    """Each month's ranking as computed when the month had just ended, as published then,
    and as computed now — after the later replies, approvals, an extension, a closure, the
    office's decisions and the January replies — is the same."""
    assert list(year.at_the_time) == list(MONTHS)
    with year.sessions() as session:
        published = {
            event.detail["period"]: event.detail["rows"]
            for event in session.scalars(
                select(AuditEvent).where(AuditEvent.action == "ranking.published")
            )
            if event.detail["kind"] == "month"
        }
    assert list(published) == list(MONTHS)
    for label in MONTHS:
        now = year.ranking(label)
        assert year.at_the_time[label] == now, label
        shown = [{k: r[k] for k in ("unit", "score", "rank", "light", "trend")} for r in now]
        assert published[label] == shown, label
    # For instance October, ranked on 1 November, before the extension of 16–17 November,
    # task 4's closure in December and everything in January.
    assert summary(year.at_the_time["2020-10"]) == MONTHLY["2020-10"]


# --- the digests --------------------------------------------------------------------------


def test_the_silent_units_supervisor_gets_its_items_with_the_working_days_overdue(
    year: Year,
) -> None:
    # The report due 25 June, a holiday (端午), moved to Sunday 28 June (调休): 4 working days
    # overdue on 2 July; the milestone of 30 June: 2. One line for the unit.
    assert year.digest("2020-07-02", "王强") == [
        "【督办日报】王强副市长：2020年7月2日",
        "现将进入督办、通报程序的事项按责任单位汇总如下，请审阅：",
        "1. 市交通运输局：逾期 2 项，最长 4 个工作日",
    ]
    assert year.digest("2020-12-01", "王强") == [
        "【督办日报】王强副市长：2020年12月1日",
        "现将进入督办、通报程序的事项按责任单位汇总如下，请审阅：",
        "1. 市交通运输局：逾期 2 项，最长 106 个工作日",
    ]
    # From 2 July on, 王强 hears of the milestone every working day, one day later each time:
    # 督办 from the first working day after it, 通报 from the third (both at 09:00, so the
    # 08:30 digest shows them the next working day).
    calendar, by_day = year.runtime.calendar, year.digests()
    day = date(2020, 7, 2)
    while day <= date(2020, 12, 31):
        if calendar.is_working_day(day):
            overdue = calendar.working_days_between(date(2020, 6, 30), day)
            level = "escalate" if overdue > 3 else "supervise"
            listed = by_day[day]["王强"].items
            assert {"level": level, "overdue_days": overdue} in [
                {"level": i.get("level"), "overdue_days": i.get("overdue_days")} for i in listed
            ], day
        day += timedelta(days=1)


def test_the_blocker_is_in_the_supervisors_digest_until_the_unit_reports_again(
    year: Year,
) -> None:
    (blocker,) = year.messages("blocker")
    assert (blocker.recipient_kind, blocker.recipient_name, blocker.state) == (
        "supervisor",
        "赵华",  # 普陀区政府 has no supervisor: the lead unit 市住建局's
        "sent",
    )
    assert blocker.created_at.astimezone(TZ) == local("2020-09-22T10:00")
    assert "沿线3户征迁协议尚未签订，需市级协调" in blocker.text
    assert year.digest("2020-09-23", "赵华") == [
        "【督办日报】赵华副市长：2020年9月23日",
        "反映困难：",
        BLOCKER_LINE,
    ]
    by_day = year.digests()
    listing = sorted(day for day, sent in by_day.items() if BLOCKER_LINE in _lines(sent, "赵华"))
    calendar = year.runtime.calendar
    working = [
        day
        for day in (date(2020, 9, 23) + timedelta(days=n) for n in range(30))
        if calendar.is_working_day(day)
    ]
    # From the next morning until its report of 22 October, 10:00, ends it.
    assert listing == working
    assert listing[-1] == date(2020, 10, 22)
    for day, sent in by_day.items():
        assert (BLOCKER_LINE in _lines(sent, OFFICE)) == (day in listing), day
        for name in ("李明", "王强"):
            assert "反映困难：" not in _lines(sent, name), (day, name)


def _lines(sent: dict[str, Message], recipient: str) -> list[str]:
    return sent[recipient].text.splitlines() if recipient in sent else []


def test_the_office_digest_has_everything(year: Year) -> None:
    by_day = year.digests()
    assert by_day
    for day, sent in by_day.items():
        office = sent[OFFICE]
        listed: set[tuple[str, int]] = set()
        for name, message in sent.items():
            if name != OFFICE:
                listed |= {_listed(item) for item in message.items if "accountability" not in item}
        shown = {_listed(item) for item in office.items if "accountability" not in item}
        assert shown == listed, day
        for name, message in sent.items():  # and each supervisor's unit line is the office's
            assert _unit_lines(message) <= _unit_lines(office), (day, name)


def _unit_lines(message: Message) -> set[str]:
    """The lines after the heading and the intro (which names whom it asks what), unnumbered."""
    lines = message.text.splitlines()[1:]
    return {line.split(". ", 1)[-1] for line in lines if not line.startswith(("现将", "以下"))}


def _listed(item: dict[str, Any]) -> tuple[str, int]:
    return ("blocker", item["blocker"]) if "blocker" in item else ("item", item["due_point"])


def test_an_empty_digest_is_not_sent(year: Year) -> None:
    with year.sessions() as session:
        supervisors = dict(session.execute(select(Supervisor.name, Supervisor.id)).all())
        taken = set(session.scalars(select(OnceKey.key).where(OnceKey.key.like("digest:%"))))
    by_day = year.digests()
    # 陈静 and 周海 oversee none of these tasks: decided every working day, never sent.
    for name in ("陈静", "周海"):
        assert f"digest:2020-07-01:supervisor:{supervisors[name]}" in taken
        assert not [day for day, sent in by_day.items() if name in sent]
    # Nothing had reached 督办 before 27 March: no digest at all, though each was decided.
    assert min(by_day) == date(2020, 3, 27)
    assert {"digest:2020-03-26:office", f"digest:2020-03-26:supervisor:{supervisors['赵华']}"} <= (
        taken
    )


def test_the_months_first_digest_lists_last_months_confirmed_entries(year: Year) -> None:
    confirmed = [
        "2020年6月确认的问责事项：",
        "  · 市交通运输局：连续3期排名亮红灯（2020-03至2020-05）"
        "（6月2日确认，三个月未报送进展，约谈）",
    ]
    assert year.digest("2020-07-01", OFFICE)[-2:] == confirmed
    assert year.digest("2020-07-01", "王强")[-2:] == confirmed
    # 市住建局's entry was dismissed; 赵华 hears of no entry. The next days list none.
    assert "问责" not in "\n".join(year.digest("2020-07-01", "赵华"))
    told = {(date(2020, 7, 1), OFFICE), (date(2020, 7, 1), "王强")}
    for day, sent in year.digests().items():
        for name, message in sent.items():
            assert ("问责事项" in message.text) == ((day, name) in told), (day, name)


def test_a_unit_reporting_on_time_before_its_cycle_opens_is_not_chased(year: Year) -> None:
    """市发改委 reports every cycle by the 20th, before its due day and before the cycle's
    due point exists (the ranking counts each on time): no 催办, 督办 or 通报 for a report,
    and no digest lists it."""
    chased = [
        (m.created_at.astimezone(TZ).date().isoformat(), m.kind, m.recipient_name)
        for m in year.messages("urge", "supervise", "escalate")
        if m.recipient_name in ("市发改委", "李明")
        and any(item.get("kind") == "report" for item in m.items)
    ]
    # #43 is not closed by its year-end deadline: that 催办 on 12-31 is due, not a chase.
    deadline = [
        (m.created_at.astimezone(TZ).date().isoformat(), m.kind, m.recipient_name)
        for m in year.messages("urge", "supervise", "escalate")
        if m.recipient_name in ("市发改委", "李明")
        and all(item.get("kind") == "deadline" for item in m.items)
    ]
    assert deadline == [("2020-12-31", "urge", "市发改委")]
    in_digests = [
        (day.isoformat(), name)
        for day, sent in year.digests().items()
        for name, message in sent.items()
        if "市发改委：" in message.text
    ]
    with year.sessions() as session:
        missed = list(
            session.scalars(
                select(DuePoint.key)
                .join(Assignment, DuePoint.assignment_id == Assignment.id)
                .join(Unit, Assignment.unit_id == Unit.id)
                .where(Unit.name == "市发改委", DuePoint.state == "missed")
            )
        )
    assert (chased, in_digests, missed) == ([], [], [])


# --- the ledger ---------------------------------------------------------------------------


def red(
    raised: str, unit: str, first: str, last: str, state: str = "open"
) -> tuple[str, str, str, str | None, str, str]:
    return (raised, unit, "red_periods", last, f"连续3期排名亮红灯（{first}至{last}）", state)


def test_the_ledger_after_a_year(year: Year) -> None:
    entries = [
        (
            e.created_at.astimezone(TZ).date().isoformat(),
            e.unit.name,
            e.rule,
            e.period,
            e.summary,
            e.state,
        )
        for e in year.ledger()
    ]
    assert entries == [
        red("2020-06-01", "市交通运输局", "2020-03", "2020-05", "confirmed"),
        red("2020-06-01", "市住建局", "2020-03", "2020-05", "dismissed"),
        (
            "2020-07-15",  # the 11th working day after 30 June
            "市交通运输局",
            "overdue",
            None,
            "第51项「加快推进 526 国道、南部景观公路等一批重点公路项目。建…」"
            "526国道主体工程完工时限 6月30日，逾期 11 个工作日",
            "open",
        ),
        # Runs of red months do not overlap: one entry per three months running.
        red("2020-09-01", "市交通运输局", "2020-06", "2020-08"),
        red("2020-09-01", "市住建局", "2020-06", "2020-08"),
        red("2020-12-01", "市交通运输局", "2020-09", "2020-11"),
        red("2020-12-01", "市住建局", "2020-09", "2020-11"),
    ]
    decided = [(e.unit.name, e.state, e.decided_by, e.note) for e in year.ledger() if e.note]
    assert decided == [
        ("市交通运输局", "confirmed", OFFICE, "三个月未报送进展，约谈"),
        ("市住建局", "dismissed", OFFICE, "均已报送，仅迟报数日"),
    ]


def test_a_red_entrys_evidence_is_each_periods_ranking(year: Year) -> None:
    for entry in year.ledger():
        if entry.rule != "red_periods":
            continue
        last = parse_period(entry.period or "")
        periods = [last.previous().previous().label, last.previous().label, last.label]
        assert [shown["period"] for shown in entry.evidence] == periods
        for shown in entry.evidence:
            ranking = year.ranking(shown["period"])
            (row,) = [r for r in ranking if r["unit"] == entry.unit.name]
            assert shown["light"] == row["light"] == "red"
            assert (shown["score"], shown["rank"], shown["ranked"]) == (
                row["score"],
                row["rank"],
                len(ranking),
            )
            assert shown["metrics"] == row["metrics"]


def test_an_overdue_entrys_evidence_is_the_milestone_and_its_reminders(year: Year) -> None:
    (entry,) = [e for e in year.ledger() if e.rule == "overdue"]
    point, *rest = entry.evidence
    assert {k: point[k] for k in ("type", "kind", "name", "due_date")} == {
        "type": "due_point",
        "kind": "milestone",
        "name": "526国道主体工程完工",
        "due_date": "2020-06-30",
    }
    assert (point["working_days_overdue"], point["as_of"]) == (11, "2020-07-15")
    assert [(r["type"], r["level"], r["recipient"], r["repeat"]) for r in rest] == [
        ("notification", "notice", "unit", 0),
        ("notification", "urge", "unit", 0),
        ("notification", "supervise", "unit", 0),
        *[
            ("notification", "escalate", to, repeat)
            for repeat in range(4)  # and repeated every 2 working days, 3 times
            for to in ("office", "supervisor")
        ],
    ]
    # Nothing else was overdue more than 10 working days in 2020: the deadlines are at
    # the year end, and 市住建局's was moved to 2021.
    assert [e.unit.name for e in year.ledger() if e.rule == "overdue"] == ["市交通运输局"]


# --- a reply, as the ranking and the dashboard read it ------------------------------------


def test_a_reply_through_the_generic_hook_is_what_the_ranking_and_the_dashboard_read(
    engine: Engine, tmp_path: Path
) -> None:
    sessions = writer_sessions(engine)
    settings = scenario_settings(tmp_path, inbound={"oa": HOOKS["oa"]})
    import_sample(sessions, settings, tmp_path)
    runtime = captured_runtime(settings, sessions)
    day = FIRST
    while day < date(2020, 3, 20):
        if runtime.calendar.is_working_day(day):
            runtime.cycle(at(day, 9, 0))
        day += timedelta(days=1)
    march = parse_period("2020-03")

    def development_reform() -> dict[str, Any]:
        assert runtime.ranking is not None
        with sessions() as session:
            rows = as_json(compute_ranking(session, march, runtime.ranking))
        (row,) = [r for r in rows if r["unit"] == "市发改委"]
        return row

    before = development_reform()
    assert (before["metrics"]["reports_due"], before["metrics"]["reports_on_time"]) == (2, 0)

    clock = Clock(local("2020-03-20T10:00"))
    http = httpx.Client()
    with TestClient(create_app(WebContext(settings, sessions, clock=clock, http=http))) as client:
        reply = generic_reply(
            client,
            "13800000002",  # 联络员2 of 市发改委, by mobile
            "进展 #4 60% 年度投资完成过半",
            "oa-20200320-0001",
            clock.now,
        )
        assert reply == "已收到第4项进展（60%），谢谢。"

        after = development_reform()
        assert after["metrics"] == {
            **before["metrics"],
            "reports_on_time": 1,
            "on_time_rate": 50.0,
            "on_track": 1,  # 60% by the end of March, when 9% is expected; #43 is at 0%
            "on_track_rate": 50.0,
        }
        assert (after["score"], after["light"]) == (60.0, "yellow")

        page = client.get("/tasks/4")
        assert page.status_code == 200
        timeline = page.text.split('<ol class="timeline"')[1]
        assert "年度投资完成过半" in timeline
        assert "进度 60%" in timeline
        assert "年度投资完成过半" in client.get("/units/市发改委").text

        clock.now = local("2020-04-01T10:00")  # March is over: the board ranks it
        board = client.get("/", params={"period": "2020-03"}).text
        assert "<title>市发改委：60 分，黄灯</title>" in board
    http.close()
    with sessions() as session:
        (event,) = session.scalars(select(AuditEvent).where(AuditEvent.action == "reply.progress"))
        assert (event.channel, event.detail["percent"]) == ("oa", 60)
        task = session.scalars(select(Task).where(Task.number == "4")).one()
        assert task.assignments[0].progress == 60
