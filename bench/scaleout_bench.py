"""Scale-out benchmark: dispatch throughput of one `duban run` daemon against two, on
PostgreSQL.

Run: `.venv/bin/python bench/scaleout_bench.py [--messages N] [--webhooks N] [--rounds N]`.
Prints figures; it is a benchmark, not a test, and never fails on time.

N messages (default 10,000) to W generic webhook robots (default 1,000) of
`tests.support.emulator.PlatformEmulator`, in a child process, answering after 50 ms. On a temporary
PostgreSQL database ($DUBAN_TEST_POSTGRES_URL, default the local `test` database's server),
real `duban run` daemons with the shipped settings (32 workers, batches of 500) and a
dispatch every second are started and ready first; then the messages are queued in one
transaction, and the clock runs from that commit until every row is `sent`. Each daemon
runs every job, as in production; they share the work through the database only (SKIP
LOCKED claims, row-locked budgets). The same database, robots and settings serve one daemon,
then two.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import cast

from pgtemp import postgres_url
from sqlalchemy import Engine, delete

from bot.delivery.outbox import BATCH
from bot.store import database
from bot.store.models import AuditEvent, Message, RateBucket

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # the emulator and the daemon helpers live with the tests
from tests.support.daemons import (  # noqa: E402
    SECRET,
    Daemon,
    add_plan,
    metric,
    queue,
    states,
    table,
    write_setup,
)
from tests.support.emulator import PlatformEmulator  # noqa: E402
from tests.support.processes import environment  # noqa: E402

LATENCY = 0.05  # a platform's round trip
WORKERS = 32  # the shipped [delivery] workers
TIMEOUT = 10.0  # the shipped channel timeout
LIMIT = 600.0  # seconds a run may take before it is reported unfinished


# --- the platforms, in a child process ------------------------------------------------------


def serve_emulator(conn: Connection, latency: float) -> None:
    """A child process's loop: registers webhook robots and reports what was accepted."""
    with PlatformEmulator(latency=latency) as emu:
        conn.send(emu.base_url)
        while True:
            command, names = conn.recv()
            if command == "add":
                conn.send([emu.add_webhook(name, SECRET) for name in names])
            elif command == "accepted":
                times = sorted(r.at for r in emu.accepted())
                conn.send((len(times), times[0] if times else 0.0, times[-1] if times else 0.0))
                emu.clear()
            else:
                return


class Platforms:
    def __init__(self, latency: float) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child_end = context.Pipe()
        self._child = context.Process(target=serve_emulator, args=(child_end, latency), daemon=True)
        self._child.start()
        self._conn.recv()  # the base URL: the server is up

    def add_webhooks(self, names: list[str]) -> list[str]:
        self._conn.send(("add", names))
        return cast(list[str], self._conn.recv())

    def accepted(self) -> tuple[int, float, float]:
        """How many requests were accepted since the last call, the first's and last's time."""
        self._conn.send(("accepted", []))
        return cast(tuple[int, float, float], self._conn.recv())

    def close(self) -> None:
        self._conn.send(("stop", []))
        self._child.join(timeout=10)


# --- the database ------------------------------------------------------------------------


def empty_outbox(engine: Engine) -> None:
    with engine.begin() as conn:
        for model in (AuditEvent, RateBucket, Message):
            conn.execute(delete(table(model)))


def cpu_seconds(daemon: Daemon) -> float:
    """User and system CPU of a daemon's process so far (Linux /proc; 0 elsewhere)."""
    assert daemon.process is not None
    try:
        fields = Path(f"/proc/{daemon.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- one run -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    daemons: int
    messages: int
    seconds: float  # from the queue's commit until every row was sent
    sent: int
    accepted: int
    span: float  # the platforms' first to last acceptance
    shares: list[float]  # requests answered 2xx per daemon
    cpu: list[float]  # CPU seconds per daemon during the run

    @property
    def rate(self) -> float:
        return self.sent / self.seconds

    def line(self) -> str:
        cpu = sum(self.cpu)
        return (
            f"{self.daemons} daemon{'s' if self.daemons > 1 else ''}: "
            f"{self.sent:,}/{self.messages:,} sent in {self.seconds:6.2f} s = "
            f"{self.rate:5.0f} messages/s; the platforms accepted {self.accepted:,} (first "
            f"to last {self.span:.2f} s: {self.accepted / max(self.span, 1e-9):.0f}/s); per daemon "
            f"{', '.join(f'{n:,.0f}' for n in self.shares)} sent; daemons' CPU "
            f"{cpu:.1f} s ({cpu / max(self.sent, 1) * 1e3:.2f} ms per message)"
        )


def measure(
    engine: Engine,
    env: dict[str, str],
    folder: Path,
    platforms: Platforms,
    daemons: int,
    messages: int,
    webhooks: int,
) -> Run:
    empty_outbox(engine)
    platforms.accepted()  # forget earlier runs
    started = [Daemon(f"{daemons}-{i}", env, folder) for i in range(daemons)]
    try:
        for daemon in started:
            daemon.start()
        for daemon in started:
            daemon.wait_ready(timeout=120)
        before = [cpu_seconds(d) for d in started]
        queue(engine, 0, messages, webhooks)
        start = time.perf_counter()
        deadline = start + LIMIT
        sent = 0
        while time.perf_counter() < deadline:
            sent = states(engine)["sent"]
            if sent >= messages:
                break
            time.sleep(0.05)
        seconds = time.perf_counter() - start
        cpu = [cpu_seconds(d) - b for d, b in zip(started, before, strict=True)]
        shares = [metric(d.metrics(), "duban_send_seconds_count", outcome="sent") for d in started]
    finally:
        for daemon in started:
            if daemon.alive():
                daemon.stop()
    accepted, first, last = platforms.accepted()
    return Run(daemons, messages, seconds, sent, accepted, last - first, shares, cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--webhooks", type=int, default=1_000)
    parser.add_argument("--rounds", type=int, default=1, help="runs of each daemon count")
    args = parser.parse_args()
    print(
        f"Scale-out: {args.messages:,} messages to {args.webhooks:,} webhook robots answering "
        f"after {LATENCY * 1e3:.0f} ms (emulator in a child process); `duban run` daemons "
        f"with {WORKERS} workers, batches of {BATCH}, dispatch every second, on a temporary "
        f"PostgreSQL database; {os.cpu_count()} CPUs"
    )
    platforms = Platforms(LATENCY)
    try:
        with postgres_url() as url, tempfile.TemporaryDirectory(prefix="duban-bench-") as tmp:
            if url is None:
                return
            folder = Path(tmp)
            names = [f"scale{i}" for i in range(args.webhooks)]
            robots = platforms.add_webhooks(names)
            urls = {f"w{i}": robot for i, robot in enumerate(robots)}
            config = write_setup(folder, urls, timeout=TIMEOUT, workers=WORKERS)
            env = environment(url, config)
            engine = database.make_engine(url)
            add_plan(engine)
            best: dict[int, Run] = {}
            for _ in range(args.rounds):
                for daemons in (1, 2):
                    result = measure(
                        engine, env, folder, platforms, daemons, args.messages, args.webhooks
                    )
                    print(f"   {result.line()}")
                    if daemons not in best or result.rate > best[daemons].rate:
                        best[daemons] = result
            engine.dispose()
            one, two = best[1], best[2]
            print(
                f"   → one daemon {one.rate:.0f} messages/s, two daemons {two.rate:.0f} "
                f"messages/s: {two.rate / one.rate:.2f}× (best of {args.rounds})"
            )
    finally:
        platforms.close()


if __name__ == "__main__":
    main()
