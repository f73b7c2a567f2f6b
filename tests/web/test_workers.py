"""The receiver's group commit: one event the database refuses costs only itself. The
processor keeps up with a steady stream and lets a burst be acknowledged first."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import UTC, datetime
from typing import cast

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.app.errors import Rejected
from bot.platforms.inbound import InboundMessage
from bot.store.models import InboundEvent
from bot.web import workers
from bot.web.budget import APPLY_SECONDS, BUSY_APPLY_SECONDS
from bot.web.workers import (
    BURST_RATE,
    BUSY_GAP,
    MAX_LAG,
    Keeper,
    Processor,
    Receiver,
    keep_events,
)
from tests.support.database import checkouts, kill

NOW = datetime(2020, 3, 10, 2, 0, tzinfo=UTC)


def event(n: int, raw: dict[str, object] | None = None) -> tuple[str, InboundMessage, datetime]:
    message = InboundMessage(
        "generic", f"oa-{n}", "liaison1", f"收到 #{n}", NOW, None, None, None, raw or {"n": n}
    )
    return "oa", message, NOW


def test_a_batch_with_an_event_the_database_refuses_keeps_the_others(
    sessions: sessionmaker[Session],
) -> None:
    # PostgreSQL refuses a JSON payload holding Infinity; the parsers no longer let one in,
    # but whatever else a database refuses must not take a whole batch with it.
    batch = [event(n) for n in range(3)] + [event(3, {"n": float("inf")})]
    batch += [event(n) for n in range(4, 8)]
    kept = keep_events(sessions, batch)
    legitimate = kept[:3] + kept[4:]
    assert all(isinstance(found, int) for found in legitimate), kept
    if sessions.kw["bind"].dialect.name == "postgresql":
        assert isinstance(kept[3], Rejected)
        assert kept[3].status == 400
    with sessions() as session:
        stored = session.scalars(select(InboundEvent.event_id)).all()
    assert {f"oa-{n}" for n in (0, 1, 2, 4, 5, 6, 7)} <= set(stored)


def test_an_event_sent_twice_in_one_batch_is_kept_once(sessions: sessionmaker[Session]) -> None:
    first, again = keep_events(sessions, [event(1), event(1)])
    assert isinstance(first, int)
    assert again is None


def test_a_keeper_whose_connection_was_killed_keeps_the_batch_on_a_new_one(
    sessions: sessionmaker[Session],
) -> None:
    engine = sessions.kw["bind"]
    checked_out = checkouts(engine)
    keeper = Keeper(sessions)
    try:
        assert isinstance(keeper.keep([event(1)])[0], int)
        kill(engine, checked_out[-1])
        kept = keeper.keep([event(2), event(3)])
    finally:
        keeper.close()
    assert all(isinstance(found, int) for found in kept), kept
    assert len(checked_out) == 2  # one held for the first batch, a new one for the second
    with sessions() as session:
        stored = session.scalars(select(InboundEvent.event_id)).all()
    assert sorted(stored) == ["oa-1", "oa-2", "oa-3"]


def test_a_receiver_gives_its_connection_back_when_no_request_comes(
    sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(workers, "RELEASE_SECONDS", 0.5)
    pool = sessions.kw["bind"].pool
    receiver = Receiver(sessions)
    receiver.start()
    try:
        source, message, now = event(1)
        assert isinstance(asyncio.run(receiver.receive(source, message, now)), int)
        held = pool.checkedout()
        deadline = time.monotonic() + 5
        while pool.checkedout() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert (held, pool.checkedout()) == (1, 0)
    finally:
        receiver.stop()


class Stream:
    """Requests at `rate` a second for `seconds` on a virtual clock, each event handed to a
    `Processor` as it is kept, each costing `cost` seconds to apply, in batches as short as
    `WebContext._apply` makes them while requests come in. Time moves only as the processor
    applies or rests, or, when it has nothing to do, to the next request."""

    def __init__(self, rate: float, seconds: float, cost: float) -> None:
        self.rate, self.cost, self.now = rate, cost, 0.0
        self.arrivals = [n / rate for n in range(int(rate * seconds))]
        self.end = self.arrivals[-1]
        self.kept = 0  # requests so far
        self.applied: dict[int, float] = {}  # event → when it was applied
        self.applying = 0.0  # seconds spent applying while the requests came
        self.finished = threading.Event()
        self.processor = Processor(
            self.apply,
            lambda: 0,
            busy=self.busy,
            burst=lambda: self.busy() and self.rate >= BURST_RATE,
            rate=lambda: self.rate if self.busy() else 0.0,
            clock=lambda: self.now,
            sleep=self.advance,
        )

    def run(self) -> Stream:
        self.advance(0.0)
        self.processor.start()
        assert self.finished.wait(30), f"{len(self.applied)} of {len(self.arrivals)} applied"
        self.processor.stop()
        return self

    def busy(self) -> bool:
        return self.now - self.arrivals[self.kept - 1] < BUSY_GAP

    def advance(self, seconds: float) -> None:
        self.now += seconds
        while self.kept < len(self.arrivals) and self.arrivals[self.kept] <= self.now:
            self.kept += 1
            self.processor.submit(self.kept - 1)

    def apply(self, ids: list[int]) -> list[int]:
        budget = BUSY_APPLY_SECONDS if self.processor.busy() else APPLY_SECONDS
        started = self.now
        for n, event in enumerate(ids):
            if n and self.now - started > budget:
                return ids[n:]
            if self.now <= self.end:
                self.applying += self.cost
            self.advance(self.cost)
            self.applied[event] = self.now
        if len(self.applied) == len(self.arrivals):
            self.finished.set()
        elif len(self.applied) == self.kept:  # nothing to do until the next request
            self.advance(self.arrivals[self.kept] - self.now)
        return []

    def lags(self) -> list[float]:
        return [self.applied[n] - at for n, at in enumerate(self.arrivals)]


@pytest.mark.parametrize("cost", [0.002, 0.0045])
def test_a_steady_stream_is_applied_as_it_comes(cost: float) -> None:
    # 200 requests/s for 10 s, each event taking 2 ms to apply (SQLite here) or 4.5 ms (90%
    # of the processor's time): requests arrive every 5 ms, so they are always "coming in",
    # and a processor that let them go first until each event had waited MAX_LAG (2 s),
    # then rested three times as long as it applied, fell behind for good.
    stream = Stream(200, 10, cost).run()
    assert max(stream.lags()) < 1.0
    assert max(stream.applied.values()) - stream.end < 1.0  # the backlog: under a second


def test_a_burst_is_acknowledged_first_and_applied_after() -> None:
    # 3,000 requests/s for 3 s: the events wait up to MAX_LAG for the requests, then the
    # processor applies a quarter of the time while they last.
    stream = Stream(3000, 3, 0.002).run()
    lags = stream.lags()
    assert min(lags[:100]) >= MAX_LAG
    assert stream.applying <= 0.25 * (stream.end - MAX_LAG) + 0.1
    assert len(stream.applied) == 9000


def test_the_rate_is_the_requests_of_the_last_moments() -> None:
    now = [100.0]
    receiver = Receiver(cast(sessionmaker[Session], None), clock=lambda: now[0])
    assert receiver.rate() == 0.0

    def arrive(count: int, seconds: float) -> None:
        for _ in range(count):
            now[0] += seconds / count
            receiver.last_arrival, receiver.arrivals = now[0], receiver.arrivals + 1
            receiver.rate()  # asked now and then, as the processor does

    arrive(100, 0.5)
    assert receiver.rate() == pytest.approx(200, rel=0.05)
    assert receiver.busy
    assert not receiver.burst()
    arrive(200, 0.1)  # a burst is seen within 0.1 s
    assert receiver.rate() >= BURST_RATE
    assert receiver.burst()
    now[0] += 5.0
    assert receiver.rate() == 0.0
    assert not receiver.busy


def test_requests_queueing_for_the_receiver_are_a_burst_whatever_their_rate() -> None:
    # On a loaded machine a burst may be acknowledged at less than BURST_RATE a second; the
    # receiver's writes then gather many events each, where a stream's keep one or two.
    now = [100.0]
    receiver = Receiver(cast(sessionmaker[Session], None), clock=lambda: now[0])
    receiver.last_arrival = now[0]
    for _ in range(20):
        receiver.wrote(1)
    assert not receiver.burst()
    for _ in range(3):
        receiver.wrote(20)
    assert receiver.rate() < BURST_RATE
    assert receiver.burst()
    now[0] += 1.0  # a request after a pause is no burst, whatever the writes before it
    receiver.last_arrival = now[0]
    receiver.wrote(1)
    assert not receiver.burst()


def test_taken_waits_for_the_writers_to_take_the_queued_requests_for_a_while_at_most() -> None:
    receiver = Receiver(cast(sessionmaker[Session], None))
    queued = receiver._queue  # a request waiting for a writer (none runs here)
    queued.put(None)
    threading.Timer(0.1, queued.get).start()  # a writer takes it after 0.1 s
    started = time.monotonic()
    receiver.taken(within=5.0)
    assert 0.09 < time.monotonic() - started < 4.0
    queued.put(None)  # and one no writer takes
    started = time.monotonic()
    receiver.taken(within=0.05)
    assert 0.05 <= time.monotonic() - started < 4.0
