"""Replies benchmark: kept DingTalk replies applied and answered through a slow reply URL.

Run: `.venv/bin/python bench/replies_bench.py [--events N] [--sequential N] [--latency S]
[--skip-sqlite] [--skip-postgres]`. Prints figures with the target beside them; a
benchmark, not a test: it never fails on time.

A local FastAPI app under uvicorn stands in for DingTalk's `sessionWebhook`: each answer
waits `--latency` seconds (50 ms) before `{"errcode": 0}`. The sample plan is imported
(`duban db upgrade`, `duban import`); N replies 「进展 #1 50%」 from the lead unit's contact
(known on DingTalk: `known_on_dingtalk`) are kept as the hooks keep them (one group
commit), each with its own session webhook on the emulator. Then, on the real clock and
in the same run:

1. one at a time, the way the processor worked before: each event in its own transaction
   (`WebContext.handle`), then its answer, a blocking HTTP call;
2. the processor as `duban serve` runs it (`WebContext.act_later` for each event): events
   applied in batched transactions, answers sent concurrently; timed until every event is
   `processed` (applied and its answer accepted) and the emulator has counted every answer.

Both on SQLite and on a temporary PostgreSQL database.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import NamedTuple

import httpx
from inbound_bench import PYTHON, SENDER, free_port, prepare, running, write_config
from pgtemp import postgres_url
from sqlalchemy import func, select

from bot.app.config import load_settings
from bot.platforms.inbound import InboundMessage
from bot.store.database import make_engine, session_factory
from bot.store.models import InboundEvent
from bot.web.context import WebContext
from bot.web.workers import keep_events

TARGET = 200.0  # events/s applied and answered

EMULATOR = """
import asyncio
import sys
import uvicorn
from fastapi import FastAPI, Request

app = FastAPI()
seen = [0]
latency = float(sys.argv[2])

@app.post("/hook")
async def hook(request: Request) -> dict[str, int]:
    await request.body()
    await asyncio.sleep(latency)
    seen[0] += 1
    return {"errcode": 0}

@app.get("/count")
async def count() -> dict[str, int]:
    return {"count": seen[0]}

@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}

uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning",
            access_log=False)
"""


def replies(sink: str, count: int, now: datetime) -> list[tuple[str, InboundMessage, datetime]]:
    expires = now + timedelta(hours=1)
    return [
        (
            "dd",
            InboundMessage(
                "dingtalk",
                uuid.uuid4().hex,
                SENDER,
                "进展 #1 50% 按计划推进",
                now,
                "cid-bench",
                sink,
                expires,
                {"msgtype": "text"},
            ),
            now,
        )
        for _ in range(count)
    ]


def answered(base: str) -> int:
    return int(httpx.get(f"{base}/count", timeout=5.0).json()["count"])


def keep(ctx: WebContext, sink: str, count: int) -> list[int]:
    kept = keep_events(ctx.sessions, replies(sink, count, ctx.clock()))
    ids = [k for k in kept if isinstance(k, int)]
    assert len(ids) == count, kept
    return ids


def one_at_a_time(ctx: WebContext, sink: str, count: int) -> float:
    """The old processor: one transaction per event, then its answer, blocking."""
    ids = keep(ctx, sink, count)
    start = time.perf_counter()
    for event_id in ids:
        now = ctx.clock()
        handled = ctx.handle(event_id, now)
        assert handled is not None
        responder = ctx.responder(handled.source)
        assert responder is not None
        responder.respond(handled, now)
    return count / (time.perf_counter() - start)


class Run(NamedTuple):
    rate: float  # events/s applied and answered
    applying: float  # events/s applied (all of them out of `received`)
    counted: int  # answers the emulator counted
    cpu_ms: float  # CPU of this process per event (processor, senders, the polling)
    applied: int  # events answered 「已收到第1项进展（50%）…」: applied, not refused


def processor(ctx: WebContext, sink: str, base: str, count: int) -> Run:
    """`duban serve`'s processor, timed until every event is processed and answered."""
    ids = keep(ctx, sink, count)
    # One keep, one statement: consecutive ids. Polled by range, not by 2,000 parameters,
    # whose binding took more of this process's CPU than the applying on a slow run.
    assert ids == list(range(ids[0], ids[0] + count)), "not consecutive"
    before = answered(base)
    ctx.start()
    try:
        cpu = time.process_time()
        start = time.perf_counter()
        for event_id in ids:
            ctx.act_later(event_id)
        deadline, applied = start + 600, None
        while time.perf_counter() < deadline:
            with ctx.sessions() as session:
                states = dict(
                    session.execute(
                        select(InboundEvent.state, func.count())
                        .where(InboundEvent.id.between(ids[0], ids[-1]))
                        .group_by(InboundEvent.state)
                    ).all()
                )
            if applied is None and not states.get("received"):
                applied = time.perf_counter() - start
            if states.get("processed") == count and answered(base) - before >= count:
                break
            time.sleep(0.02)
        elapsed = time.perf_counter() - start
        cpu = time.process_time() - cpu
    finally:
        ctx.stop()
    with ctx.sessions() as session:
        progressed = session.scalar(
            select(func.count()).where(
                InboundEvent.id.between(ids[0], ids[-1]),
                InboundEvent.reply.startswith("已收到第1项进展"),
            )
        )
    return Run(
        count / elapsed, count / (applied or elapsed), answered(base) - before,
        cpu * 1e3 / count, progressed or 0,
    )  # fmt: skip


def bench_backend(label: str, url: str, args: argparse.Namespace, sink: str, base: str) -> None:
    with tempfile.TemporaryDirectory(prefix="duban-replies-") as tmp:
        config = write_config(Path(tmp), url.replace("{tmp}", tmp), free_port(), sink)
        prepare(config)
        settings = load_settings(config)
        engine = make_engine(settings.database.url)
        http = httpx.Client()
        try:
            ctx = WebContext(settings, session_factory(engine), http=http)
            slow = one_at_a_time(ctx, sink, args.sequential)
            run = processor(ctx, sink, base, args.events)
        finally:
            http.close()
            engine.dispose()
    print(
        f"   {label}: one at a time {slow:,.1f} events/s ({args.sequential} events); "
        f"the processor {run.rate:,.1f} events/s applied and answered ({args.events} events, "
        f"{run.applied} applied as progress, {run.counted} answers counted; applied alone "
        f"{run.applying:,.0f}/s; {run.cpu_ms:.2f} ms CPU an event) = {run.rate / slow:.1f}×   "
        f"(target ≥ {TARGET:.0f}/s {'✓' if run.rate >= TARGET else '✗'})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--sequential", type=int, default=200)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    sink = f"{base}/hook"
    print(
        f"Replies 「进展 #1 50%」 applied and answered through a reply URL that takes "
        f"{args.latency * 1e3:.0f} ms (a local emulator of DingTalk's sessionWebhook)."
    )
    with running([PYTHON, "-c", EMULATOR, str(port), str(args.latency)], f"{base}/healthz"):
        if not args.skip_sqlite:
            bench_backend("SQLite", "sqlite:///{tmp}/duban.db", args, sink, base)
        if not args.skip_postgres:
            with postgres_url() as url:
                if url is not None:
                    bench_backend("PostgreSQL", url, args, sink, base)


if __name__ == "__main__":
    main()
