"""A burst on the real clock: every robot's rate limit, and the answers it draws.

Run: `.venv/bin/python bench/burst_bench.py [--robots N] [--per-robot N] [--skip-before]`.
A benchmark, not a test: it prints its figures and never fails on time.

N × M pending messages (Core INSERT, dealt round-robin) to N robots of
`tests.support.emulator.PlatformEmulator` — half WeCom (20 a minute per robot, errcode 45009
beyond), half DingTalk (20 a minute, errcode 130101 beyond and a 10-minute block) — in a child
process on the real clock, every answer after 50 ms. A loop like the daemon's dispatch job
calls `Dispatcher.dispatch_all(now)` once a second with the wall clock's `now` and 32 workers
(the shipped `[delivery] workers`) on a SQLite database, until every message is sent or the
time is up. Printed: the rate-limit answers (target 0), the most messages one robot took in
any rolling minute (≤ 20), and the time.

Beside it, in the same run, the same burst with the dispatcher as it was: `clock=None`, every
claim of a run dated with the run's start, and `ratelimit.SEND_MARGIN = 0` (the platform's
own windows), unless `--skip-before`.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Engine, delete, func, insert, select

from bot.app.config import ChannelSettings
from bot.app.runtime import make_channel
from bot.delivery import ratelimit
from bot.delivery.outbox import Dispatcher
from bot.platforms import Channel
from bot.platforms.pooled import PooledClient
from bot.store import database
from bot.store.models import AuditEvent, Message, RateBucket

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # the emulator lives with the tests, outside the package
from tests.support.emulator import PlatformEmulator  # noqa: E402

LATENCY = 0.05
WORKERS = 32
TICK = 1.0  # seconds between dispatch runs (the daemon's `dispatch_seconds`)
RATE_LIMIT_CODES = {"wecom": 45009, "dingtalk": 130101}


def serve_emulator(conn: Connection, latency: float) -> None:
    """The child process: registers robots; on request, what the robots answered."""
    with PlatformEmulator(latency=latency) as emu:
        conn.send(emu.base_url)
        while True:
            command, argument = conn.recv()
            if command == "add":
                platform, keys = argument
                add = emu.add_wecom if platform == "wecom" else emu.add_dingtalk
                conn.send([add(key) for key in keys])
            elif command == "stats":
                limited = Counter(
                    r.platform
                    for r in emu.received
                    if not r.accepted
                    and r.answer.get("errcode") == RATE_LIMIT_CODES.get(r.platform)
                )
                keys = {(r.platform, r.key) for r in emu.received}
                most = max((emu.max_in_window(k, 60, p) for p, k in keys), default=0)
                conn.send((len(emu.accepted()), dict(limited), most))
                emu.clear()
            else:
                return


class Platforms:
    def __init__(self, latency: float) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child_end = context.Pipe()
        self._child = context.Process(target=serve_emulator, args=(child_end, latency), daemon=True)
        self._child.start()
        self._conn.recv()

    def add(self, platform: str, keys: list[str]) -> list[str]:
        self._conn.send(("add", (platform, keys)))
        return cast(list[str], self._conn.recv())

    def stats(self) -> tuple[int, dict[str, int], int]:
        self._conn.send(("stats", None))
        return cast(tuple[int, dict[str, int], int], self._conn.recv())

    def close(self) -> None:
        self._conn.send(("stop", None))
        self._child.join(timeout=10)


def queue(engine: Engine, robots: int, per_robot: int, now: datetime) -> None:
    rows: list[dict[str, Any]] = [
        {
            "recipient_kind": "unit",
            "recipient_id": None,
            "recipient_name": f"市第{i % robots}局",
            "channel": f"r{i % robots}",
            "kind": "urge",
            "state": "pending",
            "not_before": now,
            "items": [],
            "mentions": {},
            "text": f"【催办通知】市第{i % robots}局：\n第{i}项工作今日到期，请报送进展。",
            "attempts": 0,
            "simulated": False,
            "part": 1,
            "parts": 1,
            "created_at": now,
        }
        for i in range(robots * per_robot)
    ]
    with engine.begin() as conn:
        for model in (AuditEvent, RateBucket, Message):
            conn.execute(delete(model.__table__))  # type: ignore[arg-type]
        conn.execute(insert(Message.__table__), rows)  # type: ignore[arg-type]


def unsent(engine: Engine) -> int:
    with engine.connect() as conn:
        query = select(func.count()).where(Message.state.not_in(("sent", "dead")))
        return int(conn.scalar(query) or 0)


@dataclass(frozen=True)
class Burst:
    label: str
    messages: int
    sent: int
    seconds: float
    limited: dict[str, int]
    most: int

    def line(self) -> str:
        answers = sum(self.limited.values())
        by = ", ".join(f"{p} {n}" for p, n in sorted(self.limited.items())) or "none"
        return (
            f"{self.label}: {self.sent:,}/{self.messages:,} accepted in {self.seconds:5.1f} s; "
            f"rate-limit answers {answers} ({by}); most to one robot in a minute {self.most}"
        )


def burst(
    platforms: Platforms, engine: Engine, args: argparse.Namespace, run: int, moving: bool
) -> Burst:
    half = args.robots // 2
    wecom = platforms.add("wecom", [f"b{run}w{i}" for i in range(half)])
    dingtalk = platforms.add("dingtalk", [f"b{run}d{i}" for i in range(args.robots - half)])
    messages = args.robots * args.per_robot
    with PooledClient(WORKERS) as http:  # the client build_runtime makes
        channels: dict[str, Channel] = {}
        kinds: dict[str, str] = {}
        for i, url in enumerate(wecom + dingtalk):
            name, platform = f"r{i}", "wecom" if i < half else "dingtalk"
            settings = ChannelSettings(platform=platform, webhook=url, msgtype="text")
            channels[name], kinds[name] = make_channel(name, settings, http), platform
        dispatcher = Dispatcher(
            database.session_factory(engine),
            lambda name: channels[name or "r0"],
            kinds,
            workers=WORKERS,
            clock=time.monotonic if moving else None,
        )
        queue(engine, args.robots, args.per_robot, datetime.now(UTC))
        start = time.monotonic()
        while unsent(engine) and time.monotonic() - start < args.timeout:
            tick = time.monotonic()
            dispatcher.dispatch_all(datetime.now(UTC))
            time.sleep(max(0.0, TICK - (time.monotonic() - tick)))
        seconds = time.monotonic() - start
    accepted, limited, most = platforms.stats()
    label = "budget at each claim" if moving else "before: budget at the run's start"
    return Burst(label, messages, accepted, seconds, limited, most)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--robots", type=int, default=1000, help="half WeCom, half DingTalk")
    parser.add_argument("--per-robot", type=int, default=25)
    parser.add_argument("--timeout", type=float, default=240.0, help="seconds per burst")
    parser.add_argument("--skip-before", action="store_true")
    args = parser.parse_args()
    print(
        f"{args.robots * args.per_robot:,} messages to {args.robots:,} robots "
        f"({args.robots // 2} WeCom, {args.robots - args.robots // 2} DingTalk; "
        f"{args.per_robot} each), emulator in a child process on the real clock answering "
        f"after {LATENCY * 1e3:.0f} ms, dispatch_all(now) every {TICK:g} s, {WORKERS} workers, "
        "SQLite"
    )
    platforms = Platforms(LATENCY)
    try:
        with tempfile.TemporaryDirectory(prefix="duban-burst-") as tmp:
            engine = database.make_engine(f"sqlite:///{Path(tmp) / 'burst.db'}")
            database.upgrade(engine)
            results = [burst(platforms, engine, args, 1, moving=True)]
            if not args.skip_before:
                margin, ratelimit.SEND_MARGIN = ratelimit.SEND_MARGIN, 0.0
                results.append(burst(platforms, engine, args, 2, moving=False))
                ratelimit.SEND_MARGIN = margin
            engine.dispose()
    finally:
        platforms.close()
    for result in results:
        print(f"   {result.line()}")
    answers = sum(results[0].limited.values())
    print(f"   rate-limit answers with the budget at each claim: {answers} (target 0)")


if __name__ == "__main__":
    main()
