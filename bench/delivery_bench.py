"""Delivery benchmarks: dispatcher throughput, the real rate limits, one message per window.

Run: `make bench` (or `.venv/bin/python bench/delivery_bench.py [--messages N]
[--webhooks N] [--skip-postgres] [--emulator-in-process]`). Prints figures with the targets
and the comparison ratio beside them; it is a benchmark, not a test, and never fails on time.

1. Throughput with the limits off: N queued messages (Core INSERT) to distinct WeCom robots
   of `tests.support.emulator.PlatformEmulator` answering after 50 ms, sent by
   `Dispatcher.dispatch_all` on SQLite and on a temporary PostgreSQL database, workers
   doubled from 32 while the rate rises; compared with a plain sequential httpx loop, an
   asyncio httpx script with 32 in flight and Apprise (`apprise_rate`). The
   emulator runs in a child process (`--emulator-in-process`: in this one), so the
   platform's CPU does not count as duban's: the dispatcher is one Python process, and on
   a small machine an in-process server takes its share of the same interpreter lock.
2. The real limits: a burst to 20 WeCom robots, the emulator's clock the dispatcher's `now`,
   advanced a second at a time until everything is sent.
3. The sample's year (`bot.simulate`): messages per recipient per day's send window.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import multiprocessing
import re
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from types import TracebackType
from typing import Any, cast
from zoneinfo import ZoneInfo

import httpx
from pgtemp import postgres_engine
from sqlalchemy import Engine, Table, delete, func, insert, select

from bot.app.config import ChannelSettings
from bot.app.runtime import Runtime, make_channel
from bot.delivery.outbox import BATCH, Dispatcher
from bot.domain.calendar import WorkCalendar
from bot.domain.rules import default_rules
from bot.engine.simulate import simulate
from bot.intake.directory import load_directory
from bot.intake.importing import import_file
from bot.platforms import CaptureChannel, Channel
from bot.platforms.http import ClientPerWorker
from bot.platforms.pooled import PooledClient
from bot.store import database
from bot.store.models import AuditEvent, Base, Message, RateBucket

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # the emulator lives with the tests, outside the package
from tests.support.emulator import PlatformEmulator, VirtualClock  # noqa: E402

SAMPLE = ROOT / "examples" / "zhoushan-2020-key-tasks.txt"
UNITS = ROOT / "examples" / "zhoushan-units.toml"
TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2020, 9, 7, 9, 0, tzinfo=TZ).astimezone(UTC)
LATENCY = 0.05  # a platform's round trip
FIRST_WORKERS, MAX_WORKERS = 32, 256
SEQUENTIAL_SAMPLE = 100
ASYNC_IN_FLIGHT = 32
BURST_WEBHOOKS, BURST_PER_WEBHOOK = 20, 100
WECOM_PER_MINUTE = 20
RATE_LIMITED = 45009
PART = re.compile(r"（\d+/\d+）$")


def http_client(workers: int, client: str = "") -> httpx.Client:
    """The client `bot.app.runtime.build_runtime` makes for the daemon's channels (robots'
    posts through urllib3's pool); `client`: "per-worker", httpx with a client per worker
    (until 2026-12-06), "shared", the one httpx pool of 64 connections before that."""
    if client == "shared":
        return httpx.Client(limits=httpx.Limits(max_connections=64))
    if client == "per-worker":
        return ClientPerWorker()
    return PooledClient(workers)


def wecom_channel(name: str, url: str, http: httpx.Client) -> Channel:
    settings = ChannelSettings(platform="wecom", webhook=url, msgtype="text")
    return make_channel(name, settings, http)


# --- the platforms: the emulator here or in a child process ---------------------------


def serve_emulator(conn: Connection, latency: float) -> None:
    """A child process's loop: registers robots and counts what was accepted, on request."""
    with PlatformEmulator(latency=latency) as emu:
        conn.send(emu.base_url)
        while True:
            command, keys = conn.recv()
            if command == "add":
                conn.send([emu.add_wecom(key) for key in keys])
            elif command == "accepted":
                conn.send(len(emu.accepted()))
            else:
                return


class Platforms:
    """WeCom robots answering after `latency` seconds, in a child process or in this one."""

    def __init__(self, latency: float, *, in_process: bool) -> None:
        self._local: PlatformEmulator | None = None
        self._conn: Connection | None = None
        self._child: Any = None
        if in_process:
            self._local = PlatformEmulator(latency=latency)
            self._local.start()
            return
        context = multiprocessing.get_context("spawn")
        self._conn, child_end = context.Pipe()
        self._child = context.Process(target=serve_emulator, args=(child_end, latency), daemon=True)
        self._child.start()
        self._conn.recv()  # the base URL: the server is up

    def add_wecom(self, keys: list[str]) -> list[str]:
        if self._local is not None:
            return [self._local.add_wecom(key) for key in keys]
        assert self._conn is not None
        self._conn.send(("add", keys))
        return cast(list[str], self._conn.recv())

    def accepted(self) -> int:
        if self._local is not None:
            return len(self._local.accepted())
        assert self._conn is not None
        self._conn.send(("accepted", []))
        return cast(int, self._conn.recv())

    def close(self) -> None:
        if self._local is not None:
            self._local.close()
        if self._conn is not None:
            self._conn.send(("stop", []))
            self._child.join(timeout=10)

    def __enter__(self) -> Platforms:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


# --- databases ---------------------------------------------------------------------------


@contextmanager
def sqlite_engine(folder: Path, name: str) -> Iterator[Engine]:
    engine = database.make_engine(f"sqlite:///{folder / name}")
    database.upgrade(engine)
    try:
        yield engine
    finally:
        engine.dispose()


def table(model: type[Base]) -> Table:
    return cast(Table, model.__table__)


def queue(engine: Engine, count: int, webhooks: int, now: datetime = NOW) -> None:
    """An empty outbox, then `count` pending messages dealt round-robin to w0, w1, …"""
    rows: list[dict[str, Any]] = [
        {
            "recipient_kind": "unit",
            "recipient_id": None,
            "recipient_name": f"市第{i % webhooks}局",
            "channel": f"w{i % webhooks}",
            "kind": "urge",
            "state": "pending",
            "not_before": now,
            "items": [],
            "mentions": {},
            "text": f"【催办通知】市第{i % webhooks}局：\n第{i}项工作今日到期，请报送进展。",
            "attempts": 0,
            "simulated": False,
            "part": 1,
            "parts": 1,
            "created_at": now,
        }
        for i in range(count)
    ]
    with engine.begin() as conn:
        for model in (AuditEvent, RateBucket, Message):
            conn.execute(delete(table(model)))
        conn.execute(insert(table(Message)), rows)


def states(engine: Engine) -> Counter[str]:
    with engine.connect() as conn:
        rows = conn.execute(select(Message.state, func.count()).group_by(Message.state))
        return Counter({state: count for state, count in rows})


def first_error(engine: Engine) -> str:
    with engine.connect() as conn:
        query = select(Message.last_error).where(Message.last_error.is_not(None)).limit(1)
        return conn.scalar(query) or "—"


# --- 1. throughput with the limits off ---------------------------------------------------


@dataclass(frozen=True)
class Run:
    label: str
    workers: int
    messages: int
    seconds: float
    cpu: float  # this process's CPU seconds (every thread)
    sent: int
    accepted: int

    @property
    def rate(self) -> float:
        return self.sent / self.seconds

    @property
    def cpu_per_message(self) -> float:
        """Milliseconds of this process's CPU per message sent."""
        return self.cpu / max(self.sent, 1) * 1e3

    def line(self) -> str:
        per = self.cpu_per_message
        return (
            f"{self.label}: {self.sent:,}/{self.messages:,} sent in {self.seconds:6.2f} s  "
            f"{self.rate:6.0f} messages/s  (workers {self.workers}; CPU {per:.2f} ms per "
            f"message, {self.cpu / self.seconds:.2f} of a core)"
        )


class Throughput:
    """Runs the dispatcher against fresh robots each time (the emulator keeps each key's
    rolling minute, so reused keys would reach WeCom's 20 a minute over several runs)."""

    def __init__(self, platforms: Platforms, webhooks: int) -> None:
        self.platforms, self.webhooks = platforms, webhooks
        self.runs = 0

    def robots(self) -> list[str]:
        self.runs += 1
        keys = [f"r{self.runs}k{i}" for i in range(self.webhooks)]
        return self.platforms.add_wecom(keys)

    def run(
        self,
        engine: Engine,
        label: str,
        messages: int,
        workers: int,
        *,
        budget: bool = True,
        limit: int = BATCH,
        client: str = "",
    ) -> Run:
        queue(engine, messages, self.webhooks)
        urls = self.robots()
        before = self.platforms.accepted()
        with http_client(workers, client) as http:
            channels = {f"w{i}": wecom_channel(f"w{i}", url, http) for i, url in enumerate(urls)}
            # "webhook" has no entry in PLATFORM_LIMITS: the budget transaction runs and never
            # blocks. Unset, the dispatcher takes the channels for local ones and skips it.
            platforms = dict.fromkeys(channels, "webhook") if budget else {}
            dispatcher = Dispatcher(
                database.session_factory(engine),
                lambda name: channels[name or "w0"],
                platforms,
                workers=workers,
            )
            start, cpu = time.perf_counter(), time.process_time()
            dispatcher.dispatch_all(NOW, limit=limit)
            seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        outcome = states(engine)
        run = Run(
            label,
            workers,
            messages,
            seconds,
            cpu,
            outcome["sent"],
            self.platforms.accepted() - before,
        )
        print(f"   {run.line()}")
        if run.sent < messages:
            print(f"      not all sent: {dict(outcome)}; e.g. {first_error(engine)}")
        return run


def sequential_rate(platforms: Platforms, webhooks: int, sample: int) -> float:
    """Requests per second of a plain httpx loop posting the same bodies one after another."""
    urls = platforms.add_wecom([f"seq{i}" for i in range(min(sample, webhooks))])
    bodies = [
        json.dumps(
            {"msgtype": "text", "text": {"content": f"【催办通知】市第{i}局：\n第{i}项工作。"}},
            ensure_ascii=False,
        ).encode()
        for i in range(sample)
    ]
    headers = {"Content-Type": "application/json; charset=utf-8"}
    with httpx.Client() as http:
        start = time.perf_counter()
        for i, body in enumerate(bodies):
            http.post(urls[i % len(urls)], content=body, headers=headers).raise_for_status()
        seconds = time.perf_counter() - start
    return sample / seconds


def asyncio_rate(platforms: Platforms, webhooks: int, messages: int, in_flight: int) -> float:
    """Requests per second of an asyncio script: one httpx.AsyncClient, `in_flight` POSTs
    at a time, the same bodies to fresh robots (what a hand-written sender would do)."""
    urls = platforms.add_wecom([f"async{i}" for i in range(webhooks)])
    bodies = [
        json.dumps(
            {"msgtype": "text", "text": {"content": f"【催办通知】市第{i}局：\n第{i}项工作。"}},
            ensure_ascii=False,
        ).encode()
        for i in range(messages)
    ]
    headers = {"Content-Type": "application/json; charset=utf-8"}

    async def send_all() -> float:
        limits = httpx.Limits(max_connections=in_flight)
        async with httpx.AsyncClient(limits=limits) as http:
            gate = asyncio.Semaphore(in_flight)

            async def one(i: int) -> None:
                async with gate:
                    answer = await http.post(
                        urls[i % len(urls)], content=bodies[i], headers=headers
                    )
                    answer.raise_for_status()

            start = time.perf_counter()
            await asyncio.gather(*(one(i) for i in range(messages)))
            return time.perf_counter() - start

    return messages / asyncio.run(send_all())


def apprise_rate(
    platforms: Platforms, webhooks: int, messages: int, in_flight: int
) -> float | None:
    """Messages per second through Apprise (`pip install apprise`; None without it), the
    notification library a hand-made sender would reach for: its WeCom bot plugin
    (`wecombot://KEY`, pointed at the emulator through the plugin's `notify_url`), one
    `Apprise` per robot, each message one `notify` call, `in_flight` threads calling it,
    Apprise's own wait between posts to a robot off."""
    try:
        import apprise
        from apprise.plugins.wecombot import NotifyWeComBot
    except ImportError:
        return None
    logging.getLogger("apprise").setLevel(logging.ERROR)
    keys = [f"apprise{i}" for i in range(webhooks)]
    urls = platforms.add_wecom(keys)
    NotifyWeComBot.notify_url = urls[0].replace(keys[0], "{key}")
    # Apprise waits 5.5 s between two posts to one robot (`request_rate_per_sec`, its own
    # rate limit): 5 messages a robot would take 22 s whatever the sender. Off, as for duban
    # with its budget off: this compares sending, not waiting.
    NotifyWeComBot.request_rate_per_sec = 0
    senders = []
    for key in keys:
        sender = apprise.Apprise()
        sender.add(f"wecombot://{key}")
        senders.append(sender)
    bodies = [f"【催办通知】市第{i}局：\n第{i}项工作。" for i in range(messages)]

    def one(i: int) -> bool:
        return bool(senders[i % len(senders)].notify(body=bodies[i]))

    with ThreadPoolExecutor(in_flight) as pool:
        start = time.perf_counter()
        sent = sum(pool.map(one, range(messages)))
        seconds = time.perf_counter() - start
    if sent < messages:
        print(f"      Apprise: {messages - sent:,} of {messages:,} not accepted")
    return sent / seconds


def sweep_workers(bench: Throughput, engine: Engine, backend: str, messages: int) -> Run:
    """Workers from 32, doubled while the rate still rises; the best run."""
    best: Run | None = None
    workers = FIRST_WORKERS
    while workers <= MAX_WORKERS:
        run = bench.run(engine, f"{backend}, budget on", messages, workers)
        if best is not None and run.rate <= best.rate:
            break
        best = run
        workers *= 2
    assert best is not None
    return best


def bench_throughput(args: argparse.Namespace, platforms: Platforms) -> None:
    messages, webhooks = args.messages, args.webhooks
    where = "in this process" if args.emulator_in_process else "in a child process"
    print(
        f"1. {messages:,} messages to {webhooks:,} WeCom robots, limits off, emulator "
        f"{where} answering after {LATENCY * 1e3:.0f} ms; dispatch_all() (batches of "
        f"{BATCH:,}, as the daemon's), "
        f"robots' posts through urllib3 (PooledClient) as build_runtime makes it"
    )
    sequential = sequential_rate(platforms, webhooks, SEQUENTIAL_SAMPLE)
    print(
        f"   plain sequential httpx loop: {SEQUENTIAL_SAMPLE} POSTs at {sequential:.1f}/s, "
        f"so {messages:,} POSTs ≈ {messages / sequential:,.0f} s"
    )
    script = asyncio_rate(platforms, webhooks, messages, ASYNC_IN_FLIGHT)
    print(
        f"   asyncio script (httpx.AsyncClient, {ASYNC_IN_FLIGHT} in flight): {messages:,} POSTs "
        f"at {script:.0f}/s"
    )
    alternative = apprise_rate(platforms, webhooks, messages, ASYNC_IN_FLIGHT)
    if alternative is None:
        print("   Apprise: not installed (pip install apprise), not compared")
    else:
        print(
            f"   Apprise (wecombot://, {ASYNC_IN_FLIGHT} threads calling notify, its 5.5 s wait "
            f"between posts to a robot off): {messages:,} "
            f"messages at {alternative:.0f}/s"
        )
    bench = Throughput(platforms, webhooks)
    with (
        tempfile.TemporaryDirectory(prefix="duban-bench-") as tmp,
        sqlite_engine(Path(tmp), "throughput.db") as engine,
    ):
        best = sweep_workers(bench, engine, "SQLite", messages)
        report(best, sequential, messages)
        print(
            f"   → {best.rate / script:.2f}× the asyncio script   "
            f"(target ≥ 1.0× {mark(best.rate >= script)}; ≥ 800/s {mark(best.rate >= 800)})"
        )
        if alternative is not None:
            print(f"   → {best.rate / alternative:.2f}× Apprise")
        httpx_run = bench.run(
            engine,
            "SQLite, httpx client per worker (before)",
            messages,
            best.workers,
            client="per-worker",
        )
        print(
            f"   → robots' posts through urllib3: {best.rate / httpx_run.rate:.2f}× httpx's "
            f"client per worker; CPU {best.cpu_per_message:.2f} against "
            f"{httpx_run.cpu_per_message:.2f} ms per message"
        )
        bench.run(engine, "SQLite, no budget", messages, best.workers, budget=False)
    if args.skip_postgres:
        return
    with postgres_engine() as pg:
        if pg is None:
            return
        best = sweep_workers(bench, pg, "PostgreSQL", messages)
        report(best, sequential, messages)
        bench.run(pg, "PostgreSQL, no budget", messages, best.workers, budget=False)


def mark(ok: bool) -> str:
    return "✓" if ok else "✗"


def report(best: Run, sequential: float, messages: int) -> None:
    ceiling = best.workers / LATENCY
    ratio = best.rate / sequential
    print(
        f"   → best {best.rate:.0f} messages/s with {best.workers} workers (at most "
        f"{ceiling:,.0f}/s: workers / latency)   (target ≥ 500/s {mark(best.rate >= 500)})   "
        f"ratio {ratio:.1f}× the sequential loop ({messages / best.rate:.1f} s against "
        f"{messages / sequential:,.0f} s)   (target ≥ 10× {mark(ratio >= 10)})"
    )


# --- 2. the real limits ------------------------------------------------------------------


def bench_limits(folder: Path) -> None:
    count = BURST_WEBHOOKS * BURST_PER_WEBHOOK
    clock = VirtualClock(NOW.timestamp())
    with (
        sqlite_engine(folder, "limits.db") as engine,
        PlatformEmulator(clock=clock) as emu,
        http_client(32) as http,
    ):
        keys = [f"k{i}" for i in range(BURST_WEBHOOKS)]
        channels = {
            f"w{i}": wecom_channel(f"w{i}", emu.add_wecom(k), http) for i, k in enumerate(keys)
        }
        dispatcher = Dispatcher(
            database.session_factory(engine),
            lambda name: channels[name or "w0"],
            dict.fromkeys(channels, "wecom"),
            workers=32,
        )
        queue(engine, count, BURST_WEBHOOKS)
        now, steps, start = NOW, 0, time.perf_counter()
        while states(engine)["sent"] < count and now - NOW < timedelta(hours=1):
            clock.set(now.timestamp())
            dispatcher.dispatch_all(now)
            now, steps = now + timedelta(seconds=1), steps + 1
        seconds = time.perf_counter() - start
        received = emu.received
        limited = sum(1 for r in received if r.answer.get("errcode") == RATE_LIMITED)
        accepted = [r.at for r in received if r.accepted]
        span = max(accepted) - min(accepted) if accepted else 0.0
        peak = max(emu.max_in_window(key, 60, "wecom") for key in keys)
        sent = states(engine)["sent"]
    print(
        f"2. {count:,} messages to {BURST_WEBHOOKS} WeCom robots "
        f"({BURST_PER_WEBHOOK} each), real limits, dispatch_all every simulated second: "
        f"{sent:,} sent, {len(accepted):,} accepted"
    )
    print(
        f"   rate-limit answers (errcode {RATE_LIMITED}): {limited}   "
        f"(target 0 {mark(limited == 0)})"
    )
    print(
        f"   simulated time from the first send to the last: {span:.0f} s "
        f"({span / 60:.1f} min; {steps} dispatch rounds, {seconds:.1f} s of real time)   "
        f"(≈ {BURST_PER_WEBHOOK} / {WECOM_PER_MINUTE} a minute: sends in minutes 0–"
        f"{BURST_PER_WEBHOOK // WECOM_PER_MINUTE - 1})"
    )
    print(
        f"   most messages to one robot in any rolling minute: {peak}   "
        f"(target ≤ {WECOM_PER_MINUTE} {mark(peak <= WECOM_PER_MINUTE)})"
    )


# --- 3. the sample's year ----------------------------------------------------------------


def per_window(timeline: list[dict[str, Any]]) -> Counter[tuple[str, str]]:
    """Messages per (recipient, day); the parts of one split bundle count once."""
    sends: set[tuple[str, str, str]] = set()
    counts: Counter[tuple[str, str]] = Counter()
    for entry in timeline:
        if entry["kind"] == "reply":
            continue
        name, at = entry["to"]["name"], entry["at"]
        title = entry["text"].partition("\n")[0]
        if PART.search(title):
            if (name, at, "part") in sends:
                continue
            sends.add((name, at, "part"))
        counts[(name, at[:10])] += 1
    return counts


def bench_simulation(folder: Path) -> None:
    with sqlite_engine(folder, "sample.db") as engine:
        sessions = database.session_factory(database.writer(engine))
        directory = load_directory(UNITS)
        created = datetime(2020, 1, 1, tzinfo=UTC)
        import_file(sessions, SAMPLE, directory, timezone="Asia/Shanghai", now=created)
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
    counts = per_window(timeline)
    worst = max(counts.values(), default=0)
    over = sorted(key for key, n in counts.items() if n > 1)
    print(
        f"3. the sample's 2020 ({len(timeline):,} timeline entries, {seconds:.1f} s): "
        f"at most {worst} message(s) per recipient per day's send window over "
        f"{len(counts):,} (recipient, day) pairs   (target 1 {mark(worst <= 1)})"
    )
    for name, day in over[:5]:
        kinds = [e["kind"] for e in timeline if e["to"]["name"] == name and e["at"][:10] == day]
        print(f"   {name} on {day}: {counts[(name, day)]} messages ({', '.join(kinds)})")
    if len(over) > 5:
        print(f"   … {len(over) - 5} more (recipient, day) pairs over 1")


# --- main --------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--webhooks", type=int, default=1_000)
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument(
        "--emulator-in-process",
        action="store_true",
        help="serve benchmark 1's robots from this process (shares its interpreter lock)",
    )
    args = parser.parse_args()
    with Platforms(LATENCY, in_process=args.emulator_in_process) as platforms:
        bench_throughput(args, platforms)
    with tempfile.TemporaryDirectory(prefix="duban-bench-") as tmp:
        bench_limits(Path(tmp))
        bench_simulation(Path(tmp))


if __name__ == "__main__":
    main()
