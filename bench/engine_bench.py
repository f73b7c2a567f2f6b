"""Reminder-engine benchmarks: scheduling, sweeps, the sample's year, the daemon's memory.

Run: `make bench` (or `.venv/bin/python bench/engine_bench.py [--assignments N]
[--skip-apscheduler] [--skip-postgres] [--memory]`). Prints figures with the targets beside
them; it is a benchmark, not a test, and never fails on time. In the same run it measures
the common alternative DESIGN.md principle 1 rules out — one APScheduler job per reminder in
a persistent SQLAlchemyJobStore — and prints the ratio.

Scheduling and the sweeps (steps 1 and 2) run on SQLite and then, on the same generated
data, on a temporary PostgreSQL database ($DUBAN_TEST_POSTGRES_URL, default the local `test`
database's server; a `duban_bench_…` database is created there and dropped at the end); the
two sets of figures are printed side by side. The APScheduler comparison, the sample's year
and the daemon's memory run on SQLite only.
"""

from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.date import DateTrigger
from pgtemp import postgres_engine
from sqlalchemy import Connection, Engine, Table, func, insert, select, text
from sqlalchemy.orm import Session, sessionmaker

from bot.app.runtime import Runtime
from bot.domain.calendar import WorkCalendar
from bot.domain.ladder import ladder_steps
from bot.domain.rules import Rules, default_rules
from bot.engine.schedule import schedule_pending
from bot.engine.simulate import simulate
from bot.engine.sweep import SweepResult, sweep
from bot.intake.directory import load_directory
from bot.intake.importing import import_file
from bot.platforms import CaptureChannel, Channel
from bot.store import database
from bot.store.models import (
    Assignment,
    Base,
    DuePoint,
    Message,
    Notification,
    Plan,
    Supervisor,
    Task,
    Unit,
)

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "examples" / "zhoushan-2020-key-tasks.txt"
UNITS = ROOT / "examples" / "zhoushan-units.toml"
TZ = ZoneInfo("Asia/Shanghai")
CREATED = datetime(2020, 1, 1, tzinfo=UTC)
# Before the plan's first reminder (the notice three working days before the first report,
# 25 January, moved past the Spring Festival): a sweep at this moment has nothing to do.
QUIET = datetime(2020, 1, 2, 10, 0, tzinfo=TZ)
PER_TASK = 4
UNIT_COUNT = 300
SUPERVISORS = 12
APSCHEDULER_JOBS = 10_000
DUE_NOW = 1_000
MEMORY_SECONDS = 70.0
MEMORY_TIMEOUT = 900.0


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def fresh_engine(path: Path) -> Engine:
    engine = database.make_engine(f"sqlite:///{path}")
    database.upgrade(engine)
    return engine


def writer_sessions(engine: Engine) -> sessionmaker[Session]:
    return database.session_factory(database.writer(engine))


def table(model: type[Base]) -> Table:
    return cast(Table, model.__table__)


# --- generated data (Core executemany) -------------------------------------------------


def seed_units(conn: Connection, now: datetime) -> list[int]:
    """Supervisors and units, each unit with two contacts (one the head) and a supervisor."""
    supervisors = list(
        conn.scalars(
            insert(table(Supervisor)).returning(
                table(Supervisor).c.id, sort_by_parameter_order=True
            ),
            [
                {"name": f"副市长{i}", "title": "副市长", "channel": None, "contacts": []}
                for i in range(1, SUPERVISORS + 1)
            ],
        )
    )
    rows = [
        {
            "name": f"市第{i}局",
            "collective": False,
            "in_directory": True,
            "channel": None,
            "supervisor_id": supervisors[i % SUPERVISORS],
            "contacts": [
                {"name": f"联络员{i}", "mobile": f"1380000{i:04d}"},
                {"name": f"局长{i}", "mobile": f"1390000{i:04d}", "role": "head"},
            ],
            "created_at": now,
        }
        for i in range(1, UNIT_COUNT + 1)
    ]
    return list(
        conn.scalars(
            insert(table(Unit)).returning(table(Unit).c.id, sort_by_parameter_order=True),
            rows,
        )
    )


def seed_plan(
    conn: Connection,
    key: str,
    unit_ids: list[int],
    assignments: int,
    deadline: Callable[[int], date | None],
    now: datetime = CREATED,
    year: int = 2020,
) -> int:
    """One plan with ⌈assignments / 4⌉ tasks and `assignments` assignments to schedule."""
    plan_id: int | None = conn.scalar(
        insert(table(Plan))
        .returning(table(Plan).c.id)
        .values(
            key=key,
            title=f"{key} 重点工作任务责任分解",
            year=year,
            timezone="Asia/Shanghai",
            source=f"{key}.txt",
            source_sha256="0" * 64,
            default_deadline=None,
            sample=False,
            created_at=now,
            updated_at=now,
        )
    )
    assert plan_id is not None
    count = -(-assignments // PER_TASK)
    task_rows = [
        {
            "plan_id": plan_id,
            "number": str(n),
            "seq": n,
            "text": f"第{n}项工作：新增公共停车位 {n} 个。",
            "section": None,
            "supervisor_id": None,
            "deadline": deadline(n),
            "responsibility": {
                "lead": f"市第{n % UNIT_COUNT + 1}局",
                "co_units": [],
                "co_leads": [],
            },
            "created_at": now,
            "updated_at": now,
        }
        for n in range(1, count + 1)
    ]
    task_ids = list(
        conn.scalars(
            insert(table(Task)).returning(table(Task).c.id, sort_by_parameter_order=True),
            task_rows,
        )
    )
    rows: list[dict[str, Any]] = []
    for n, task_id in enumerate(task_ids, start=1):
        for k in range(PER_TASK):
            if len(rows) == assignments:
                break
            rows.append(
                {
                    "task_id": task_id,
                    # 4 distinct units per task: offsets 0, 75, 150, 225 around the ring of 300
                    "unit_id": unit_ids[(n + k * len(unit_ids) // PER_TASK) % len(unit_ids)],
                    "role": "lead" if k == 0 else "co",
                    "co_lead": False,
                    "via_id": None,
                    "status": "not_started",
                    "progress": 0,
                    "last_report_at": None,
                    "deadline": None,
                    "needs_schedule": True,
                    "created_at": now,
                    "updated_at": now,
                }
            )
    conn.execute(insert(table(Assignment)), rows)
    return plan_id


def month_ends(year: int) -> Callable[[int], date]:
    """Deadlines spread over the year's month ends, like "n月底前完成" in the sample."""

    def deadline(n: int) -> date:
        month = n % 12 + 1
        return (date(year, month, 28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)

    return deadline


def generate(engine: Engine, assignments: int) -> list[int]:
    """The generated data in a migrated, empty database; returns the units' ids."""
    with engine.begin() as conn:
        unit_ids = seed_units(conn, CREATED)
        seed_plan(conn, "bench-2020", unit_ids, assignments, month_ends(2020))
    return unit_ids


# --- 1. scheduling, and the APScheduler alternative ----------------------------------


@dataclass(frozen=True)
class Scheduled:
    seconds: float
    assignments: int
    points: int


def bench_schedule(engine: Engine, label: str, rules: Rules, cal: WorkCalendar) -> Scheduled:
    sessions = writer_sessions(engine)
    done = 0

    def run() -> None:
        nonlocal done
        with sessions.begin() as session:
            done = schedule_pending(session, rules, cal, CREATED)

    seconds = timed(run)
    with engine.connect() as conn:
        points = conn.scalar(select(func.count()).select_from(DuePoint)) or 0
    per = seconds / done * 1e6 if done else 0.0
    print(
        f"1. {label}: schedule {done:,} assignments   {seconds:7.2f} s  ({points:,} due points, "
        f"{per:.0f} µs per assignment)   (target < 10 s)"
    )
    return Scheduled(seconds, done, points)


def remind(assignment_id: int, key: str, level: str, repeat: int) -> None:
    """The job one APScheduler job per reminder would run (never run here)."""


def reminder_jobs(engine: Engine, rules: Rules, cal: WorkCalendar, count: int) -> Iterator[Any]:
    """(id, run_date, args) of every ladder step of the scheduled due points, `count` in all."""
    made = 0
    with engine.connect() as conn:
        rows = conn.execute(
            select(DuePoint.assignment_id, DuePoint.key, DuePoint.due_date).order_by(DuePoint.id)
        )
        steps: dict[date, Any] = {}
        for assignment_id, key, due in rows:
            if due not in steps:
                steps[due] = ladder_steps(due, rules, cal, TZ)
            for step in steps[due]:
                if made == count:
                    return
                made += 1
                job_id = f"remind:{assignment_id}:{key}:{step.level.key}:{step.repeat}"
                yield job_id, step.at, (assignment_id, key, step.level.key, step.repeat)


def bench_apscheduler(
    folder: Path, engine: Engine, rules: Rules, cal: WorkCalendar, jobs: int
) -> float:
    """Seconds per job for `jobs` DateTrigger jobs added to a SQLAlchemyJobStore."""
    path = folder / "apscheduler.db"
    store = SQLAlchemyJobStore(url=f"sqlite:///{path}")
    scheduler = BackgroundScheduler(jobstores={"default": store}, timezone=UTC)
    # A scheduler that is not started keeps added jobs in memory; started (paused, so no job
    # runs) it writes each one to the store as it is added.
    scheduler.start(paused=True)
    planned = list(reminder_jobs(engine, rules, cal, jobs))
    start = time.perf_counter()
    for job_id, at, args in planned:
        scheduler.add_job(
            remind, DateTrigger(run_date=at), args=args, id=job_id, replace_existing=True
        )
    seconds = time.perf_counter() - start
    with sqlite3.connect(path) as conn:
        stored = conn.execute("SELECT count(*) FROM apscheduler_jobs").fetchone()[0]
    # Shutting down wakes the scheduler's thread, which then runs whatever is due (2020's
    # reminders all are) even though it was paused: remove the jobs first.
    scheduler.remove_all_jobs()
    scheduler.shutdown(wait=False)
    print(
        f"   APScheduler job store: {len(planned):,} jobs  {seconds:7.2f} s  "
        f"({stored:,} rows in apscheduler_jobs)"
    )
    return seconds / len(planned)


# --- 2. sweeps -------------------------------------------------------------------------


def timed_sweep(
    sessions: sessionmaker[Session], rules: Rules, cal: WorkCalendar, now: datetime
) -> tuple[float, SweepResult]:
    start = time.perf_counter()
    with sessions.begin() as session:
        result = sweep(session, rules, cal, now)
    return time.perf_counter() - start, result


def due_count(engine: Engine, now: datetime) -> int:
    with engine.connect() as conn:
        query = select(func.count()).select_from(DuePoint).where(DuePoint.next_action_at <= now)
        return conn.scalar(query) or 0


@dataclass(frozen=True)
class Sweeps:
    empty: float  # median of 5, nothing due
    due: float  # DUE_NOW due points
    due_points: int
    result: SweepResult
    again: float  # the same sweep, nothing left due


def bench_sweeps(
    engine: Engine, label: str, unit_ids: list[int], rules: Rules, cal: WorkCalendar
) -> Sweeps:
    sessions = writer_sessions(engine)
    now = QUIET.astimezone(UTC)
    due = due_count(engine, now)
    runs = [timed_sweep(sessions, rules, cal, now) for _ in range(5)]
    empty = statistics.median(s for s, _ in runs)
    print(
        f"2. {label}: sweep, nothing due ({due} due points)   median {empty * 1000:7.1f} ms  "
        f"{runs[0][1]}   (target < 100 ms)"
    )
    if engine.dialect.name == "postgresql":
        # Scheduling analysed its tables (database.analyze_after_bulk); autovacuum's or an
        # operator's VACUUM ANALYZE is the comparison.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
        vacuumed = statistics.median(timed_sweep(sessions, rules, cal, now)[0] for _ in range(5))
        print(
            f"   right after scheduling {empty * 1000:.1f} ms; after a manual VACUUM ANALYZE "
            f"{vacuumed * 1000:.1f} ms: ratio {empty / vacuumed:.2f}   (target < 5 ms)"
        )
    # A second plan whose 1,000 deadlines fall on the sweep's day: its urge step (09:00) has
    # come, so each of its due points sends to the unit and mentions its contacts.
    with engine.begin() as conn:
        seed_plan(conn, "bench-due", unit_ids, DUE_NOW, lambda _: QUIET.date())
    with sessions.begin() as session:
        schedule_pending(session, rules, cal, CREATED)
    due = due_count(engine, now)
    seconds, result = timed_sweep(sessions, rules, cal, now)
    print(f"   sweep, {due:,} due points          {seconds:7.3f} s  {result}   (target < 1 s)")
    again, left = timed_sweep(sessions, rules, cal, now)
    print(f"   the same sweep again            {again * 1000:7.1f} ms  {left}")
    return Sweeps(empty, seconds, due, result, again)


@dataclass(frozen=True)
class Figures:
    scheduled: Scheduled
    sweeps: Sweeps


def bench_backend(
    engine: Engine,
    label: str,
    assignments: int,
    rules: Rules,
    cal: WorkCalendar,
    after_schedule: Callable[[Scheduled], None] | None = None,
) -> Figures:
    """Steps 1 and 2 on a migrated, empty database; `after_schedule` runs between them, on
    the scheduled data (the SQLite run's APScheduler comparison)."""
    unit_ids = generate(engine, assignments)
    scheduled = bench_schedule(engine, label, rules, cal)
    if after_schedule is not None:
        after_schedule(scheduled)
    return Figures(scheduled, bench_sweeps(engine, label, unit_ids, rules, cal))


def mark(ok: bool) -> str:
    return "✓" if ok else "✗"


def side_by_side(figures: dict[str, Figures]) -> None:
    """Steps 1 and 2 per backend, in columns, with the targets."""
    labels = list(figures)
    print("   " + " " * 34 + "".join(f"{label:>16}" for label in labels) + "   target")

    def row(what: str, cells: list[str], target: str) -> None:
        print(f"   {what:<34}" + "".join(f"{cell:>16}" for cell in cells) + f"   {target}")

    values = list(figures.values())
    row(
        f"schedule {values[0].scheduled.assignments:,} assignments",
        [f"{f.scheduled.seconds:.2f} s {mark(f.scheduled.seconds < 10)}" for f in values],
        "< 10 s",
    )
    row(
        "sweep, nothing due (median of 5)",
        [f"{f.sweeps.empty * 1000:.1f} ms {mark(f.sweeps.empty < 0.1)}" for f in values],
        "< 100 ms",
    )
    row(
        f"sweep, {values[0].sweeps.due_points:,} due points",
        [f"{f.sweeps.due:.3f} s {mark(f.sweeps.due < 1)}" for f in values],
        "< 1 s",
    )
    row("the same sweep again", [f"{f.sweeps.again * 1000:.1f} ms  " for f in values], "—")


# --- 3. the sample's year --------------------------------------------------------------


def bench_simulation(folder: Path) -> None:
    engine = fresh_engine(folder / "sample.db")
    sessions = writer_sessions(engine)
    directory = load_directory(UNITS)
    _, report = import_file(sessions, SAMPLE, directory, timezone="Asia/Shanghai", now=CREATED)
    channels: dict[str, Channel] = {"console": CaptureChannel()}
    runtime = Runtime(
        sessions=sessions,
        rules=default_rules(),
        calendar=WorkCalendar(),
        tz=TZ,
        channels=channels,
        default_channel="console",
    )
    start = time.perf_counter()
    timeline = simulate(runtime, date(2020, 1, 1), date(2020, 12, 31), [])
    seconds = time.perf_counter() - start
    print(
        f"3. simulate 2020 for the sample ({report.tasks} tasks, {report.assignments} "
        f"assignments)   {seconds:7.2f} s  ({len(timeline):,} timeline entries)   "
        f"(target < 10 s)"
    )
    engine.dispose()


# --- 4. the daemon's peak memory -------------------------------------------------------


def peak_rss_kb(pid: int) -> int:
    """VmHWM, the peak resident set of a running process, in kB."""
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            name, _, value = line.partition(":")
            if name == "VmHWM":
                return int(value.split()[0])
    raise RuntimeError(f"no VmHWM in /proc/{pid}/status")


def sweeps_done(log: Path) -> tuple[int, int]:
    """Sweeps that ended, and how many of them failed (the daemon logs and carries on)."""
    lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    ended = sum(
        ('Job "sweep' in line or "interval[0:01:00]" in line) and "executed successfully" in line
        for line in lines
    )
    return ended, sum("sweep job failed" in line for line in lines)


def daemon_db(path: Path, assignments: int, rules: Rules, *, deadline_day: bool) -> int:
    """A database as the daemon finds it, whatever the real date; returns how many due
    points are due when the daemon starts.

    An ordinary day: the large plan is next year's (imported today, none of its reminders
    has come yet) and a second plan's 1,000 deadlines are today. A deadline day: every
    deadline of the large plan is today, so the first sweep handles all of its due points.
    """
    # Next year may lie beyond the statutory calendar's data: the daemon warns in its log;
    # here the warning would only interrupt the figures.
    cal = WorkCalendar(warn=lambda _: None)
    now = datetime.now(UTC)
    today = now.astimezone(TZ).date()
    engine = fresh_engine(path)
    with engine.begin() as conn:
        unit_ids = seed_units(conn, now)
        if deadline_day:
            seed_plan(conn, "bench-today", unit_ids, assignments, lambda _: today, now, today.year)
        else:
            next_year = today.year + 1
            seed_plan(
                conn, "bench-next", unit_ids, assignments, month_ends(next_year), now, next_year
            )
            seed_plan(conn, "bench-today", unit_ids, DUE_NOW, lambda _: today, now, today.year)
    with writer_sessions(engine).begin() as session:
        schedule_pending(session, rules, cal, now)
    due = due_count(engine, now)
    engine.dispose()
    return due


@dataclass(frozen=True)
class DaemonRun:
    peak_kb: int  # VmHWM
    seconds: float
    sweeps: int
    failed: int
    notifications: int
    sent: int


def run_daemon(folder: Path, path: Path) -> DaemonRun:
    """`duban run` on the database at `path` until a sweep has ended and MEMORY_SECONDS have
    passed; then SIGTERM."""
    log = folder / f"{path.stem}.log"
    env = {
        **os.environ,
        "DUBAN_DATABASE__URL": f"sqlite:///{path}",
        "DUBAN_CONFIG": str(ROOT / "config.example.toml"),
    }
    with log.open("wb") as sink:
        daemon = subprocess.Popen(
            [str(Path(sys.executable).parent / "duban"), "run"],
            cwd=ROOT,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
        start = time.monotonic()
        try:
            while time.monotonic() - start < MEMORY_SECONDS or not sweeps_done(log)[0]:
                if daemon.poll() is not None:
                    raise RuntimeError(f"duban run exited: {log.read_text(encoding='utf-8')}")
                if time.monotonic() - start > MEMORY_TIMEOUT:
                    raise RuntimeError(f"no sweep ended in {MEMORY_TIMEOUT:.0f} s; see {log}")
                time.sleep(0.5)
            peak = peak_rss_kb(daemon.pid)
            seconds = time.monotonic() - start
        finally:
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(timeout=120)
    engine = database.make_engine(f"sqlite:///{path}")
    with engine.connect() as conn:
        notes = conn.scalar(select(func.count()).select_from(Notification)) or 0
        sent = conn.scalar(select(func.count()).where(Message.state == "sent")) or 0
    engine.dispose()
    return DaemonRun(peak, seconds, *sweeps_done(log), notes, sent)


def bench_memory(folder: Path, assignments: int, rules: Rules) -> None:
    for deadline_day, what in [(False, "an ordinary day"), (True, "a deadline day")]:
        path = folder / f"daemon-{'deadline' if deadline_day else 'ordinary'}.db"
        due = daemon_db(path, assignments, rules, deadline_day=deadline_day)
        run = run_daemon(folder, path)
        print(
            f"{'4.' if not deadline_day else '  '} duban run, {assignments:,} assignments, "
            f"{what} ({due:,} due at start)   peak RSS {run.peak_kb / 1024:6.1f} MB  "
            f"(over {run.seconds:.0f} s: {run.sweeps} sweep(s), {run.failed} failed; "
            f"{run.notifications:,} notifications, {run.sent:,} messages sent)   "
            "(target < 300 MB)"
        )


# --- main ------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--assignments", type=int, default=100_000)
    parser.add_argument("--skip-apscheduler", action="store_true")
    parser.add_argument("--skip-postgres", action="store_true", help="steps 1 and 2 on SQLite only")
    parser.add_argument(
        "--memory", action="store_true", help="also run `duban run` twice (≈ 3 min more)"
    )
    args = parser.parse_args()
    rules, cal = default_rules(), WorkCalendar()
    with tempfile.TemporaryDirectory(prefix="duban-bench-") as tmp:
        folder = Path(tmp)
        engine = fresh_engine(folder / "engine.db")

        def compare(scheduled: Scheduled) -> None:
            if args.skip_apscheduler:
                return
            per_job = bench_apscheduler(folder, engine, rules, cal, APSCHEDULER_JOBS)
            per_assignment = scheduled.seconds / scheduled.assignments
            print(
                f"   duban: {per_assignment * 1e6:.0f} µs per assignment; APScheduler job "
                f"store: {per_job * 1e6:.0f} µs per job; ratio {per_job / per_assignment:.1f}"
            )
            # Each due point is a ladder of steps (levels, then repeats of the last level).
            jobs = scheduled.points * len(ladder_steps(QUIET.date(), rules, cal, TZ))
            per = jobs / scheduled.assignments
            print(
                f"   as one job per reminder, an assignment's current due points are "
                f"{per:.0f} jobs: {per * per_job * 1e3:.1f} ms per assignment, "
                f"ratio {per * per_job / per_assignment:.0f}"
            )

        figures = {"SQLite": bench_backend(engine, "SQLite", args.assignments, rules, cal, compare)}
        engine.dispose()
        if not args.skip_postgres:
            with postgres_engine() as pg:
                if pg is not None:
                    figures["PostgreSQL"] = bench_backend(
                        pg, "PostgreSQL", args.assignments, rules, cal
                    )
        side_by_side(figures)
        bench_simulation(folder)
        if args.memory:
            bench_memory(folder, args.assignments, rules)


if __name__ == "__main__":
    main()
