"""A dispatcher killed between claim and confirmation: the lease brings the message back.

Real `duban run --once` processes post to a local WeCom emulator. The first answer is slow,
so the process is SIGKILLed while its message is `sending` (the platform has taken it, the
process never heard). A run after the 5-minute lease delivers it again: at-least-once, with
the one in-flight request as the only possible duplicate.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.delivery.outbox import LEASE
from bot.store.models import Message
from tests.support.emulator import PlatformEmulator
from tests.support.engine import import_plan, local, utc, writer_sessions
from tests.support.outbox import load
from tests.support.paths import ROOT
from tests.support.processes import DUBAN, environment

pytestmark = pytest.mark.slow  # real `duban` processes, one of them killed

KEY = "crash-key-5e0b"
KILLED_AT = "2020-09-21T10:00"  # a Monday inside the send window; no reminder is due yet
BEFORE_LEASE = "2020-09-21T10:04"
AFTER_LEASE = "2020-09-21T10:06"
WAIT = 30.0  # the longest any step may take before the test gives up


@pytest.fixture
def emu() -> Iterator[PlatformEmulator]:
    # The first answer takes longer than the whole test: the process is killed waiting.
    with PlatformEmulator(slow_seconds=WAIT) as emulator:
        yield emulator


def write_config(folder: Path, webhook: str) -> Path:
    path = folder / "config.toml"
    path.write_text(
        f"""
[schedules]
rules = "{ROOT / "schedules" / "default.toml"}"
calendar = "{ROOT / "schedules" / "calendar.toml"}"

[delivery]
default_channel = "jjw"
office_channel = "jjw"

[channels.jjw]
platform = "wecom"
webhook = "{webhook}"
timeout = {WAIT * 2}
""",
        encoding="utf-8",
    )
    return path


def start_run(at: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(DUBAN), "run", "--once", "--at", at, "--force"],  # a past hour, on purpose
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run_to_end(at: str, env: dict[str, str]) -> str:
    process = start_run(at, env)
    try:
        stdout, stderr = process.communicate(timeout=WAIT * 2)
    finally:
        stop(process)
    assert process.returncode == 0, stderr
    return stdout


def stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.kill()
    process.communicate(timeout=WAIT)


def queue_one(sessions: sessionmaker[Session]) -> int:
    moment = utc(local(KILLED_AT)) - timedelta(hours=1)
    with sessions.begin() as session:
        message = Message(
            recipient_kind="unit",
            recipient_id=None,
            recipient_name="市住建局",
            channel=None,  # the default channel
            kind="notice",
            state="pending",
            not_before=moment,
            items=[],
            mentions={},
            text="**【督办提醒】市住建局**\n请于本周内报送重点工作进展。",
            attempts=0,
            simulated=False,
            part=1,
            parts=1,
            created_at=moment,
        )
        session.add(message)
        session.flush()
        return message.id


def moments_after(start: datetime, at: datetime | None) -> bool:
    """`at` is within a second after `start` (a run's times move on with the clock)."""
    return at is not None and timedelta(0) <= at - start < timedelta(seconds=1)


def wait_until_in_flight(
    process: subprocess.Popen[str],
    sessions: sessionmaker[Session],
    message_id: int,
    emu: PlatformEmulator,
) -> None:
    """Until the row is `sending` and its request has reached the platform."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            stdout, stderr = process.communicate()
            pytest.fail(f"the dispatcher ended before it was killed:\n{stdout}\n{stderr}")
        if load(sessions, message_id).state == "sending" and emu.received:
            return
        time.sleep(0.05)
    pytest.fail(f"message {message_id} was not in flight within {WAIT} s")


def test_a_message_whose_sender_was_killed_mid_send_is_delivered_after_the_lease(
    engine: Engine, db_url: str, tmp_path: Path, emu: PlatformEmulator
) -> None:
    sessions = writer_sessions(engine)
    import_plan(sessions, tmp_path)  # a plan, so `run` imports no sample
    message_id = queue_one(sessions)
    env = environment(db_url, write_config(tmp_path, emu.add_wecom(KEY)))
    emu.fail_next(1, "slow", platform="wecom", key=KEY)

    process = start_run(KILLED_AT, env)
    try:
        wait_until_in_flight(process, sessions, message_id, emu)
        process.kill()  # SIGKILL: no cleanup, no confirmation
        process.wait(timeout=WAIT)
    finally:
        stop(process)
    stranded = load(sessions, message_id)
    assert (stranded.state, stranded.attempts) == ("sending", 1)
    assert moments_after(utc(local(KILLED_AT)) + LEASE, stranded.claimed_until)
    assert len(emu.accepted("wecom", KEY)) == 1  # the platform took it; nobody heard

    assert "发送 0 条" in run_to_end(BEFORE_LEASE, env)  # the lease still holds
    assert load(sessions, message_id).state == "sending"
    assert len(emu.received) == 1

    assert "发送 1 条" in run_to_end(AFTER_LEASE, env)
    delivered = load(sessions, message_id)
    assert (delivered.state, delivered.attempts) == ("sent", 2)
    assert moments_after(utc(local(AFTER_LEASE)), delivered.sent_at)
    assert delivered.response == {"errcode": 0, "errmsg": "ok"}
    accepted = emu.accepted("wecom", KEY)
    # Delivered at least once; the killed request is the one documented duplicate.
    assert 1 <= len(accepted) <= 2
    assert {r.body["markdown"]["content"] for r in accepted} == {delivered.text}
