"""Inbound benchmark: signed DingTalk callbacks against `duban serve` under uvicorn.

Run: `.venv/bin/python bench/inbound_bench.py [--seconds N] [--requests N]
[--concurrency N] [--pairs N] [--skip-postgres]`. Prints figures with the targets beside them; a
benchmark, not a test: it never fails on time.

Three processes on loopback: `duban serve` (its own config: the sample plan imported, one
DingTalk hook), a bare FastAPI app (a POST endpoint that reads the body and answers
`{"errcode": 0}`; it is also the sink of duban's replies to `sessionWebhook`), and this one,
the load generator (a bare asyncio HTTP/1.1 client: httpx's would be the bottleneck).
Every request is a new message — 「进展 #1 50%」
from the lead unit's contact (known on DingTalk in a copy of the sample directory:
`known_on_dingtalk`; the sample has only their WeCom id, and an unknown sender's reply is
only refused), signed with the app secret — so each one is verified, deduplicated, stored,
acknowledged, then applied and answered after the response.

1. Latency at a fixed rate: 200 requests/s for N seconds, sent on schedule whatever the
   answers (open loop); p50/p99/max of the time to the acknowledgement, and then how long
   after the last acknowledgement every event was applied and answered (a processor that
   keeps up with the stream answers it as it comes).
2. Throughput, once the steady run is drained: M requests with C in flight (closed loop),
   to the bare app and right after to duban (the same minute's machine); the ratio, and
   each server process's CPU seconds per request (from /proc: less noisy than the rates
   on a shared machine); then how long the burst took to be applied and answered. N such
   pairs (3), each after the last was applied and answered; the median of their ratios is
   the figure (one pair's ratio moved by a fifth or more from run to run).
Both on SQLite (the default) and on a temporary PostgreSQL database.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from pgtemp import postgres_url
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
DUBAN = Path(sys.executable).parent / "duban"  # the venv this runs in
PYTHON = sys.executable
SECRET = "bench app secret"
LAST_STAMP = [0]
SENDER = "liaison2"  # 市发改委's contact in examples/zhoushan-units.toml
RATE = 200  # requests per second for the latency run

BARE_APP = """
import sys
import uvicorn
from fastapi import FastAPI, Request

app = FastAPI()

@app.post("/hook")
async def hook(request: Request) -> dict[str, int]:
    await request.body()
    return {"errcode": 0}

@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}

uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning",
            access_log=False)
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_up(url: str, process: subprocess.Popen[bytes], seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{url}: the server exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"{url}: the server did not come up")


@contextmanager
def running(
    command: list[str], health: str, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    try:
        wait_up(health, process)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def write_config(folder: Path, url: str, port: int, sink: str) -> Path:
    config = folder / "config.toml"
    config.write_text(
        f"""
[database]
url = "{url}"
[directory]
path = "{ROOT / "examples" / "zhoushan-units.toml"}"
[schedules]
rules = "{ROOT / "schedules" / "default.toml"}"
calendar = "{ROOT / "schedules" / "calendar.toml"}"
[web]
host = "127.0.0.1"
port = {port}
[inbound.dd]
platform = "dingtalk"
app_secret = "{SECRET}"
session_webhook_origins = ["{sink.removesuffix("/hook")}"]
""",
        encoding="utf-8",
    )
    known_on_dingtalk(config)
    return config


def known_on_dingtalk(config: Path) -> None:
    """The sample directory with 市发改委's contact known on DingTalk too (the sample has
    only their WeCom id): the replies are applied, not refused as an unknown sender's."""
    text = config.read_text(encoding="utf-8")
    sample = next(line for line in text.splitlines() if line.startswith("path = "))
    units = Path(sample.removeprefix("path = ").strip('"'))
    contact = f'wecom_userid = "{SENDER}" }}'
    known = units.read_text(encoding="utf-8").replace(
        contact, f'wecom_userid = "{SENDER}", dingtalk_userid = "{SENDER}" }}'
    )
    assert known.count(f'dingtalk_userid = "{SENDER}"') == 1, "the sample's contact moved"
    copy = config.parent / "units.toml"
    copy.write_text(known, encoding="utf-8")
    config.write_text(text.replace(sample, f'path = "{copy}"'), encoding="utf-8")


def prepare(config: Path) -> dict[str, str]:
    env = {**os.environ, "DUBAN_CONFIG": str(config)}
    for name in list(env):
        if name.startswith("DUBAN_") and name != "DUBAN_CONFIG":
            del env[name]
    sample = ROOT / "examples" / "zhoushan-2020-key-tasks.txt"
    subprocess.run([str(DUBAN), "db", "upgrade"], env=env, check=True, capture_output=True)
    subprocess.run([str(DUBAN), "import", str(sample)], env=env, check=True, capture_output=True)
    return env


# --- the load -----------------------------------------------------------------------------


def dingtalk_request(sink: str) -> tuple[bytes, dict[str, str]]:
    import base64
    import hashlib
    import hmac

    # DingTalk's sign covers only the timestamp, and duban takes each one once: one per ms.
    now_ms = LAST_STAMP[0] = max(int(time.time() * 1000), LAST_STAMP[0] + 1)
    stamp = str(now_ms)
    digest = hmac.new(SECRET.encode(), f"{stamp}\n{SECRET}".encode(), hashlib.sha256).digest()
    body = {
        "msgtype": "text",
        "text": {"content": " 进展 #1 50% 按计划推进"},
        "msgId": uuid.uuid4().hex,
        "createAt": now_ms,
        "conversationType": "2",
        "conversationId": "cid-bench",
        "senderId": "bench",
        "senderStaffId": SENDER,
        "sessionWebhook": sink,
        "sessionWebhookExpiredTime": now_ms + 3_600_000,
    }
    headers = {
        "timestamp": stamp,
        "sign": base64.b64encode(digest).decode(),
        "Content-Type": "application/json",
    }
    return json.dumps(body, ensure_ascii=False).encode(), headers


def cpu_seconds(pid: int) -> float:
    """User and system CPU seconds the process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Figures:
    sent: int
    ok: int
    seconds: float
    latencies: list[float]
    failures: Counter[str] = field(default_factory=Counter)

    @property
    def rate(self) -> float:
        return self.ok / self.seconds

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(len(ordered) * p))] * 1e3


class Connection:
    """A bare HTTP/1.1 keep-alive client connection: httpx's async client costs more CPU
    per request than a small server does, and on two cores the load generator would set
    the pace of both servers (about 340 requests/s) instead of measuring them."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.used = time.perf_counter()  # when its last answer came

    @classmethod
    async def open(cls, host: str, port: int) -> Connection:
        return cls(*await asyncio.open_connection(host, port))

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> int:
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.writer.write(
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}\r\n"
            f"{head}\r\n".encode()
            + body
        )
        await self.writer.drain()
        status_line = await self.reader.readline()
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value)
        await self.reader.readexactly(length)
        self.used = time.perf_counter()
        return int(status_line.split()[1])

    def close(self) -> None:
        self.writer.close()


async def _one(
    connection: Connection,
    path: str,
    sink: str,
    out: list[float],
    failures: Counter[str] | None = None,
) -> bool:
    body, headers = dingtalk_request(sink)
    start = time.perf_counter()
    status = await connection.post(path, body, headers)
    out.append(time.perf_counter() - start)
    if status != 200 and failures is not None:
        failures[f"status {status}"] += 1
    return status == 200


# A connection idle this long is closed, not reused: the server closes its side after its
# keep-alive time (`[web] keep_alive_seconds`, 5 s), and a request sent on a connection the
# server is closing fails (as with any HTTP client, httpx's keepalive_expiry is 5 s).
KEEP_ALIVE = 4.0


async def fixed_rate(port: int, path: str, sink: str, rate: int, seconds: float) -> Figures:
    """Open loop: a request every 1/rate s on whichever connection is free (new ones opened
    as needed), so a slow answer delays no later request."""
    latencies: list[float] = []
    failures: Counter[str] = Counter()
    idle: list[Connection] = []

    async def send() -> bool:
        while idle and time.perf_counter() - idle[-1].used > KEEP_ALIVE:
            idle.pop().close()
        connection = idle.pop() if idle else await Connection.open("127.0.0.1", port)
        try:
            ok = await _one(connection, path, sink, latencies, failures)
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError) as exc:
            idle_for = time.perf_counter() - connection.used
            failures[f"{type(exc).__name__} on a connection idle {idle_for:.0f} s"] += 1
            connection.close()
            return False
        idle.append(connection)
        return ok

    total = int(rate * seconds)
    start = time.perf_counter()
    tasks = []
    for i in range(total):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(send()))
    results = await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start
    for connection in idle:
        connection.close()
    return Figures(total, sum(results), elapsed, latencies, failures)


async def closed_loop(port: int, path: str, sink: str, requests: int, concurrency: int) -> Figures:
    """Closed loop: `concurrency` connections, each sending its next request on the answer."""
    latencies: list[float] = []
    failures: Counter[str] = Counter()
    remaining = requests
    ok = 0

    async def worker() -> None:
        nonlocal remaining, ok
        connection = await Connection.open("127.0.0.1", port)
        for _ in range(5):  # warm up: connections open, code paths hot
            await _one(connection, path, sink, [])
        await ready.wait()
        while remaining > 0:
            remaining -= 1
            accepted = await _one(connection, path, sink, latencies, failures)  # not `ok +=`:
            ok += accepted  # that reads `ok` before the await and loses the others' counts
        connection.close()

    ready = asyncio.Event()
    workers = [asyncio.create_task(worker()) for _ in range(concurrency)]
    await asyncio.sleep(1.0)
    start = time.perf_counter()
    ready.set()
    await asyncio.gather(*workers)
    elapsed = time.perf_counter() - start
    return Figures(requests, ok, elapsed, latencies, failures)


def mark(ok: bool) -> str:
    return "✓" if ok else "✗"


# --- the runs -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Bare:
    """The bare app: its process (for its CPU), port and the sink URL of duban's answers."""

    process: subprocess.Popen[bytes]
    port: int

    @property
    def sink(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"


def measured(
    pid: int, port: int, path: str, sink: str, args: argparse.Namespace
) -> tuple[Figures, float]:
    """A closed loop against the server on `port`, and its process's CPU seconds a request."""
    before = cpu_seconds(pid)
    figures = asyncio.run(closed_loop(port, path, sink, args.requests, args.concurrency))
    return figures, (cpu_seconds(pid) - before) / figures.sent


def failures(figures: Figures) -> str:
    if not figures.failures:
        return ""
    return " — failed: " + ", ".join(f"{n} {why}" for why, n in figures.failures.most_common())


def bench_backend(label: str, url: str, args: argparse.Namespace, bare: Bare) -> None:
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="duban-inbound-") as tmp:
        url = url.replace("{tmp}", tmp)
        config = write_config(Path(tmp), url, port, bare.sink)
        env = prepare(config)
        base = f"http://127.0.0.1:{port}"
        with running([str(DUBAN), "serve"], f"{base}/healthz", env) as duban:
            hook = "/hooks/dingtalk/dd"
            steady = asyncio.run(fixed_rate(port, hook, bare.sink, RATE, args.seconds))
            print(
                f"   {label}: {steady.ok:,}/{steady.sent:,} acknowledged at {RATE}/s over "
                f"{steady.seconds:.1f} s; p50 {steady.percentile(0.5):.1f} ms, p99 "
                f"{steady.percentile(0.99):.1f} ms, max {max(steady.latencies) * 1e3:.1f} ms"
                f"   (target p99 < 100 ms {mark(steady.percentile(0.99) < 100)})" + failures(steady)
            )
            drained = drain_seconds(url)
            print(
                f"   {label}: the steady run's events all applied and answered {drained:.1f} s "
                "after its last acknowledgement (a processor that keeps up: about 0)"
            )
            target = 0.5 if label == "SQLite" else 0.4
            ratios = [
                throughput_pair(label, pair, duban.pid, port, hook, url, args, bare)
                for pair in range(1, args.pairs + 1)
            ]
            middle = statistics.median(ratios)
            print(
                f"   {label}: median of {len(ratios)} pairs {middle:.2f}× the bare app "
                f"(each {', '.join(f'{r:.2f}×' for r in ratios)})   "
                f"(target ≥ {target}× {mark(middle >= target)})"
            )


def throughput_pair(
    label: str,
    pair: int,
    pid: int,
    port: int,
    hook: str,
    url: str,
    args: argparse.Namespace,
    bare: Bare,
) -> float:
    """One closed loop against the bare app and right after one against duban (the same
    minute's machine), then until duban has applied and answered them all; the ratio."""
    plain, plain_cpu = measured(bare.process.pid, bare.port, "/hook", bare.sink, args)
    burst, burst_cpu = measured(pid, port, hook, bare.sink, args)
    drained = drain_seconds(url)
    ratio = burst.rate / plain.rate
    print(
        f"   pair {pair}: bare FastAPI endpoint: {plain.ok:,}/{plain.sent:,} in "
        f"{plain.seconds:.2f} s = {plain.rate:,.0f} requests/s with {args.concurrency} in "
        f"flight; {plain_cpu * 1e3:.3f} ms of its CPU a request" + failures(plain)
    )
    print(
        f"   pair {pair}: {label}: {burst.ok:,}/{burst.sent:,} in {burst.seconds:.2f} s = "
        f"{burst.rate:,.0f} requests/s with {args.concurrency} in flight (p99 "
        f"{burst.percentile(0.99):.0f} ms); {ratio:.2f}× the bare app; "
        f"{burst_cpu * 1e3:.3f} ms of duban's CPU a request, "
        f"{burst_cpu / plain_cpu:.1f}× the bare app's" + failures(burst)
    )
    print(
        f"   pair {pair}: {label}: every event applied and answered {drained:.1f} s after the "
        "last acknowledgement (acknowledgements go first; see bot/web/workers.py)"
    )
    return ratio


def drain_seconds(url: str, timeout: float = 300.0) -> float:
    """Seconds until no kept event is left unprocessed (the processor's backlog)."""
    engine = create_engine(url)
    start = time.perf_counter()
    try:
        while time.perf_counter() - start < timeout:
            with engine.connect() as conn:
                left = conn.scalar(
                    text("SELECT count(*) FROM inbound_events WHERE state <> 'processed'")
                )
            if not left:
                break
            time.sleep(0.1)
        return time.perf_counter() - start
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--pairs", type=int, default=3, help="bare/duban closed loops, alternating")
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args()
    if not DUBAN.exists() or shutil.which(str(DUBAN)) is None:
        raise SystemExit(f"{DUBAN} not found: run `make install` first")
    bare_port = free_port()
    bare_base = f"http://127.0.0.1:{bare_port}"
    print(
        "Signed DingTalk callbacks (「进展 #1 50%」 from the lead unit's contact, each a new "
        "msgId) against `duban serve` under uvicorn on loopback; replies go to a local sink."
    )
    print(f"   load: {os.getloadavg()[0]:.2f} (1 min) at the start")
    with running([PYTHON, "-c", BARE_APP, str(bare_port)], f"{bare_base}/healthz") as process:
        bare = Bare(process, bare_port)
        bench_backend("SQLite", "sqlite:///{tmp}/duban.db", args, bare)
        if not args.skip_postgres:
            with postgres_url() as url:
                if url is not None:
                    bench_backend("PostgreSQL", url, args, bare)
    print(f"   load: {os.getloadavg()[0]:.2f} (1 min) at the end")


if __name__ == "__main__":
    main()
