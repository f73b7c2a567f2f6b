"""Answers in the conversation, sent concurrently after their events were applied.

A reply URL is slow (DingTalk's session webhook, Feishu's API: tens of milliseconds or
more); sent one after another, the answers would set the pace of the replies. `Answerer`
keeps a few sender threads on a bounded queue instead: the processor hands it what it
applied and goes on applying. Like the processor, the senders let requests go first while
they come in a burst (bot/web/workers.py): one at a time, and each answer after waiting for
the burst to pass (for at most MAX_LAG seconds after it was queued). Each answer reads the
clock as it goes, so a session webhook that expired while the answer waited is not called.
Failures are the responder's to log (bot/replies/respond.py); either way the event is then
done, and the processor records it `processed` in its next transaction (`take_done`):
answering costs no transaction of its own. Until then the event is `answering` in the
database, and a process that stops before sending leaves it there for the next one
(`bot.replies.inbox.unanswered`).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from datetime import datetime

from bot.replies.inbox import Handled
from bot.replies.respond import Responder
from bot.web.workers import MAX_LAG

log = logging.getLogger("duban.web")
SENDERS = 16  # answers in flight: 16 at 50 ms each is 320 answers/s
MAX_WAITING = 2000  # answers queued before the processor waits for the senders
YIELD_STEP = 0.005


class Answerer:
    def __init__(
        self,
        responder: Callable[[str], Responder | None],
        clock: Callable[[], datetime],
        senders: int = SENDERS,
        waiting: int = MAX_WAITING,
        busy: Callable[[], bool] = lambda: False,
    ) -> None:
        self.responder, self.clock, self.senders = responder, clock, senders
        self.busy = busy  # requests come in a burst: acknowledgements go first
        self._gate = threading.Lock()  # one sender at a time watches `busy`; the others wait
        self.on_done: Callable[[], None] = lambda: None  # told after each answer
        self._queue: queue.Queue[tuple[Handled, float] | None] = queue.Queue(maxsize=waiting)
        self._lock = threading.Condition()
        self._open: set[int] = set()  # events queued or being answered
        self._done: list[int] = []  # events answered, not yet recorded
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        with self._lock:
            if self._threads:
                return
            self._threads = [
                threading.Thread(target=self._run, name=f"duban-answer-{n}", daemon=True)
                for n in range(self.senders)
            ]
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Sends what is queued (for up to `timeout` seconds), then stops; what is left
        stays `answering` for the next process."""
        with self._lock:
            threads, self._threads = self._threads, []
        for _ in threads:
            self._queue.put(None)
        deadline = time.monotonic() + timeout
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def submit(self, handled: Handled) -> None:
        """Queues the answer; waits while MAX_WAITING answers are queued."""
        self.start()
        with self._lock:
            self._open.add(handled.event)
        self._queue.put((handled, time.monotonic()))

    def in_flight(self) -> frozenset[int]:
        """Events whose answers are queued or being sent."""
        with self._lock:
            return frozenset(self._open)

    def take_done(self) -> list[int]:
        """Events answered since the last call, to be recorded `processed`."""
        with self._lock:
            done, self._done = self._done, []
            return done

    def put_back(self, done: list[int]) -> None:
        """Answered events whose recording failed: recorded next time."""
        with self._lock:
            self._done[:0] = done

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Waits until every queued answer went (tests, shutdown)."""
        with self._lock:
            return self._lock.wait_for(lambda: not self._open, timeout)

    def _run(self) -> None:
        while (job := self._queue.get()) is not None:
            handled, queued = job
            if self.busy():
                with self._gate:
                    while self.busy() and time.monotonic() - queued < MAX_LAG:
                        time.sleep(YIELD_STEP)
                    self._send(handled)
            else:
                self._send(handled)
            with self._lock:
                self._open.discard(handled.event)
                self._done.append(handled.event)
                self._lock.notify_all()
            self.on_done()

    def _send(self, handled: Handled) -> None:
        try:
            responder = self.responder(handled.source)
            if responder is not None:
                responder.respond(handled, self.clock())
        except Exception:
            log.exception("the answer to inbound event %s failed", handled.event)
