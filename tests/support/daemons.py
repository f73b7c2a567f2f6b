"""`duban run` daemons as real processes, for the production tests and the scale-out bench:
the config they read (generic webhook channels, a send window of the whole day, working days
around today), a plan and outbox rows put straight into the database, and a restartable
daemon with its web port and log file."""

from __future__ import annotations

import re
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import Engine, Table, func, insert, select

from bot.store.models import Base, Message, Plan
from tests.support.paths import ROOT
from tests.support.processes import DUBAN, free_port

SECRET = "production-webhook-secret"
TZ = ZoneInfo("Asia/Shanghai")
WORKERS = 16  # [delivery] workers: the requests one daemon has in flight at most
WAIT = 60.0  # the longest any one step may take before the test gives up


# --- the setup the daemons read ------------------------------------------------------------


def write_setup(
    folder: Path, urls: dict[str, str], *, timeout: float, workers: int = WORKERS
) -> Path:
    """A config file with one webhook channel per URL, rules whose send window is the whole
    day and a calendar that makes the days around today working days: the daemons dispatch
    whenever the test runs."""
    rules = (ROOT / "schedules" / "default.toml").read_text(encoding="utf-8")
    window = 'start = "09:00"\nend = "17:30"'
    assert window in rules
    rules_path = folder / "rules.toml"
    rules_path.write_text(
        rules.replace(window, 'start = "00:00"\nend = "23:59:59.999999"'), encoding="utf-8"
    )
    today = datetime.now(TZ).date()
    calendar_path = folder / "calendar.toml"
    calendar_path.write_text(
        f"""
[[ranges]]
kind = "workday"
from = {today - timedelta(days=2)}
to = {today + timedelta(days=5)}
name = "test: every day is a working day"
""",
        encoding="utf-8",
    )
    first = next(iter(urls))
    channels = "".join(
        f"""
[channels.{name}]
platform = "webhook"
webhook = "{url}"
secret = "{SECRET}"
timeout = {timeout}
"""
        for name, url in urls.items()
    )
    config = folder / "config.toml"
    config.write_text(
        f"""
[schedules]
rules = "{rules_path}"
calendar = "{calendar_path}"
ranking = "{ROOT / "schedules" / "ranking.toml"}"

[delivery]
default_channel = "{first}"
office_channel = "{first}"
dispatch_seconds = 1
workers = {workers}

[log]
level = "INFO"
{channels}""",
        encoding="utf-8",
    )
    return config


# --- the outbox ----------------------------------------------------------------------------


def table(model: type[Base]) -> Table:
    return cast(Table, model.__table__)


def add_plan(engine: Engine) -> None:
    """A plan without tasks: `duban run` imports no sample, sweeps find nothing due and the
    ranking has no period to publish; the outbox holds only the test's messages."""
    now = datetime.now(UTC)
    row = {
        "key": "production-test",
        "title": "生产环境测试",
        "year": now.year,
        "timezone": "Asia/Shanghai",
        "source": "tests/support/daemons.py",
        "source_sha256": "0" * 64,
        "default_deadline": None,
        "sample": False,
        "created_at": now,
        "updated_at": now,
    }
    with engine.begin() as conn:
        conn.execute(insert(table(Plan)), [row])


def marker(number: int) -> str:
    return f"#M{number:05d}#"


def queue(engine: Engine, first: int, count: int, channels: int) -> list[str]:
    """`count` pending messages, numbered from `first`, dealt round-robin to w0, w1, …"""
    now = datetime.now(UTC)
    numbers = range(first, first + count)
    rows: list[dict[str, Any]] = [
        {
            "recipient_kind": "unit",
            "recipient_id": None,
            "recipient_name": f"市第{i % channels}局",
            "channel": f"w{i % channels}",
            "kind": "urge",
            "state": "pending",
            "not_before": now,
            "items": [],
            "mentions": {},
            "text": f"【催办通知】市第{i % channels}局：\n第{i}项工作今日到期，请报送进展。"
            f"{marker(i)}",
            "attempts": 0,
            "simulated": False,
            "part": 1,
            "parts": 1,
            "created_at": now,
        }
        for i in numbers
    ]
    with engine.begin() as conn:
        conn.execute(insert(table(Message)), rows)
    return [marker(i) for i in numbers]


def states(engine: Engine) -> Counter[str]:
    with engine.connect() as conn:
        rows = conn.execute(select(Message.state, func.count()).group_by(Message.state))
        return Counter({state: count for state, count in rows})


# --- the daemons ---------------------------------------------------------------------------

SAMPLE = re.compile(r"^([A-Za-z_:][\w:]*)(?:\{(.*)\})? (\S+)$")
LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def metric(exposition: str, name: str, **labels: str) -> float:
    """The sum of the samples of `name` whose labels include `labels` (Prometheus text)."""
    total = 0.0
    for line in exposition.splitlines():
        found = SAMPLE.match(line)
        if found is None or found.group(1) != name:
            continue
        have = dict(LABEL.findall(found.group(2) or ""))
        if all(have.get(key) == value for key, value in labels.items()):
            total += float(found.group(3))
    return total


@dataclass
class Daemon:
    """One `duban run` process (restartable), its web port and its log file."""

    name: str
    env: dict[str, str]
    folder: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def log(self) -> Path:
        return self.folder / f"daemon-{self.name}.log"

    def start(self) -> None:
        assert self.process is None or self.process.poll() is not None
        self.starts += 1
        env = self.env | {"DUBAN_WEB__PORT": str(self.port)}
        with self.log.open("ab") as log:
            log.write(f"--- start {self.starts} ---\n".encode())
            self.process = subprocess.Popen(
                [str(DUBAN), "run"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
            )

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: no cleanup, no last confirmation."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=WAIT)

    def stop(self) -> int:
        """SIGTERM: running jobs finish, then the process exits; its exit status."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=WAIT)

    def get(self, path: str) -> httpx.Response:
        return httpx.get(f"http://127.0.0.1:{self.port}{path}", timeout=5.0)

    def metrics(self) -> str:
        response = self.get("/metrics")
        response.raise_for_status()
        return response.text

    def requests(self) -> float:
        """Requests to the platforms this incarnation has made and heard the end of."""
        return metric(self.metrics(), "duban_send_seconds_count")

    def wait_ready(self, timeout: float = WAIT) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                pytest.fail(f"daemon {self.name} exited:\n{self.tail()}")
            with suppress(httpx.HTTPError):
                response = self.get("/readyz")
                if response.status_code == 200:
                    return cast(dict[str, Any], response.json())
            time.sleep(0.1)
        pytest.fail(f"daemon {self.name} not ready within {timeout:.0f} s:\n{self.tail()}")

    def wait_dispatching(self, timeout: float) -> bool:
        """Until this incarnation has made a request (it is dispatching); False if it has
        not within `timeout` (nothing left to send)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                pytest.fail(f"daemon {self.name} exited:\n{self.tail()}")
            with suppress(httpx.HTTPError):
                if self.requests() > 0:
                    return True
            time.sleep(0.05)
        return False

    def tail(self, lines: int = 40) -> str:
        if not self.log.exists():
            return ""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


@contextmanager
def cleanup(daemons: list[Daemon]) -> Iterator[list[Daemon]]:
    """Whatever happens in the test, no daemon outlives it."""
    try:
        yield daemons
    finally:
        for daemon in daemons:
            if daemon.alive():
                assert daemon.process is not None
                daemon.process.kill()
                daemon.process.wait(timeout=WAIT)
