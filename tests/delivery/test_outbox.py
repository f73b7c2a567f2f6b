"""The outbox: claims with a lease, delivery, retries with backoff, the send window."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.orm import Session, sessionmaker

from bot.app.runtime import Runtime
from bot.delivery.confirmations import Claimed
from bot.delivery.failures import MAX_ATTEMPTS, RETRY_AFTER
from bot.delivery.outbox import LANE_CAP, LEASE, Dispatcher, dispatch_all, dispatch_once
from bot.delivery.ratelimit import SEND_MARGIN
from bot.domain.calendar import WorkCalendar
from bot.domain.rules import default_rules
from bot.platforms import CaptureChannel, Channel, DeliveryError, Outgoing, Receipt
from bot.store import database
from bot.store.models import AuditEvent, Message
from tests.support.cards import PAGE, items
from tests.support.database import checkouts, kill
from tests.support.engine import TZ, local, writer_sessions
from tests.support.outbox import EARLIER, NOW, load, make_message


def add_messages(sessions: sessionmaker[Session], count: int, **overrides: Any) -> list[int]:
    with sessions.begin() as session:
        return [make_message(session, **overrides).id for _ in range(count)]


def audit_actions(sessions: sessionmaker[Session], message_id: int) -> list[str]:
    with sessions() as session:
        return list(
            session.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.subject_type == "message", AuditEvent.subject_id == message_id)
                .order_by(AuditEvent.id)
            )
        )


def only(channel: Channel) -> Callable[[str | None], Channel]:
    return lambda _name: channel


def claim(session: Session, now: datetime, limit: int) -> list[Claimed]:
    """The dispatcher's claim, as the daemon makes it (one console lane)."""
    return Dispatcher(sessionmaker(), only(CaptureChannel())).claim(session, now, limit).all


def ids(sent: list[Outgoing]) -> list[int]:
    return [outgoing.message_id for outgoing in sent]


@dataclass
class FailingChannel:
    """A channel whose every send fails with the given error."""

    error: DeliveryError
    name: str = "flaky"
    tried: list[int] = field(default_factory=list)

    def send(self, message: Outgoing) -> Receipt:
        self.tried.append(message.message_id)
        raise self.error


# --- claim --------------------------------------------------------------------------------


def test_claim_moves_ready_rows_to_sending_with_a_lease_and_counts_the_attempt(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:
        ready = make_message(session, channel="archive").id
        exactly_now = make_message(session, not_before=NOW).id
        future = make_message(session, not_before=NOW + timedelta(seconds=1)).id
    with sessions.begin() as session:
        claimed = claim(session, NOW, 10)
    assert [c.outgoing.message_id for c in claimed] == [ready, exactly_now]
    assert claimed[0].channel == "archive"
    assert claimed[0].outgoing == Outgoing(
        ready, "市住建局", "remind", "请于本周内报送重点工作进展。", ("13800000001",)
    )
    for message_id in (ready, exactly_now):
        message = load(sessions, message_id)
        assert (message.state, message.attempts) == ("sending", 1)
        assert message.claimed_until == NOW + LEASE
    untouched = load(sessions, future)
    assert (untouched.state, untouched.attempts, untouched.claimed_until) == ("pending", 0, None)


def test_claim_takes_at_most_the_limit_oldest_first(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        newer = make_message(session, not_before=EARLIER).id
        older = make_message(session, not_before=EARLIER - timedelta(minutes=5)).id
        make_message(session, not_before=EARLIER + timedelta(minutes=5))
    with sessions.begin() as session:
        claimed = claim(session, NOW, 2)
    assert [c.outgoing.message_id for c in claimed] == [older, newer]


def test_a_claimed_row_is_not_claimed_again_while_its_lease_holds(
    sessions: sessionmaker[Session],
) -> None:
    (message_id,) = add_messages(sessions, 1)
    with sessions.begin() as session:
        assert len(claim(session, NOW, 10)) == 1
    for moment in (NOW, NOW + LEASE - timedelta(seconds=1), NOW + LEASE):
        with sessions.begin() as session:
            assert claim(session, moment, 10) == []
    assert load(sessions, message_id).attempts == 1


def test_a_crash_between_claim_and_send_is_retried_once_the_lease_expires(
    sessions: sessionmaker[Session],
) -> None:
    (message_id,) = add_messages(sessions, 1)
    with sessions.begin() as session:
        claim(session, NOW, 10)  # the process dies here, before sending
    capture = CaptureChannel()
    assert dispatch_once(sessions, only(capture), NOW + LEASE - timedelta(seconds=1)) == 0
    later = NOW + LEASE + timedelta(seconds=1)
    assert dispatch_once(sessions, only(capture), later) == 1
    assert ids(capture.sent) == [message_id]
    message = load(sessions, message_id)
    assert (message.state, message.attempts, message.sent_at) == ("sent", 2, later)


# --- delivery -----------------------------------------------------------------------------


def test_dispatch_once_sends_each_ready_message_once_and_marks_it_sent(
    sessions: sessionmaker[Session],
) -> None:
    ready = add_messages(sessions, 3)
    (future,) = add_messages(sessions, 1, not_before=NOW + timedelta(hours=1))
    capture = CaptureChannel()
    assert dispatch_once(sessions, only(capture), NOW) == 3
    assert dispatch_once(sessions, only(capture), NOW) == 0
    assert ids(capture.sent) == ready
    for number, message_id in enumerate(ready, start=1):
        message = load(sessions, message_id)
        assert (message.state, message.sent_at, message.claimed_until) == ("sent", NOW, None)
        assert message.response == {"captured": number}
        assert message.last_error is None
        assert audit_actions(sessions, message_id) == ["message.sent"]
    assert load(sessions, future).state == "pending"
    assert audit_actions(sessions, future) == []


def test_the_sent_audit_event_names_the_channel_and_the_recipient(
    sessions: sessionmaker[Session],
) -> None:
    (message_id,) = add_messages(sessions, 1)
    dispatch_once(sessions, only(CaptureChannel()), NOW)
    with sessions() as session:
        event = session.scalars(select(AuditEvent)).one()
    assert (event.action, event.subject_id, event.at) == ("message.sent", message_id, NOW)
    assert (event.actor, event.channel) == ("dispatch", "capture")
    assert event.detail == {"channel": "capture", "recipient": "市住建局"}


def test_dispatch_all_drains_every_batch(sessions: sessionmaker[Session]) -> None:
    ready = add_messages(sessions, 45)
    capture = CaptureChannel()
    assert dispatch_all(sessions, only(capture), NOW, limit=20) == 45
    assert ids(capture.sent) == ready
    assert dispatch_all(sessions, only(capture), NOW, limit=20) == 0
    assert len(capture.sent) == 45


def test_a_runs_batches_are_sent_by_the_same_worker_threads(
    sessions: sessionmaker[Session],
) -> None:
    add_messages(sessions, 30)
    threads: list[str] = []

    class Naming(CaptureChannel):
        def send(self, message: Outgoing) -> Receipt:
            threads.append(threading.current_thread().name)
            return super().send(message)

    assert Dispatcher(sessions, only(Naming()), workers=4).dispatch_all(NOW, limit=10) == 30
    assert len(threads) == 30
    assert len(set(threads)) == 1  # one lane a batch, three batches: one thread, started once


def test_a_remote_webhook_takes_at_most_its_lane_cap_a_batch_and_drain_sends_the_rest_in_order(
    sessions: sessionmaker[Session],
) -> None:
    ready = add_messages(sessions, LANE_CAP * 2 + 5, channel="hook")
    capture = CaptureChannel(name="hook")
    remote = Dispatcher(sessions, only(capture), {"hook": "webhook"})
    assert remote.dispatch_once(NOW) == LANE_CAP
    assert remote.dispatch_all(NOW) == LANE_CAP + 5
    assert ids(capture.sent) == ready
    assert {load(sessions, i).state for i in ready} == {"sent"}


def test_a_batch_takes_the_budget_for_every_webhook_in_one_go_and_the_rest_waits_its_turn(
    sessions: sessionmaker[Session],
) -> None:
    wecom = add_messages(sessions, 25, channel="wecom")
    capture = CaptureChannel(name="wecom")
    assert Dispatcher(sessions, only(capture), {"wecom": "wecom"}).dispatch_all(NOW) == 20
    assert ids(capture.sent) == wecom[:20]
    waiting = [load(sessions, i) for i in wecom[20:]]
    assert {(m.state, m.attempts, m.last_error) for m in waiting} == {
        ("pending", 0, "waiting: rate limit")
    }
    assert {m.not_before for m in waiting} == {NOW + timedelta(minutes=1, seconds=SEND_MARGIN)}


# --- failures -----------------------------------------------------------------------------


def test_a_temporary_failure_marks_the_message_failed_and_retries_it_with_backoff(
    sessions: sessionmaker[Session],
) -> None:
    (message_id,) = add_messages(sessions, 1)
    flaky = FailingChannel(DeliveryError("连接超时"))
    assert dispatch_once(sessions, only(flaky), NOW) == 1
    failed = load(sessions, message_id)
    assert (failed.state, failed.last_error, failed.claimed_until) == ("failed", "连接超时", None)
    assert failed.not_before == NOW + RETRY_AFTER * 2
    assert failed.sent_at is None
    assert audit_actions(sessions, message_id) == ["message.failed"]

    assert dispatch_once(sessions, only(flaky), failed.not_before - timedelta(seconds=1)) == 0
    dispatch_once(sessions, only(flaky), failed.not_before)
    again = load(sessions, message_id)
    assert again.not_before == failed.not_before + RETRY_AFTER * 4  # the wait doubles

    capture = CaptureChannel()
    assert dispatch_once(sessions, only(capture), again.not_before) == 1
    sent = load(sessions, message_id)
    assert (sent.state, sent.attempts, sent.last_error) == ("sent", 3, None)
    assert ids(capture.sent) == [message_id]
    assert flaky.tried == [message_id, message_id]
    assert audit_actions(sessions, message_id) == [
        "message.failed",
        "message.failed",
        "message.sent",
    ]


def test_a_permanent_failure_marks_the_message_dead_and_it_is_never_retried(
    sessions: sessionmaker[Session],
) -> None:
    (message_id,) = add_messages(sessions, 1)
    refused = FailingChannel(DeliveryError("机器人已被移出群聊", permanent=True))
    dispatch_once(sessions, only(refused), NOW)
    dead = load(sessions, message_id)
    assert (dead.state, dead.last_error, dead.attempts) == ("dead", "机器人已被移出群聊", 1)
    assert audit_actions(sessions, message_id) == ["message.dead"]
    assert dispatch_all(sessions, only(CaptureChannel()), NOW + timedelta(days=30)) == 0
    assert refused.tried == [message_id]


def test_a_message_that_keeps_failing_is_dead_after_the_last_attempt(
    sessions: sessionmaker[Session],
) -> None:
    (message_id,) = add_messages(sessions, 1)
    flaky = FailingChannel(DeliveryError("503 Service Unavailable"))
    moment = NOW
    for _ in range(MAX_ATTEMPTS - 1):
        assert dispatch_once(sessions, only(flaky), moment) == 1
        message = load(sessions, message_id)
        assert message.state == "failed"
        moment = message.not_before
    assert dispatch_once(sessions, only(flaky), moment) == 1
    dead = load(sessions, message_id)
    assert (dead.state, dead.attempts) == ("dead", MAX_ATTEMPTS)
    assert dispatch_once(sessions, only(flaky), moment + timedelta(days=30)) == 0
    assert len(flaky.tried) == MAX_ATTEMPTS
    assert audit_actions(sessions, message_id)[-1] == "message.dead"


# --- what a kill can repeat ---------------------------------------------------------------


@dataclass
class Doubt:
    """What the database cannot account for, seen at each send: the requests in flight plus
    the messages the platform took that are not yet recorded `sent`. A process killed at
    that moment would send them all again after the lease."""

    sessions: sessionmaker[Session]
    lock: threading.Lock = field(default_factory=threading.Lock)
    in_flight: int = 0
    taken: list[int] = field(default_factory=list)
    peak: int = 0

    def send(self, message: Outgoing) -> Receipt:
        with self.lock:
            self.in_flight += 1
            flying, taken = self.in_flight, list(self.taken)
        with self.sessions() as session:
            unrecorded = session.scalar(
                select(func.count())
                .select_from(Message)
                .where(Message.id.in_(taken), Message.state != "sent")
            )
        time.sleep(0.002)
        with self.lock:
            self.peak = max(self.peak, flying + (unrecorded or 0))
            self.in_flight -= 1
            self.taken.append(message.message_id)
        return Receipt({"errcode": 0})


@dataclass
class DoubtChannel:
    doubt: Doubt
    name: str

    def send(self, message: Outgoing) -> Receipt:
        return self.doubt.send(message)


@pytest.mark.parametrize("workers", [1, 4])
def test_a_kill_at_any_moment_could_repeat_at_most_one_message_a_worker(
    sessions: sessionmaker[Session], workers: int
) -> None:
    for hook in range(8):
        add_messages(sessions, 6, channel=f"hook{hook}")
    doubt = Doubt(sessions)
    channels = {f"hook{hook}": DoubtChannel(doubt, f"hook{hook}") for hook in range(8)}
    dispatcher = Dispatcher(
        sessions,
        lambda name: channels[name or "hook0"],
        {name: "webhook" for name in channels},
        workers=workers,
    )
    assert dispatcher.dispatch_all(NOW) == 48
    assert len(doubt.taken) == 48
    assert doubt.peak <= workers
    assert doubt.peak > 1 if workers > 1 else doubt.peak == 1
    with sessions() as session:
        assert set(session.scalars(select(Message.state))) == {"sent"}


def test_a_batch_holds_at_most_a_lane_cap_of_messages_a_worker_so_it_ends_inside_its_lease(
    sessions: sessionmaker[Session],
) -> None:
    add_messages(sessions, LANE_CAP * 3)
    capture = CaptureChannel()
    one = Dispatcher(sessions, only(capture), workers=1)
    assert one.dispatch_once(NOW) == LANE_CAP
    assert Dispatcher(sessions, only(capture), workers=2).dispatch_once(NOW) == 2 * LANE_CAP
    assert len(capture.sent) == 3 * LANE_CAP


def test_when_a_success_cannot_be_recorded_the_workers_stop_and_their_rows_wait_for_the_lease(
    sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    for hook in range(3):
        add_messages(sessions, 5, channel=f"hook{hook}")
    captures = {f"hook{hook}": CaptureChannel(name=f"hook{hook}") for hook in range(3)}
    dispatcher = Dispatcher(sessions, lambda name: captures[name or "hook0"], workers=3)

    def refused(*_: object) -> None:
        raise ProgrammingError("UPDATE messages", {}, Exception("permission denied"))

    monkeypatch.setattr(dispatcher, "_write_confirmations", refused)
    with pytest.raises(ProgrammingError):
        dispatcher.dispatch_once(NOW)
    # Each worker sent its lane's first message and no more; nothing is recorded sent.
    assert [len(capture.sent) for capture in captures.values()] == [1, 1, 1]
    with sessions() as session:
        rows = session.execute(select(Message.state, Message.claimed_until)).all()
    assert set(rows) == {("sending", NOW + LEASE)}


@dataclass
class RestartingChannel:
    """Sends like CaptureChannel; before its second send, the database drops the connection
    the recorder holds (the one checked out last)."""

    engine: Engine
    checked_out: list[Any]
    name: str = "hook0"
    sent: list[Outgoing] = field(default_factory=list)

    def send(self, message: Outgoing) -> Receipt:
        if len(self.sent) == 1:
            kill(self.engine, self.checked_out[-1])
        self.sent.append(message)
        return Receipt()


def test_a_recorder_whose_connection_the_database_dropped_records_on_a_new_one(
    sessions: sessionmaker[Session], caplog: pytest.LogCaptureFixture
) -> None:
    add_messages(sessions, 3, channel="hook0")
    dispatcher = Dispatcher(sessions, only(CaptureChannel()), workers=1)
    channel = RestartingChannel(dispatcher.engine, checkouts(dispatcher.engine))
    dispatcher.channel_for = only(channel)
    assert dispatcher.dispatch_once(NOW) == 3
    assert len(channel.sent) == 3
    with sessions() as session:
        assert set(session.scalars(select(Message.state))) == {"sent"}
    assert "database unreachable while recording sent messages" in caplog.text


# --- the runtime: channels by name and the send window -------------------------------------


def make_runtime(sessions: sessionmaker[Session], **channels: Channel) -> Runtime:
    return Runtime(
        sessions=sessions,
        rules=default_rules(),
        calendar=WorkCalendar(),
        tz=TZ,
        channels=dict(channels),
        default_channel="console",
    )


def test_each_message_goes_to_its_own_channel_and_an_unknown_one_to_the_default(
    sessions: sessionmaker[Session],
) -> None:
    console, archive = CaptureChannel("console"), CaptureChannel("archive")
    runtime = make_runtime(sessions, console=console, archive=archive)
    assert runtime.channel_for("archive") is archive
    assert runtime.channel_for(None) is console
    assert runtime.channel_for("wecom") is console
    with sessions.begin() as session:
        to_archive = make_message(session, channel="archive").id
        unnamed = make_message(session, channel=None).id
        unknown = make_message(session, channel="wecom").id
    assert runtime.dispatch(NOW) == 3
    assert ids(archive.sent) == [to_archive]
    assert ids(console.sent) == [unnamed, unknown]
    assert audit_actions(sessions, to_archive) == ["message.sent"]


@pytest.mark.parametrize(
    "moment",
    [
        pytest.param(local("2020-10-12T20:00"), id="an evening"),
        pytest.param(local("2020-10-12T08:59"), id="before the window opens"),
        pytest.param(local("2020-10-12T17:30"), id="as the window closes"),
        pytest.param(local("2020-10-17T10:00"), id="a Saturday"),
        pytest.param(local("2020-10-02T10:00"), id="a National Day holiday"),
    ],
)
def test_dispatch_sends_nothing_outside_the_send_window_and_the_message_waits(
    sessions: sessionmaker[Session], moment: datetime
) -> None:
    (message_id,) = add_messages(sessions, 1, not_before=local("2020-09-30T10:00"))
    capture = CaptureChannel("console")
    runtime = make_runtime(sessions, console=capture)
    assert runtime.dispatch(moment) == 0
    assert capture.sent == []
    waiting = load(sessions, message_id)
    assert (waiting.state, waiting.attempts) == ("pending", 0)
    assert runtime.dispatch(local("2020-10-12T09:00")) == 1
    assert ids(capture.sent) == [message_id]


def test_dispatch_sends_on_an_adjusted_working_saturday(sessions: sessionmaker[Session]) -> None:
    add_messages(sessions, 1, not_before=local("2020-10-09T10:00"))
    runtime = make_runtime(sessions, console=CaptureChannel("console"))
    assert runtime.dispatch(local("2020-10-10T10:00")) == 1  # 调休: a working Saturday


# --- concurrency --------------------------------------------------------------------------


def test_rows_being_claimed_are_held_back_from_a_second_claim(engine: Engine, db_url: str) -> None:
    """PostgreSQL skips the locked rows at once; SQLite waits for the first claim's commit.
    Either way the second claim gets only the rows the first one did not take."""
    expected = add_messages(writer_sessions(engine), 5)
    other = database.make_engine(db_url)
    second: list[list[int]] = []
    errors: list[BaseException] = []

    def claim_elsewhere() -> None:
        try:
            with writer_sessions(other).begin() as session:
                second.append([c.outgoing.message_id for c in claim(session, NOW, 10)])
        except BaseException as exc:  # reported below, in the test's own thread
            errors.append(exc)

    thread = threading.Thread(target=claim_elsewhere)
    try:
        with writer_sessions(engine).begin() as session:
            first = [c.outgoing.message_id for c in claim(session, NOW, 3)]
            thread.start()
            thread.join(timeout=0.3)  # the first claim's transaction is still open here
        thread.join(timeout=30)
    finally:
        other.dispose()
    assert errors == []
    assert first == expected[:3]
    assert second == [expected[3:]]


def test_two_dispatchers_at_once_send_every_message_exactly_once(
    engine: Engine, db_url: str
) -> None:
    expected = add_messages(writer_sessions(engine), 200)
    engines = [database.make_engine(db_url) for _ in range(2)]
    captures = [CaptureChannel() for _ in engines]
    totals: list[int] = []
    errors: list[BaseException] = []
    start = threading.Barrier(len(engines))

    def dispatcher(own: Engine, capture: CaptureChannel) -> None:
        try:
            start.wait(timeout=10)
            totals.append(dispatch_all(writer_sessions(own), only(capture), NOW, limit=10))
        except BaseException as exc:  # reported below, in the test's own thread
            errors.append(exc)

    threads = [
        threading.Thread(target=dispatcher, args=(own, capture))
        for own, capture in zip(engines, captures, strict=True)
    ]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        for own in engines:
            own.dispose()
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    sent = [message_id for capture in captures for message_id in ids(capture.sent)]
    assert len(sent) == len(set(sent)) == 200
    assert set(sent) == set(expected)
    assert sum(totals) == 200
    with database.session_factory(engine)() as session:
        rows = session.execute(select(Message.state, Message.attempts)).all()
    assert {(state, attempts) for state, attempts in rows} == {("sent", 1)}


def test_a_message_whose_items_link_to_report_pages_reaches_the_channel_with_its_card(
    sessions: sessionmaker[Session],
) -> None:
    (linked,) = add_messages(sessions, 1, items=items(2))
    (plain,) = add_messages(sessions, 1, items=[{"task": "9", "text": "无链接"}])
    capture = CaptureChannel()
    dispatch_once(sessions, only(capture), NOW)
    cards = {outgoing.message_id: outgoing.card for outgoing in capture.sent}
    assert cards[plain] is None
    card = cards[linked]
    assert card is not None
    assert [(link.number, link.url) for link in card.links] == [
        ("#12", f"{PAGE}tok0"),
        ("#13", f"{PAGE}tok1"),
    ]
    assert (card.button, card.more) == ("填报", "查看并填报")
