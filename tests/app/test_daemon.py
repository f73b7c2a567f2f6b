"""`duban run`: the fixed jobs, a failing job, stopping on an event and on signals."""

from __future__ import annotations

import logging
import queue
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import IO

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.app.daemon import build_scheduler, run_daemon
from bot.app.runtime import Runtime
from bot.domain.calendar import CalendarOverrides, SendWindow, WorkCalendar
from bot.domain.rules import default_rules
from bot.engine.sweep import SweepResult
from bot.platforms import CaptureChannel
from bot.store import database
from tests.support.engine import TZ, writer_sessions
from tests.support.outbox import load, make_message
from tests.support.paths import ROOT
from tests.support.processes import DUBAN, environment

pytestmark = pytest.mark.slow  # real `duban` processes; threads waiting on the real clock

MOMENT = datetime(2020, 10, 12, 2, 0, tzinfo=UTC)


@dataclass
class RecordingRuntime(Runtime):
    """A runtime that notes each sweep and dispatch; its sweep can be told to fail."""

    sweeps: list[datetime] = field(default_factory=list)
    dispatches: list[datetime] = field(default_factory=list)
    broken_sweep: bool = False

    def sweep(self, now: datetime) -> SweepResult:
        self.sweeps.append(now)
        if self.broken_sweep:
            raise RuntimeError("the sweep broke")
        return super().sweep(now)

    def dispatch(self, now: datetime) -> int:
        self.dispatches.append(now)
        return super().dispatch(now)


@pytest.fixture
def sqlite_engine(sqlite_template: Path, tmp_path: Path) -> Iterator[Engine]:
    """A migrated SQLite database of this test's own: the daemon reads the real clock."""
    target = tmp_path / "duban.db"
    shutil.copyfile(sqlite_template, target)
    engine = database.make_engine(f"sqlite:///{target}")
    yield engine
    engine.dispose()


@pytest.fixture
def capture() -> CaptureChannel:
    return CaptureChannel("console")


def make_runtime(
    sessions: sessionmaker[Session], capture: CaptureChannel, *, broken_sweep: bool = False
) -> RecordingRuntime:
    """A runtime whose send window is open all day, every day around today: the daemon
    reads the wall clock, and the test must not depend on when it runs."""
    today = datetime.now(TZ).date()
    workdays = frozenset(today + timedelta(days=n) for n in range(-1, 2))
    return RecordingRuntime(
        sessions=sessions,
        rules=replace(default_rules(), window=SendWindow(clock_time(0), clock_time.max)),
        calendar=WorkCalendar(CalendarOverrides(workdays=workdays)),
        tz=TZ,
        channels={"console": capture},
        default_channel="console",
        broken_sweep=broken_sweep,
    )


def add_ready_message(sessions: sessionmaker[Session], since: datetime | None = None) -> int:
    since = since or datetime.now(UTC) - timedelta(days=1)
    with sessions.begin() as session:
        return make_message(session, not_before=since, created_at=since).id


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@contextmanager
def daemon_in_thread(runtime: Runtime) -> Iterator[threading.Thread]:
    """Runs the daemon in a thread; stops it on leaving and checks that it returned."""
    stop = threading.Event()
    thread = threading.Thread(target=run_daemon, args=(runtime, 1, stop))
    thread.start()
    try:
        yield thread
    finally:
        stop.set()
        thread.join(timeout=15)
    assert not thread.is_alive(), "run_daemon did not return after its stop event was set"


# --- the scheduler ------------------------------------------------------------------------


def test_the_scheduler_has_only_the_fixed_sweep_and_dispatch_jobs(
    sqlite_engine: Engine, capture: CaptureChannel
) -> None:
    runtime = make_runtime(writer_sessions(sqlite_engine), capture)
    scheduler = build_scheduler(runtime, 7, clock=lambda: MOMENT)
    assert [job.id for job in scheduler.get_jobs()] == ["sweep", "dispatch"]
    # The job defaults reach the jobs when the scheduler starts; paused, nothing runs.
    scheduler.start(paused=True)
    try:
        jobs = {job.id: job for job in scheduler.get_jobs()}
        assert set(jobs) == {"sweep", "dispatch"}
        for job in jobs.values():
            assert (job.coalesce, job.max_instances) == (True, 1)
            assert job.misfire_grace_time >= 1
            assert job.next_run_time == MOMENT  # both run as soon as the daemon starts
        assert jobs["sweep"].trigger.interval == timedelta(minutes=1)
        assert jobs["dispatch"].trigger.interval == timedelta(seconds=7)
    finally:
        scheduler.shutdown(wait=False)
    assert runtime.sweeps == runtime.dispatches == []


def test_the_jobs_read_the_injected_clock(sqlite_engine: Engine, capture: CaptureChannel) -> None:
    sessions = writer_sessions(sqlite_engine)
    runtime = make_runtime(sessions, capture)
    message_id = add_ready_message(sessions, since=MOMENT - timedelta(hours=1))
    scheduler = build_scheduler(runtime, 7, clock=lambda: MOMENT)
    for job in scheduler.get_jobs():
        job.func()
    assert runtime.sweeps == runtime.dispatches == [MOMENT]
    assert load(sessions, message_id).sent_at == MOMENT


def test_a_job_that_fails_is_logged_and_the_next_run_goes_ahead(
    sqlite_engine: Engine, capture: CaptureChannel, caplog: pytest.LogCaptureFixture
) -> None:
    sessions = writer_sessions(sqlite_engine)
    runtime = make_runtime(sessions, capture, broken_sweep=True)
    add_ready_message(sessions, since=MOMENT - timedelta(hours=1))
    scheduler = build_scheduler(runtime, 7, clock=lambda: MOMENT)
    sweep_job, dispatch_job = scheduler.get_job("sweep"), scheduler.get_job("dispatch")
    with caplog.at_level(logging.ERROR, logger="duban.daemon"):
        sweep_job.func()
        sweep_job.func()
        dispatch_job.func()
    failures = [r for r in caplog.records if r.name == "duban.daemon"]
    assert [r.getMessage() for r in failures] == [
        "sweep job failed; it runs again at its next interval"
    ] * 2
    assert all(r.levelno == logging.ERROR for r in failures)
    exc_info = failures[0].exc_info
    assert exc_info is not None
    assert isinstance(exc_info[1], RuntimeError)
    assert len(runtime.sweeps) == 2
    assert len(capture.sent) == 1  # the other job is unaffected


# --- run_daemon in a thread ---------------------------------------------------------------


def test_the_daemon_sweeps_and_dispatches_until_its_stop_event_is_set(
    sqlite_engine: Engine, capture: CaptureChannel, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="duban")
    sessions = writer_sessions(sqlite_engine)
    runtime = make_runtime(sessions, capture)
    message_id = add_ready_message(sessions)
    with daemon_in_thread(runtime):
        assert wait_until(lambda: len(capture.sent) == 1 and bool(runtime.sweeps))
    assert [m.message_id for m in capture.sent] == [message_id]
    assert load(sessions, message_id).state == "sent"
    assert runtime.dispatches
    messages = [r.getMessage() for r in caplog.records if r.name == "duban.daemon"]
    assert messages[0] == "duban is running (sweep every minute, dispatch every 1s)"
    assert messages[-1] == "duban stopped"


def test_a_failing_sweep_does_not_stop_the_daemon_from_dispatching(
    sqlite_engine: Engine, capture: CaptureChannel, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="duban")
    sessions = writer_sessions(sqlite_engine)
    runtime = make_runtime(sessions, capture, broken_sweep=True)
    message_id = add_ready_message(sessions)
    with daemon_in_thread(runtime):
        assert wait_until(lambda: len(capture.sent) == 1 and bool(runtime.sweeps))
    assert load(sessions, message_id).state == "sent"
    records = [r for r in caplog.records if r.name == "duban.daemon"]
    errors = [r.getMessage() for r in records if r.levelno >= logging.ERROR]
    assert errors
    assert all(e.startswith("sweep job failed") for e in errors)
    assert records[-1].getMessage() == "duban stopped"


# --- `duban run` as a real process --------------------------------------------------------


def pump(source: str, stream: IO[str], lines: queue.Queue[tuple[str, str]]) -> None:
    for line in stream:
        lines.put((source, line.rstrip("\n")))


def wait_for_line(
    lines: queue.Queue[tuple[str, str]], text: str, timeout: float
) -> list[tuple[str, str]]:
    """Reads output lines until one contains `text`; returns all read so far."""
    seen: list[tuple[str, str]] = []
    deadline = time.monotonic() + timeout
    while not any(text in line for _, line in seen):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            pytest.fail(f"no line with {text!r} within {timeout}s; output: {seen}")
        try:
            seen.append(lines.get(timeout=remaining))
        except queue.Empty:
            continue
    return seen


def drain(lines: queue.Queue[tuple[str, str]]) -> list[tuple[str, str]]:
    rest: list[tuple[str, str]] = []
    while not lines.empty():
        rest.append(lines.get_nowait())
    return rest


@dataclass
class Running:
    """A `duban` process whose stdout and stderr lines arrive, tagged, in `lines`."""

    process: subprocess.Popen[str]
    lines: queue.Queue[tuple[str, str]]

    def wait_for(self, text: str, timeout: float) -> list[tuple[str, str]]:
        return wait_for_line(self.lines, text, timeout=timeout)

    def stop(self, signum: signal.Signals) -> int:
        self.process.send_signal(signum)
        return self.process.wait(timeout=15)


@contextmanager
def running(args: list[str], env: dict[str, str]) -> Iterator[Running]:
    """`duban ARGS` as a real process; killed if still running when the block ends."""
    lines: queue.Queue[tuple[str, str]] = queue.Queue()
    with subprocess.Popen(
        [str(DUBAN), *args],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
    ) as process:
        assert process.stdout is not None
        assert process.stderr is not None
        readers = [
            threading.Thread(target=pump, args=("stdout", process.stdout, lines)),
            threading.Thread(target=pump, args=("stderr", process.stderr, lines)),
        ]
        try:
            for reader in readers:
                reader.start()
            yield Running(process, lines)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            for reader in readers:
                reader.join(timeout=10)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_duban_run_sample_says_what_comes_next_and_stops_cleanly_on_a_signal(
    tmp_path: Path, signum: signal.Signals
) -> None:
    env = environment(
        f"sqlite:///{tmp_path / 'sample.db'}",
        PYTHONUNBUFFERED="1",
        PYTHONUTF8="1",
        DUBAN_WEB__PORT=str(free_port()),  # not the example's 8000, which may be taken
    )
    with running(["run", "--sample"], env) as daemon:  # what `make run` does
        output = daemon.wait_for("duban is running", timeout=30)
        code = daemon.stop(signum)
    output += drain(daemon.lines)
    stdout = [line for source, line in output if source == "stdout"]
    stderr = [line for source, line in output if source == "stderr"]
    assert code == 0, output
    assert any("数据库为空，导入示例计划" in line for line in stdout), stdout
    assert any(line.startswith("下一次提醒：20") for line in stdout), stdout
    assert any(line.startswith("督办看板：http://127.0.0.1:") for line in stdout), stdout
    assert any("按 Ctrl+C 停止" in line for line in stdout), stdout
    assert any(f"received {signum.name}, stopping" in line for line in stderr), stderr
    assert stderr[-1].endswith("duban.daemon: duban stopped"), stderr
    assert not any("Traceback" in line for line in stderr), stderr


def test_sighup_applies_the_unit_directory_again_and_logs_what_changed(tmp_path: Path) -> None:
    units = tmp_path / "units.toml"
    units.write_text('[units."市发改委"]\n', encoding="utf-8")
    env = environment(
        f"sqlite:///{tmp_path / 'duban.db'}",
        PYTHONUNBUFFERED="1",
        PYTHONUTF8="1",
        DUBAN_DIRECTORY__PATH=str(units),
        DUBAN_WEB__ENABLED="false",
    )
    with running(["run"], env) as daemon:
        daemon.wait_for("duban is running", timeout=30)
        units.write_text('[units."市发改委"]\nchannel = "console"\n', encoding="utf-8")
        daemon.process.send_signal(signal.SIGHUP)
        output = daemon.wait_for("渠道：新增 console", timeout=15)
        code = daemon.stop(signal.SIGTERM)
    logged = [line for _, line in output]
    assert code == 0
    assert any("单位名录已应用：新列入 0 个，变化 1 处" in line for line in logged), logged
    assert any(line.endswith("单位「市发改委」渠道：新增 console") for line in logged), logged
