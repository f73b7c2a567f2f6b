"""Production: several `duban run` daemons on one PostgreSQL, and what goes wrong around them.

Real processes, a real PostgreSQL on 127.0.0.1 and the platform emulator (tests/support/emulator.py)
serving generic webhook robots from this process. Every message carries a marker (#M00042#),
so the emulator's log tells which arrived and how often.

1. A busy period: two daemons, each running every job, share thousands of messages that
   arrive in waves; each one arrives exactly once, and both daemons took part.
2. Chaos: one daemon SIGKILLed again and again while it dispatches, PostgreSQL stopped and
   started once under both, 30% of requests failing (HTTP 500/502, requests that hang past
   the channel's timeout, dropped connections, HTTP 429 with Retry-After). Nothing is lost,
   and a kill repeats at most one message a worker: with `[delivery] workers = 1`, at most
   one per kill, and no other repeat. The run with 16 workers also has slow answers the
   platform took, which the sender, timed out, sends again: the one repeat no sender can
   avoid without an idempotency key, which the robots do not take.

Chaos runs on a PostgreSQL server of the test's own (initdb in a temporary folder, on a
free port), so that stopping it disturbs nobody else's database. The daemons use the real
clock, and two of the outbox's waits are minutes long: a failed message's backoff
(RETRY_AFTER x 2^attempts) and a killed daemon's lease (LEASE). The test plays those
minutes forward in the database rather than waiting: failed rows are made due again every
half second while the chaos lasts (the backoff), and once every daemon has stopped, the
rows the killed ones left `sending` get their lease expired. Rate-limit answers carry
`Retry-After: 1`, which the daemons honour as it is. The emulator fails each message at most
twice (so none runs out of its attempts and goes `dead`), and the platforms recover when the
kills end; two fresh daemons then send what is left.
"""

from __future__ import annotations

import os
import pwd
import random
import re
import shutil
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy import Engine, func, select, text, update
from sqlalchemy.exc import OperationalError, ProgrammingError, SQLAlchemyError

from bot.store import database
from bot.store.database import retry_while_unreachable
from bot.store.models import Message, RateBucket
from tests.support.daemons import (
    SECRET,
    WAIT,
    WORKERS,
    Daemon,
    add_plan,
    cleanup,
    marker,
    metric,
    queue,
    states,
    table,
    write_setup,
)
from tests.support.emulator import FAULT_KINDS, FaultKind, PlatformEmulator, Received
from tests.support.processes import environment, free_port

pytestmark = pytest.mark.slow  # real daemons on a real PostgreSQL, for a minute and more

MARKER = re.compile(r"#M\d{5}#")
MARKER_BYTES = re.compile(rb"#M\d{5}#")


# --- waiting, and counting what arrived ----------------------------------------------------


def unfinished(counts: Counter[str]) -> int:
    return counts["pending"] + counts["sending"] + counts["failed"]


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with suppress(SQLAlchemyError, httpx.HTTPError):
            if check():
                return
        time.sleep(0.1)
    pytest.fail(f"{what}: not within {timeout:.0f} s")


def received_once_each(emu: PlatformEmulator, expected: list[str]) -> tuple[set[str], int]:
    """The markers that never arrived, and the deliveries beyond one per marker."""
    counts = emu.tally(MARKER)
    missing = set(expected) - set(counts)
    return missing, sum(counts.values()) - len(counts)


# --- 1. two daemons, one busy period --------------------------------------------------------

BUSY_CHANNELS = 60
BUSY_WAVES = (1_500, 750, 750)  # messages arriving at one-second intervals


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_two_daemons_share_a_busy_period_and_send_each_message_once(
    db_url: str, engine: Engine, tmp_path: Path
) -> None:
    total = sum(BUSY_WAVES)
    with PlatformEmulator(latency=0.02) as emu:
        urls = {f"w{i}": emu.add_webhook(f"busy{i}", SECRET) for i in range(BUSY_CHANNELS)}
        env = environment(db_url, write_setup(tmp_path, urls, timeout=5.0))
        add_plan(engine)
        daemons = [Daemon("a", env, tmp_path), Daemon("b", env, tmp_path)]
        with cleanup(daemons):
            for daemon in daemons:
                daemon.start()
            for daemon in daemons:
                assert daemon.wait_ready() == {
                    "status": "ready",
                    "database": "ok",
                    "scheduler": "running",
                }
            expected: list[str] = []
            for wave in BUSY_WAVES:  # the sweep's output of a busy morning, in waves
                expected += queue(engine, len(expected), wave, BUSY_CHANNELS)
                time.sleep(1.0)
            # The outbox as /metrics shows it while the daemons work: sent only grows.
            seen: list[float] = []

            def all_sent() -> bool:
                seen.append(metric(daemons[1].metrics(), "duban_messages", state="sent"))
                return states(engine)["sent"] == total

            wait_until(all_sent, WAIT, f"{total} messages sent")
            final = [daemon.metrics() for daemon in daemons]
            for daemon in daemons:
                assert daemon.stop() == 0, daemon.tail()

        missing, duplicates = received_once_each(emu, expected)
        assert not missing
        assert duplicates == 0
        assert len(emu.received) == total  # no request failed, none was repeated
    assert states(engine) == Counter({"sent": total})
    with engine.connect() as conn:
        assert conn.scalar(select(func.max(Message.attempts))) == 1
    assert seen == sorted(seen)
    assert metric(final[0], "duban_messages", state="sent", platform="webhook") == total
    # Each daemon counts its own requests: both took part, and together they sent each once.
    per_daemon = [metric(m, "duban_send_seconds_count", outcome="sent") for m in final]
    assert all(n > 0 for n in per_daemon), per_daemon
    assert sum(per_daemon) == total
    print(f"\nbusy period: {total} messages, sent by the daemons {per_daemon}")


# --- 2. chaos ------------------------------------------------------------------------------


def postgres_bindir() -> Path | None:
    """Where initdb and pg_ctl are: on the PATH, or in Debian's versioned folder."""
    found = shutil.which("initdb")
    if found is not None and shutil.which("pg_ctl") is not None:
        return Path(found).resolve().parent
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda path: int(path.parent.parent.name) if path.parent.parent.name.isdigit() else 0,
    )
    return versions[-1].parent if versions else None


class ScratchPostgres:
    """A PostgreSQL server of the test's own on 127.0.0.1 that it may stop and start. Run as
    the `postgres` account when the test runs as root (the server refuses root)."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="duban-pg-"))
        self.data = self.folder / "data"
        self.user: str | None = None
        if os.geteuid() == 0:
            account = pwd.getpwnam("postgres")
            os.chown(self.folder, account.pw_uid, account.pw_gid)
            self.user = "postgres"
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/duban"

    def _run(self, *args: str) -> None:
        command = [str(self.bindir / args[0]), *args[1:]]
        if self.user is not None:
            command = ["runuser", "-u", self.user, "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=WAIT)

    def init(self) -> None:
        self._run(
            "initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
            "--no-sync", "--no-instructions",
        )  # fmt: skip
        self.start()
        admin = database.make_engine(self.url.replace("/duban", "/postgres"))
        with admin.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(
                text("CREATE DATABASE duban")
            )
        admin.dispose()

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c max_connections=200"
        )
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.folder / "server.log"), "-w",
            "-o", options, "start",
        )  # fmt: skip

    def stop(self) -> None:
        """A fast shutdown: open transactions are aborted and every connection is cut."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def close(self) -> None:
        with suppress(subprocess.SubprocessError, OSError):
            self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture
def scratch_postgres() -> Iterator[ScratchPostgres]:
    bindir = postgres_bindir()
    if bindir is None:
        message = "no PostgreSQL server binaries (initdb, pg_ctl) to start a scratch server"
        if os.environ.get("DUBAN_REQUIRE_POSTGRES"):
            pytest.fail(message)
        pytest.skip(message)
    server = ScratchPostgres(bindir)
    try:
        server.init()
        engine = database.make_engine(server.url)
        database.upgrade(engine)
        engine.dispose()
        yield server
    finally:
        server.close()


CHAOS_CHANNELS = 60
CHAOS_SECONDS = 20.0  # kills go on this long (and to the third kill), or until nothing is left
CHAOS_KILLS = 3  # two before the outage, one after it
CHAOS_LIMIT = 120.0  # seconds: a slow machine still reaches its third kill within this
FAULT_RATE = 0.3
CHANNEL_TIMEOUT = 1.0  # seconds; the emulator's slow answers take twice as long
OUTAGE_SECONDS = 2.0
CATCH_UP_SECONDS = 3.0  # after the outage: the longest wait between two tries is 2 s
LATENCY = 0.1
KILL_WINDOW = 3.0  # seconds from a delivery to the kill that can have kept it unrecorded


class Backoff(threading.Thread):
    """Plays the failed messages' backoff forward: every half second each `failed` row is due
    again (nobody holds a failed row, so this races no daemon)."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(name="backoff", daemon=True)
        self.engine = engine
        self.done = threading.Event()
        self.rows = 0

    def run(self) -> None:
        while not self.done.wait(0.5):
            with suppress(SQLAlchemyError), self.engine.begin() as conn:
                result = conn.execute(
                    update(table(Message))
                    .where(Message.state == "failed")
                    .values(not_before=Message.created_at)
                )
                self.rows += result.rowcount

    def stop(self) -> None:
        self.done.set()
        self.join(timeout=WAIT)


def expire_leases(engine: Engine) -> int:
    """With every daemon stopped, the minutes they would wait pass: the rows a killed daemon
    left `sending` come back (lease expired), backoffs and rate-limit pauses end."""
    with engine.begin() as conn:
        stranded = conn.execute(
            update(table(Message))
            .where(Message.state == "sending")
            .values(claimed_until=Message.created_at)
        ).rowcount
        conn.execute(
            update(table(Message))
            .where(Message.state.in_(("pending", "failed")))
            .values(not_before=Message.created_at)
        )
        conn.execute(update(table(RateBucket)).values(paused_until=None))
    return stranded


@dataclass
class Outage:
    started: float = 0.0
    ended: float = 0.0
    readyz_down: dict[str, Any] = field(default_factory=dict)
    readyz_back: dict[str, Any] = field(default_factory=dict)


def postgres_outage(server: ScratchPostgres, observer: Daemon) -> Outage:
    """Stops PostgreSQL under running daemons for OUTAGE_SECONDS, then starts it again."""
    outage = Outage(started=time.monotonic())
    server.stop()

    def unready() -> bool:
        response = observer.get("/readyz")
        outage.readyz_down = {"code": response.status_code, **response.json()}
        return response.status_code == 503

    wait_until(unready, WAIT, "/readyz reports the database down")
    time.sleep(max(0.0, outage.started + OUTAGE_SECONDS - time.monotonic()))
    server.start()
    outage.ended = time.monotonic()
    outage.readyz_back = observer.wait_ready()
    return outage


@dataclass
class Repeats:
    """The deliveries beyond the first of each message, by what explains them."""

    slow: int = 0  # after a slow answer: the platform took it, the sender timed out
    per_kill: Counter[int] = field(default_factory=Counter)  # sent, unrecorded at a kill
    outage: int = 0  # first sent while PostgreSQL was down
    unexplained: int = 0


def repeats(emu: PlatformEmulator, kills: list[float], outage: Outage, offset: float) -> Repeats:
    """Sorts the repeated deliveries: a repeat after a slow answer is expected; any other is
    put on the outage when the message's first delivery fell in it (no kill happens then),
    else on the first kill at most KILL_WINDOW seconds after that delivery; what remains is
    unexplained."""
    found = Repeats()
    first: dict[str, Received] = {}
    extra: Counter[str] = Counter()
    for record in emu.received:
        match = MARKER.search(record.raw.decode("utf-8", "replace"))
        if match is None or not record.accepted:
            continue
        key = match.group()
        if record.fault == "slow":
            found.slow += 1
            first.setdefault(key, record)
        elif key in first and first[key].fault != "slow":
            extra[key] += 1
        else:
            first[key] = record  # the delivery the sender heard of
    for key, count in extra.items():
        at = first[key].at - offset  # the emulator's clock (epoch) on the test's monotonic
        after = [i for i, killed in enumerate(kills) if 0 <= killed - at <= KILL_WINDOW]
        if outage.started - 1.0 <= at <= outage.ended:
            found.outage += count
        elif after:
            found.per_kill[after[0]] += count
        else:
            found.unexplained += count
    return found


# One kill can repeat what the killed daemon had sent and not yet recorded. A worker sends
# nothing more until its last success is recorded, so that is at most one message a worker:
# the shipped 16, and the one of an office that wants at most one repeat per crash. The run
# with 16 also has slow answers the platform took (the sender times out and sends again:
# repeats no sender can avoid); in the run with 1, every fault is a failed request (5xx, a
# hung request's timeout, a dropped connection, a rate-limit answer), so the kills' are the
# only repeats: at most one per kill.
FAILURES = tuple(kind for kind in FAULT_KINDS if kind != "slow")
CHAOS_RUNS = [
    pytest.param(WORKERS, 3_000, FAULT_KINDS, id=f"{WORKERS}-workers"),
    pytest.param(1, 400, FAILURES, id="1-worker"),
]


@pytest.mark.postgres
@pytest.mark.parametrize(("workers", "messages", "kinds"), CHAOS_RUNS)
def test_chaos_kills_a_postgres_restart_and_failing_platforms_lose_nothing(
    scratch_postgres: ScratchPostgres,
    tmp_path: Path,
    workers: int,
    messages: int,
    kinds: tuple[FaultKind, ...],
) -> None:
    """Every message arrives; a kill repeats at most one message a worker."""
    server = scratch_postgres
    engine = database.make_engine(server.url)
    rng = random.Random(20)
    emu = PlatformEmulator(latency=LATENCY, slow_seconds=2 * CHANNEL_TIMEOUT, retry_after=1)
    offset = time.time() - time.monotonic()
    with emu:
        urls = {f"w{i}": emu.add_webhook(f"chaos{i}", SECRET) for i in range(CHAOS_CHANNELS)}
        setup = write_setup(tmp_path, urls, timeout=CHANNEL_TIMEOUT, workers=workers)
        env = environment(server.url, setup)
        add_plan(engine)
        expected = queue(engine, 0, messages, CHAOS_CHANNELS)
        emu.set_fault_rate(FAULT_RATE, kinds, seed=7, marker=MARKER_BYTES, max_per_marker=2)
        observer, victim = Daemon("observer", env, tmp_path), Daemon("victim", env, tmp_path)
        backoff = Backoff(engine)
        kills: list[float] = []
        outage: Outage | None = None
        with cleanup([observer, victim]):
            observer.start()
            victim.start()
            observer.wait_ready()
            backoff.start()
            started = time.monotonic()
            while time.monotonic() - started < (
                CHAOS_SECONDS if len(kills) >= CHAOS_KILLS else CHAOS_LIMIT
            ):
                if len(kills) == 2 and outage is None:
                    victim.wait_ready()  # a daemon cannot start while the database is down
                    outage = postgres_outage(server, observer)
                    # What the daemons sent meanwhile is recorded once the database answers
                    # (within a retry's wait): the kills go on after that, so that a kill's
                    # repeats stay its own.
                    time.sleep(CATCH_UP_SECONDS)
                    continue
                if not victim.wait_dispatching(timeout=10.0):
                    break  # nothing left to send
                time.sleep(rng.uniform(0.0, 0.5))  # anywhere in its dispatch
                victim.kill()
                kills.append(time.monotonic())
                victim.start()
            # The platforms recover. The daemons stop (SIGTERM: running jobs finish), and
            # the minutes of their leases and backoffs pass; then two daemons drain the rest.
            emu.clear_faults()
            backoff.stop()
            during = observer.metrics()
            victim.wait_ready()
            assert observer.stop() == 0, observer.tail()
            assert victim.stop() == 0, victim.tail()
            stranded = expire_leases(engine)
            for daemon in (observer, victim):
                daemon.start()
            wait_until(lambda: unfinished(states(engine)) == 0, WAIT, "the outbox drained")
            after = observer.metrics()
            ready = observer.wait_ready()
            for daemon in (observer, victim):
                assert daemon.stop() == 0, daemon.tail()
            logs = "".join(d.log.read_text(errors="replace") for d in (observer, victim))
    engine.dispose()

    # Hours of failures, kills and an outage logged, and no configured secret among them.
    assert "WARNING" in logs or "ERROR" in logs
    for secret in (SECRET, *urls.values()):
        assert secret not in logs, secret
    missing, duplicates = received_once_each(emu, expected)
    assert outage is not None
    found = repeats(emu, kills, outage, offset)
    faults = Counter(r.fault for r in emu.received if r.fault is not None)
    check = database.make_engine(server.url)
    final = states(check)
    check.dispose()
    print(
        f"\nchaos, workers = {workers}: {messages} messages, {len(kills)} kills, {duplicates} "
        f"repeats, "
        f"{len(emu.received)} requests, faults {dict(faults)}; failed rows made due again "
        f"{backoff.rows}, rows left sending by kills {stranded}; repeats: {found.slow} after "
        f"slow answers, per kill {[found.per_kill[i] for i in range(len(kills))]} (bound "
        f"{workers}), {found.outage} from the outage, {found.unexplained} unexplained; "
        f"/readyz while PostgreSQL was down: {outage.readyz_down}"
    )
    assert len(kills) >= CHAOS_KILLS
    # Nothing lost: every message arrived and every row is sent.
    assert not missing, sorted(missing)[:10]
    assert final == Counter({"sent": messages})
    # Repeats only where a kill or a slow answer explains them, each kill within its bound.
    assert (found.outage, found.unexplained) == (0, 0)
    assert all(n <= workers for n in found.per_kill.values()), found.per_kill
    assert duplicates == found.slow + sum(found.per_kill.values())
    if "slow" not in kinds:  # every fault a failed request: only the kills repeat anything
        assert found.slow == 0
        assert duplicates <= workers * len(kills)
    # Readiness followed the database; the metrics saw the faults and the final state.
    assert outage.readyz_down["code"] == 503
    assert outage.readyz_down["database"].startswith("unreachable")
    assert outage.readyz_down["scheduler"] == "running"
    up = {"status": "ready", "database": "ok", "scheduler": "running"}
    assert outage.readyz_back == ready == up
    assert metric(during, "duban_send_seconds_count", outcome="failed") > 0
    assert metric(during, "duban_rate_limit_pauses_total") > 0
    assert metric(after, "duban_messages", state="sent") == messages
    assert metric(after, "duban_messages", state="sending") == 0


# --- the pieces the chaos relies on ---------------------------------------------------------


def test_a_unit_of_work_is_tried_again_while_the_database_is_unreachable() -> None:
    calls: list[str] = []

    def refused() -> str:
        calls.append("refused")
        if len(calls) < 3:
            cause = psycopg.OperationalError("connection refused")
            raise OperationalError("UPDATE messages", {}, cause)
        return "recorded"

    assert retry_while_unreachable(refused, "testing", seconds=5.0) == "recorded"
    assert len(calls) == 3

    def broken() -> str:
        calls.append("broken")
        raise ProgrammingError("UPDATE messages", {}, psycopg.errors.UndefinedTable())

    with pytest.raises(ProgrammingError):
        retry_while_unreachable(broken, "testing", seconds=5.0)
    assert calls.count("broken") == 1  # the statement's error: raised at once

    def gone() -> str:
        calls.append("gone")
        raise OperationalError("UPDATE messages", {}, psycopg.errors.AdminShutdown())

    started = time.monotonic()
    with pytest.raises(OperationalError):
        retry_while_unreachable(gone, "testing", seconds=0.5)
    assert 0.2 < time.monotonic() - started < 2.0
    assert calls.count("gone") > 1


def test_a_capped_fault_rate_spares_each_message_after_its_faults() -> None:
    with PlatformEmulator() as emu, httpx.Client(timeout=5.0) as http:
        url = emu.add_webhook("capped")
        emu.set_fault_rate(1.0, ["http500"], marker=MARKER_BYTES, max_per_marker=2)
        answers = [http.post(url, json={"text": f"x{marker(1)}"}).status_code for _ in range(4)]
        assert answers == [500, 500, 200, 200]
        assert http.post(url, json={"text": "no marker"}).status_code == 500
        assert http.post(url, json={"text": marker(2)}).status_code == 500
        assert emu.tally(MARKER) == Counter({marker(1): 2})
        failed = emu.tally(MARKER, where=lambda r: r.status == 500)
        assert failed == Counter({marker(1): 2, marker(2): 1})
    with pytest.raises(ValueError, match="max_per_marker"):
        emu.set_fault_rate(0.5, ["http500"], max_per_marker=1)


def test_rate_limit_answers_can_carry_retry_after() -> None:
    with PlatformEmulator(retry_after=1) as emu, httpx.Client(timeout=5.0) as http:
        url = emu.add_webhook("limited")
        emu.fail_next(1, "rate_limit")
        limited = http.post(url, json={"text": "a"})
        assert (limited.status_code, limited.headers.get("Retry-After")) == (429, "1")
        fine = http.post(url, json={"text": "b"})
        assert (fine.status_code, fine.headers.get("Retry-After")) == (200, None)
