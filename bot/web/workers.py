"""The two threads behind the hooks: one keeps events, one acts on them.

`Receiver` is a group commit: request handlers hand it verified events and await; it writes
whatever has gathered since its last write in one transaction and then tells each handler
whether its event was new. One transaction per batch instead of one per request is what
lets the hooks acknowledge at a rate near the web framework's own.

`Processor` acts on kept events in the order they came, several in one transaction, and
hands their answers to the answerer (bot/web/answers.py); when it has had nothing to do for
a while it looks for events a stopped process kept but never acted on or never answered.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import queue
import threading
import time
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.exc import DataError, InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from bot.app.errors import Rejected
from bot.platforms.inbound import InboundMessage
from bot.replies.inbox import receive_many
from bot.store.held import HeldConnection

log = logging.getLogger("duban.web")
MAX_BATCH = 500
MAX_APPLY = 100  # events gathered for one batch of the processor
IDLE_SECONDS = 60.0
BUSY_GAP = 0.005  # seconds since the last request during which batches stay short
# Requests come in a burst, and go first, at BURST_RATE a second or more (acknowledging them
# then takes a good part of a core: a third at about 0.3 ms each), or when they queue for
# the receiver (its writes gather BURST_BATCH on average: on a loaded machine a burst may be
# acknowledged slower than BURST_RATE). Below, a steady stream: applied as it comes.
BURST_RATE = 1000.0
BURST_BATCH = 4.0
# A burst lasts until no request came for BURST_GAP: in a burst every request in flight may be
# waiting for the same write, and none comes in meanwhile (a few ms, more on a loaded machine).
BURST_GAP = 0.05
RATE_WINDOW = 0.1  # seconds of arrivals the rate is counted over
RELEASE_SECONDS = 1.0  # a receiver thread idle this long gives its connection back
TAKEN_SECONDS, TAKEN_STEP = 0.02, 0.0005  # `taken`: waiting for the writers, and its steps
MAX_LAG = 2.0  # seconds an event may wait for a burst to pass before it goes anyway
CATCH_UP = 0.5  # below a burst, an event this late is applied without rests
YIELD_STEP = 0.002
BUSY_SHARE = 3.0  # in a burst, seconds of rest per second of applying
SETTLE_SECONDS = 0.1  # how long answers sent gather before they are recorded on their own

Waiter = asyncio.Future[int | None]
Kept = int | Exception | None  # an event's row id, None (it came before), or why not kept
_Item = tuple[str, InboundMessage, datetime, asyncio.AbstractEventLoop, Waiter]
NUDGE, HELD = "nudge", "held"
_Job = tuple[int, float] | threading.Event | str | None


class Receiver:
    """`writers` threads write batches: one for SQLite (one writer at a time anyway), more
    for PostgreSQL, where a batch mostly waits for its commit to be flushed and the next
    batch can be written meanwhile."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        writers: int = 1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sessions, self.writers, self.clock = sessions, writers, clock
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self.last_arrival = 0.0  # clock() of the latest request
        self.arrivals = 0  # requests so far
        self.gathered = 1.0  # events a write keeps, on average over the last few
        self._last_write = 0.0
        self._windows = ((0.0, 0), (0.0, 0))  # (clock(), arrivals) at the last two counts
        self._counting = threading.Lock()

    @property
    def busy(self) -> bool:
        """Requests are coming in right now."""
        return self.clock() - self.last_arrival < BUSY_GAP

    def rate(self) -> float:
        """Requests a second lately: since the count before last (RATE_WINDOW to twice that
        ago) or since the last, once that spans a fifth of it, whichever is higher (a burst
        is seen within about RATE_WINDOW); 0 after a pause."""
        now = self.clock()
        with self._counting:
            (start, count), (last, last_count) = self._windows
            if now - last >= RATE_WINDOW:
                (start, count), (last, last_count) = (last, last_count), (now, self.arrivals)
                self._windows = ((start, count), (last, last_count))
            arrived = self.arrivals
        rates = [0.0]
        if now - start <= 3 * RATE_WINDOW:
            rates.append((arrived - count) / (now - start))
        if now - last >= RATE_WINDOW / 5:
            rates.append((arrived - last_count) / (now - last))
        return max(rates)

    def burst(self) -> bool:
        """Requests come in a burst: acknowledgements go first."""
        if self.clock() - self.last_arrival >= BURST_GAP:
            return False
        return self.gathered >= BURST_BATCH or self.rate() >= BURST_RATE

    def wrote(self, count: int) -> None:
        """A write kept `count` events (the average is a moving one, over about five, and
        starts again after a pause: a burst's writes say nothing of the next request's)."""
        now = self.clock()
        last, self._last_write = self._last_write, now
        if now - last >= BURST_GAP:
            self.gathered = float(count)
        else:
            self.gathered += (count - self.gathered) / 5

    def taken(self, within: float = TAKEN_SECONDS) -> None:
        """Waits until the requests queued so far were taken by a writer, for at most
        `within` seconds: a burst's batch of applying on SQLite, whose transaction takes
        the write lock these writes need, begins after them, not while they wait."""
        until = time.monotonic() + within
        while not self._queue.empty() and time.monotonic() < until:
            time.sleep(TAKEN_STEP)

    def start(self) -> None:
        if not self._threads:
            self._threads = [
                threading.Thread(target=self._run, name=f"duban-receiver-{n}", daemon=True)
                for n in range(self.writers)
            ]
            for thread in self._threads:
                thread.start()

    def stop(self) -> None:
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join(timeout=10)
        self._threads = []

    async def receive(self, source: str, message: InboundMessage, now: datetime) -> int | None:
        """Keeps the event; its row id, or None when the platform sent it before."""
        if not self._threads:
            raise RuntimeError("the receiver is not running")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[int | None] = loop.create_future()
        self._queue.put((source, message, now, loop, future))
        self.last_arrival = self.clock()
        self.arrivals += 1
        return await future

    def _run(self) -> None:
        keeper = Keeper(self.sessions)
        try:
            self._gather(keeper)
        finally:
            keeper.close()

    def _gather(self, keeper: Keeper) -> None:
        while (first := self._next(keeper)) is not None:
            batch = [first]
            stopping = False
            while len(batch) < MAX_BATCH:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:  # a stop for this thread: the batch in hand first
                    stopping = True
                    break
                batch.append(item)
            self._write(keeper, batch)
            if stopping:
                return

    def _next(self, keeper: Keeper) -> _Item | None:
        """The next request; the connection goes back to the pool while none comes for
        RELEASE_SECONDS (a receiver nobody stops holds none for long)."""
        try:
            return self._queue.get(timeout=RELEASE_SECONDS)
        except queue.Empty:
            keeper.close()
            return self._queue.get()

    def _write(self, keeper: Keeper, batch: list[_Item]) -> None:
        self.wrote(len(batch))
        results = keeper.keep([(s, m, n) for s, m, n, _, _ in batch])
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[Waiter, Kept]]] = {}
        for (*_, loop, future), result in zip(batch, results, strict=True):
            by_loop.setdefault(loop, []).append((future, result))
        for loop, answers in by_loop.items():  # one wake-up of the loop for the whole batch
            loop.call_soon_threadsafe(_resolve, answers)


class Keeper:
    """Keeps batches of events for one writer thread, on a connection it holds from batch to
    batch (bot/store/held.py), each batch one statement (on PostgreSQL without BEGIN and
    COMMIT). A batch that fails because the held connection had gone (the database
    restarted) is written once more on a new one."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.connection = HeldConnection(sessions.kw["bind"], single_statement=True)

    def keep(self, events: list[tuple[str, InboundMessage, datetime]]) -> list[Kept]:
        """Keeps `events` in one statement: for each, its row id, None when it came before,
        or the error its handler raises. When the batch fails for something in it rather
        than for the database, each event is tried in a statement of its own, so that one
        event the database refuses does not take the others with it."""
        held = self.connection.held
        try:
            with self.connection.transaction() as connection:
                return list(receive_many(connection, events))
        except Exception as exc:
            failure = exc
        if held and not self.connection.held:  # the held one had gone: once more, on a new one
            return self.keep(events)
        if isinstance(failure, (OperationalError, InterfaceError)):
            return [failure] * len(events)  # the database is down: 503 for all
        if len(events) == 1:
            return [_refusal(failure)]
        name = type(failure).__name__
        log.warning("a batch of %d events failed (%s): one by one", len(events), name)
        results: list[Kept] = []
        for event in events:
            results += self.keep([event])
        return results

    def close(self) -> None:
        self.connection.close()


def keep_events(
    sessions: sessionmaker[Session], events: list[tuple[str, InboundMessage, datetime]]
) -> list[Kept]:
    """`Keeper.keep` on a connection of its own."""
    keeper = Keeper(sessions)
    try:
        return keeper.keep(events)
    finally:
        keeper.close()


def _refusal(exc: Exception) -> Exception:
    """What the handler of an event that could not be kept answers: 400 when the database
    refused its data (the platform would only send it again), else the error (503)."""
    if isinstance(exc, DataError):
        log.warning("an inbound event could not be stored: %s", type(exc.orig).__name__)
        return Rejected(400, "the event cannot be stored")
    return exc


def _resolve(answers: list[tuple[Waiter, Kept]]) -> None:
    for future, answer in answers:
        if future.done():
            continue
        if isinstance(answer, Exception):
            future.set_exception(answer)
        else:
            future.set_result(answer)


class Processor:
    """Acknowledgements come first: they have the platforms' deadlines (3 s for DingTalk
    and Feishu), the answers in chat do not. In a burst (`burst()`, the receiver's) the
    processor lets the requests go ahead, but never lets an event wait more than MAX_LAG
    seconds for them, and then applies a quarter of the time: a burst is acknowledged at
    full speed and answered right after. A steadier stream is applied as it comes, resting
    after each batch in proportion to the rate (at 200 requests/s, 0.6 times as long as it
    applied) and less as the events wait longer: a stream it can keep up with is answered
    as it comes. While any request is coming in (`busy()`) the batches are short
    (`apply`'s).

    Events are applied in batches: `apply` takes the ids gathered so far (up to
    MAX_APPLY) and returns those it left for the next batch (it keeps each transaction
    short, so that the receiver's writes do not wait long behind it). `nudge` wakes the
    processor for bookkeeping (`apply([])`: answers sent since its last batch)."""

    def __init__(
        self,
        apply: Callable[[list[int]], list[int]],
        finish_pending: Callable[[], int],
        busy: Callable[[], bool] = lambda: False,
        burst: Callable[[], bool] = lambda: False,
        rate: Callable[[], float] = lambda: 0.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.apply, self.finish_pending, self.busy = apply, finish_pending, busy
        self.burst, self.rate, self.clock, self.sleep = burst, rate, clock, sleep
        self._queue: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._nudged = threading.Event()

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="duban-processor", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stops after the batch at hand; events still queued stay `received` in the
        database and are taken up by the next process."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=10)
            self._thread = None

    def submit(self, event_id: int) -> None:
        self._queue.put((event_id, self.clock()))

    def nudge(self) -> None:
        if not self._nudged.is_set():
            self._nudged.set()
            self._queue.put(NUDGE)

    def drain(self, timeout: float = 10.0) -> None:
        """Waits until what was submitted so far has been acted on (tests, shutdown)."""
        done = threading.Event()
        self._queue.put(done)
        done.wait(timeout)

    def _run(self) -> None:
        held: list[tuple[int, float]] = []  # left by the last batch: first in the next
        while True:
            if held:
                job: _Job = HELD
            else:
                try:
                    job = self._queue.get(timeout=IDLE_SECONDS)
                except queue.Empty:
                    self._guard(self.finish_pending)
                    continue
            batch, waiters, stopping = held, [], job is None
            held = []
            while job is not None:
                if isinstance(job, threading.Event):
                    waiters.append(job)
                elif isinstance(job, tuple):
                    batch.append(job)
                if len(batch) >= MAX_APPLY:
                    break
                try:
                    if not batch and not waiters:  # answers alone: a few at a time
                        job = self._queue.get(timeout=SETTLE_SECONDS)
                    else:
                        job = self._queue.get_nowait()
                except queue.Empty:
                    break
                stopping = job is None
            if batch:
                first = min(submitted for _, submitted in batch)
                while self.burst() and self.clock() - first < MAX_LAG and not stopping:
                    self.sleep(YIELD_STEP)
            self._nudged.clear()  # answers sent from now on nudge again
            ids = [event_id for event_id, _ in batch]
            applying = self.clock()
            left = self._guard(functools.partial(self.apply, ids))
            applying = self.clock() - applying
            if isinstance(left, list) and not stopping:
                submitted = dict(batch)
                held = [(event_id, submitted[event_id]) for event_id in left]
            if not held:
                for waiter in waiters:
                    waiter.set()
            else:  # the waiters wait for the rest of the batch
                for waiter in waiters:
                    self._queue.put(waiter)
            if stopping:
                return
            if batch and (self.busy() or self.burst()):  # the requests' turn
                self.sleep(self._rest(applying, self.clock() - first))

    def _rest(self, applying: float, lag: float) -> float:
        """Seconds of rest after `applying` seconds of it while requests come in: in a
        burst BUSY_SHARE times as long; else less the slower they come, and none once the
        batch's first event waited CATCH_UP seconds (a stream the processor can keep up
        with is kept up with)."""
        if self.burst():
            return max(YIELD_STEP, BUSY_SHARE * applying)
        behind = max(0.0, 1.0 - lag / CATCH_UP)
        return BUSY_SHARE * min(1.0, self.rate() / BURST_RATE) * behind * applying

    def _guard(self, job: Callable[[], object]) -> object:
        try:
            return job()
        except Exception:
            log.exception("processing inbound events failed; they stay queued in the database")
            return None
