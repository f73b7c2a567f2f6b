"""What the web app's handlers share: settings, database sessions, the clock, who is who,
the answerers, and counters of what came in."""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import httpx
import prometheus_client
from apscheduler.schedulers.base import BaseScheduler
from sqlalchemy import Engine, select
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from bot.app.config import InboundSettings, Settings
from bot.app.metrics import INBOUND_REQUESTS
from bot.app.runtime import composer_of
from bot.evidence.store import EvidenceStore, open_store
from bot.intake.directory import Directory, load_directory
from bot.platforms.feishu.api import MessageResources, TenantToken
from bot.platforms.inbound import InboundMessage
from bot.platforms.pooled import PooledClient
from bot.platforms.registry import INBOUND
from bot.replies.evidence import ChatEvidence, Ready
from bot.replies.identity import People
from bot.replies.inbox import (
    Handled,
    act_on,
    answered,
    claim,
    handle,
    pending,
    release,
    stored_event_id,
    unanswered,
)
from bot.replies.lookups import Lookups
from bot.replies.respond import (
    DingtalkResponder,
    FeishuApi,
    FeishuResponder,
    HttpFeishuApi,
    Responder,
)
from bot.store.database import session_factory, writer
from bot.store.models import InboundEvent
from bot.web.answers import SENDERS, Answerer
from bot.web.budget import Budget
from bot.web.replay import SeenSignatures
from bot.web.workers import MAX_APPLY, Processor, Receiver

log = logging.getLogger("duban.web")
Clock = Callable[[], datetime]
FeishuApiFactory = Callable[[InboundSettings, httpx.Client], FeishuApi]
PEOPLE_TTL = 30.0  # seconds a loaded contact index is used before it is read again
UNFINISHED = timedelta(minutes=1)  # a received event untouched this long was interrupted


def utc_now() -> datetime:
    return datetime.now(UTC)


def http_feishu_api(config: InboundSettings, client: httpx.Client) -> FeishuApi:
    return HttpFeishuApi(
        TenantToken(client, config.app_id or "", config.app_secret or "", config.api_base)
    )


class Answered(NamedTuple):
    """A message kept, acted on and answered within its request."""

    reply: str | None  # the answer (a retry gets the first one again); None: nothing to say
    duplicate: bool  # the platform sent this message before
    changed: bool  # acting on it changed something


@dataclass
class WebContext:
    settings: Settings
    sessions: sessionmaker[Session]
    clock: Clock = utc_now
    # Answers in chat go as the daemon's sends do: urllib3's pool for a POST of bytes, a
    # client of its own for each sender thread (one httpx pool shared by them was half the
    # interpreter lock they held).
    http: httpx.Client = field(default_factory=lambda: PooledClient(SENDERS))
    feishu_api: FeishuApiFactory = http_feishu_api
    directory: Directory | None = None
    counters: Counter[tuple[str, str]] = field(default_factory=Counter)
    scheduler: BaseScheduler | None = None  # set by `duban run`: /readyz checks it
    signatures: SeenSignatures = field(default_factory=SeenSignatures)  # DingTalk's, used once
    monotonic: Callable[[], float] = time.monotonic  # what a batch of applying is timed by

    def __post_init__(self) -> None:
        bind = self.sessions.kw.get("bind")
        # Writes take SQLite's lock at BEGIN, so concurrent handlers queue instead of failing.
        if isinstance(bind, Engine) and bind.dialect.name == "sqlite":
            self.sessions = session_factory(writer(bind))
        if self.directory is None:
            self.directory = load_directory(self.settings.directory.path)
        self.composer = composer_of(self.settings, self.directory.office.name)
        self._people: tuple[People, float] | None = None
        self._lock = threading.Lock()
        self._children: dict[tuple[str, str], prometheus_client.Counter] = {}  # INBOUND_REQUESTS's
        self._responders: dict[str, Responder] = {}
        self._resources: dict[str, MessageResources] = {}
        self._store: EvidenceStore | None = None
        self.evidence = ChatEvidence(self.settings.report, self.evidence_store, self.resources)
        sqlite = isinstance(bind, Engine) and bind.dialect.name == "sqlite"
        # PostgreSQL: two writers, one writing while the other's commit is flushed (four cost
        # a fifth more CPU a request for no more requests a second; one, fewer a second).
        self.receiver = Receiver(self.sessions, writers=1 if sqlite else 2)
        self.budget = Budget(sqlite)  # a batch's time (bot/web/budget.py)
        self.processor = Processor(
            self.process,
            self.finish_pending,
            busy=lambda: self.receiver.busy,
            burst=self.receiver.burst,
            rate=self.receiver.rate,
        )
        self.answerer = Answerer(self.responder, self.clock, busy=self.receiver.burst)
        self.answerer.on_done = self.processor.nudge

    def start(self) -> None:
        for name, hook in self.settings.inbound.items():
            if hook.platform == "feishu" and not hook.encrypt_key:
                log.warning(
                    "feishu hook %s takes unsigned events (allow_unsigned = true): whoever "
                    "learns its verification token can send replies; set encrypt_key",
                    name,
                )
        self.receiver.start()
        self.processor.start()
        self.answerer.start()

    def stop(self) -> None:
        self.receiver.stop()
        self.processor.stop()
        self.answerer.stop()
        self._record_answered()

    def drain(self, timeout: float = 10.0) -> None:
        """Waits until what was submitted so far was acted on, answered and recorded."""
        self.processor.drain(timeout)
        self.answerer.wait_idle(timeout)
        self.processor.nudge()
        self.processor.drain(timeout)

    async def keep(self, source: str, message: InboundMessage, now: datetime) -> int | None:
        """Keeps a verified event (group commit); its row id, or None for a platform's retry."""
        self.receiver.start()  # started by the app's lifespan; here for apps used without it
        return await self.receiver.receive(source, message, now)

    async def answer_now(self, source: str, message: InboundMessage, now: datetime) -> Answered:
        """Keeps, acts and answers within the request (WeCom, the generic hook, card taps)."""
        new = await self.keep(source, message, now)
        if new is None:
            self.count(message.platform, "duplicate")
            earlier = await run_in_threadpool(self.earlier_reply, source, message.event_id)
            return Answered(earlier, True, False)
        self.count(message.platform, "accepted")
        handled = await run_in_threadpool(self.handle, new, now)
        if handled is None:
            return Answered(None, False, False)
        return Answered(handled.reply, False, handled.changed)

    def act_later(self, event_id: int) -> None:
        self.processor.start()
        self.processor.submit(event_id)

    def inbound(self, name: str, platform: str) -> InboundSettings | None:
        config = self.settings.inbound.get(name)
        return config if config is not None and config.platform == platform else None

    def office_review(self) -> str:
        """The office's 待审 page (bot/web/review.py), signed now; "" when links are off."""
        return self.composer.links.review("office", None, self.clock()) or ""

    def evidence_link(self, evidence_id: int) -> str | None:
        """An evidence file's download link, signed now; None when links are off."""
        return self.composer.links.evidence(evidence_id, self.clock())

    def count(self, platform: str, outcome: str) -> None:
        """One more request with this outcome; the labels are a fixed few (`_platform`), and
        each one's metric child is looked up once."""
        key = (platform, outcome)
        with self._lock:
            self.counters[key] += 1
            child = self._children.get(key)
            if child is None:
                child = self._children[key] = INBOUND_REQUESTS.labels(platform, outcome)
        child.inc()

    def people(self) -> People:
        with self._lock:
            if self._people is not None and self._people[1] > time.monotonic():
                return self._people[0]
        with self.sessions() as session:
            assert self.directory is not None
            people = People.load(session, self.directory.office)
        with self._lock:
            self._people = (people, time.monotonic() + PEOPLE_TTL)
        return people

    def handle(self, event_id: int, now: datetime) -> Handled | None:
        people = self.people()
        with self.sessions.begin() as session:
            return self._acting(session, people, event_id, now)()

    def _acting(
        self, session: Session, people: People, event_id: int, now: datetime, **more: Any
    ) -> Callable[..., Handled | None]:
        """`handle` for one event, with this app's composer and evidence store."""
        return functools.partial(
            handle,
            session,
            people,
            event_id,
            now,
            composer=self.composer,
            evidence=self.evidence,
            **more,
        )

    def earlier_reply(self, source: str, event_id: str) -> str | None:
        """The answer given the first time a message came (a platform's retry)."""
        with self.sessions() as session:
            return session.scalar(
                select(InboundEvent.reply).where(
                    InboundEvent.source == source,
                    InboundEvent.event_id == stored_event_id(event_id),
                )
            )

    def responder(self, source: str) -> Responder | None:
        config = self.settings.inbound.get(source)
        if config is None or not INBOUND[config.platform].answers_by_api:
            return None
        with self._lock:
            if source not in self._responders:
                self._responders[source] = (
                    DingtalkResponder(self.http, config.session_webhook_origins)
                    if config.platform == "dingtalk"
                    else FeishuResponder(self.feishu_api(config, self.http))
                )
            return self._responders[source]

    def evidence_store(self) -> EvidenceStore:
        with self._lock:
            if self._store is None:
                self._store = open_store(self.settings.report)
            return self._store

    def resources(self, source: str) -> MessageResources | None:
        """Where the files sent to `source` are read: a Feishu app's message resources, on
        its configured api_base only; None where duban cannot read them yet."""
        config = self.settings.inbound.get(source)
        if config is None or config.platform != "feishu" or not config.app_id:
            return None
        with self._lock:
            if source not in self._resources:
                token = TenantToken(
                    self.http, config.app_id, config.app_secret or "", config.api_base
                )
                self._resources[source] = MessageResources(self.http, token)
            return self._resources[source]

    def process(self, event_ids: list[int]) -> list[int]:
        """After the acknowledgement: acts on the events in one transaction, records the
        answers sent since the last batch, and hands the new answers to the answerer once
        the transaction is committed. Returns the events it left for the next batch: it
        stops taking new ones after its budget's time, and in a burst takes only as many
        as fit in it (bot/web/budget.py). When one event fails, the batch is done
        again with a savepoint for each: the one that fails stays `received` (for
        `finish_pending`), the others go on. Files sent as evidence are read first, outside
        the transaction (a few per batch: the events from the next file on wait)."""
        done = self.answerer.take_done()
        later: list[int] = []
        if self.receiver.burst():
            if self.budget.sqlite:  # the acknowledgements' writes first
                self.receiver.taken()
            fits = self.budget.fits()
            event_ids, later = event_ids[:fits], event_ids[fits:]
        try:
            people = self.people() if event_ids else None
            ready: dict[int, Ready] = {}
            if people is not None:
                ready, count = self.evidence.read_ahead(
                    self.sessions, people, event_ids, self.clock(), self.composer
                )
                event_ids, later = event_ids[:count], event_ids[count:] + later
            try:
                handled, left = self._apply(people, event_ids, done, ready, careful=False)
            except (OperationalError, InterfaceError):
                raise  # the database is gone: the whole batch waits
            except Exception:
                handled, left = self._apply(people, event_ids, done, ready, careful=True)
        except Exception:
            # The events stay `received`; `finish_pending` takes them up again.
            self.answerer.put_back(done)
            log.exception("inbound events %s could not be processed now", event_ids[:10])
            return []
        for one in handled:
            self.answerer.submit(one)
        return left + later

    def _apply(
        self,
        people: People | None,
        event_ids: list[int],
        done: list[int],
        ready: dict[int, Ready],
        *,
        careful: bool,
    ) -> tuple[list[Handled], list[int]]:
        now, started = self.clock(), self.monotonic()
        handled: list[Handled] = []
        left: list[int] = []
        with self.sessions.begin() as session:
            answered(session, done)
            # Claimed together, written together (at the commit's flush): a few statements
            # a batch, not a few an event. Careful, each event claims its own.
            claimed = {} if careful else claim(session, event_ids)
            lookups = Lookups()
            begun = self.monotonic()
            for n, event_id in enumerate(event_ids):
                took = self.monotonic() - started
                budget = self.budget.limit(self.receiver.busy or self.receiver.burst())
                if n and took > budget:
                    release(session, [i for i in event_ids[n:] if i in claimed])
                    left = event_ids[n:]
                    break
                assert people is not None
                if careful:
                    act = self._acting(session, people, event_id, now, ready=ready)
                    one = self._careful(session, event_id, act)
                elif (event := claimed.get(event_id)) is not None:
                    one = act_on(
                        session,
                        people,
                        event,
                        now,
                        composer=self.composer,
                        answer_later=True,
                        evidence=self.evidence,
                        ready=ready,
                        lookups=lookups,
                    )
                else:
                    one = None
                if one is not None:
                    handled.append(one)
            applying = self.monotonic() - begun  # the batch's claim and commit aside
        self.budget.applied(len(event_ids) - len(left), applying)
        return handled, left

    @staticmethod
    def _careful(
        session: Session, event_id: int, act: Callable[..., Handled | None]
    ) -> Handled | None:
        try:
            with session.begin_nested():
                return act(answer_later=True)
        except (OperationalError, InterfaceError):
            raise
        except Exception:
            log.exception("inbound event %s could not be processed now", event_id)
            return None

    def _record_answered(self) -> None:
        if done := self.answerer.take_done():
            try:
                with self.sessions.begin() as session:
                    answered(session, done)
            except Exception:
                log.exception("answered inbound events could not be recorded")

    def finish_pending(self) -> int:
        """Events a stopped process acknowledged but never acted on or never answered."""
        now = self.clock()
        with self.sessions.begin() as session:
            waiting = pending(session, now, UNFINISHED)
            lost = unanswered(session, now, UNFINISHED, self.answerer.in_flight())
        for one in lost:
            self.answerer.submit(one)
        found = len(waiting) + len(lost)
        while waiting:
            waiting = self.process(waiting[:MAX_APPLY]) + waiting[MAX_APPLY:]
        return found
