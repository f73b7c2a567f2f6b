"""What the daemon, `run --once` and the simulator share: rules, calendar, channels, and the
sweep-then-dispatch cycle."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sized
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.app.config import ChannelSettings, Settings
from bot.app.metrics import SWEEP_DUE, SWEEP_NOTIFICATIONS, SWEEP_SECONDS
from bot.delivery.compose import Composer
from bot.delivery.outbox import Dispatcher
from bot.domain.calendar import WorkCalendar, load_overrides
from bot.domain.rules import Rules, load_rules
from bot.engine.reminders import SweepOptions
from bot.engine.sweep import SweepResult, sweep
from bot.intake.directory import load_directory
from bot.intake.directory_sync import DirectorySync, check_channels, sync_directory
from bot.platforms import Channel
from bot.platforms.formats import Formats, MessageFormat
from bot.platforms.pooled import PooledClient
from bot.platforms.registry import PLATFORMS
from bot.platforms.spec import ChannelSpec
from bot.present.links import Links
from bot.replies.followup import ack_followups
from bot.supervise.accountability import raise_entries
from bot.supervise.digest import send_digests
from bot.supervise.digest_message import DigestSetup, digest_setup
from bot.supervise.ranking_flow import RankingSetup, publish_due_rankings, ranking_setup

S = TypeVar("S")  # a job's setup

log = logging.getLogger("duban")


@dataclass(frozen=True)
class CycleResult:
    sweep: SweepResult
    sent: int


@dataclass
class Runtime:
    sessions: sessionmaker[Session]
    rules: Rules
    calendar: WorkCalendar
    tz: ZoneInfo
    channels: dict[str, Channel]
    default_channel: str
    simulated: bool = False
    composer: Composer | None = None  # None: every channel in plain text, the office on the default
    platforms: dict[str, str] = field(default_factory=dict)
    workers: int = 32
    ack_followup_days: int = 3
    ranking: RankingSetup | None = None
    digest: DigestSetup | None = None
    # Monotonic seconds dating each send of a dispatch run (None, or a simulation: the run's
    # `now` stands still); see delivery/outbox.
    clock: Callable[[], float] | None = None

    def channel_for(self, name: str | None) -> Channel:
        """The named channel; an unknown or missing name falls back to the default."""
        if name is not None and name in self.channels:
            return self.channels[name]
        return self.channels[self.default_channel]

    @property
    def messages(self) -> Composer:
        """How this runtime queues messages."""
        if self.composer is not None:
            return self.composer
        formats = Formats(
            {name: MessageFormat(self.platforms.get(name, "console")) for name in self.channels},
            self.default_channel,
            self.default_channel,
        )
        return Composer(formats)

    @property
    def office_channel(self) -> str:
        return self.messages.channel_of(self.messages.office_recipient)

    def sweep(self, now: datetime) -> SweepResult:
        options = SweepOptions(composer=self.messages, simulated=self.simulated)
        started = time.perf_counter()
        with self.sessions.begin() as session:
            result = sweep(session, self.rules, self.calendar, now, options=options)
            ack_followups(
                session,
                self.calendar,
                self.tz,
                self.ack_followup_days,
                now,
                composer=self.messages,
                simulated=self.simulated,
            )
        SWEEP_SECONDS.observe(time.perf_counter() - started)
        SWEEP_DUE.inc(result.points)
        SWEEP_NOTIFICATIONS.inc(result.notifications)
        return result

    def dispatcher(self) -> Dispatcher:
        return Dispatcher(
            self.sessions,
            self.channel_for,
            self.platforms,
            self.messages,
            workers=self.workers,
            clock=None if self.simulated else self.clock,
        )

    def dispatch(self, now: datetime) -> int:
        """Sends what is ready, but only inside the send window (quiet hours postpone)."""
        if not self.calendar.in_send_window(now, self.rules.window, self.tz):
            return 0
        return self.dispatcher().dispatch_all(now)

    def publish_rankings(self, now: datetime) -> int:
        """Posts (or previews) the ranking of every period that has just ended, once."""
        return self._job(publish_due_rankings, self.ranking, now)

    def send_digests(self, now: datetime) -> int:
        """Queues each supervisor's and the office's digest of the day, once."""
        return self._job(send_digests, self.digest, now)

    def raise_accountability(self, now: datetime) -> int:
        """Applies the accountability rules; each entry is raised once."""
        return self._job(raise_entries, self.ranking, now)

    def _job(
        self, job: Callable[[Session, S, datetime], Sized], setup: S | None, now: datetime
    ) -> int:
        """A job that has its setup (rules that could be read) run in one transaction;
        how many things it did."""
        if setup is None:
            return 0
        with self.sessions.begin() as session:
            return len(job(session, setup, now))

    def cycle(self, now: datetime) -> CycleResult:
        return CycleResult(self.sweep(now), self.dispatch(now))


def make_channel(name: str, settings: ChannelSettings, client: httpx.Client) -> Channel:
    """The channel a `[channels.NAME]` section describes."""
    timeout = httpx.Timeout(settings.timeout, connect=min(settings.timeout, 5.0))
    spec = ChannelSpec(
        name,
        settings.webhook or "",
        settings.secret,
        settings.markup,
        timeout,
        settings.path,
        settings.cards,
        settings.app_id,
        settings.chat_id,
        settings.corp_id,
        settings.agent_id,
        settings.robot_code,
        settings.card_template_id,
        settings.callback_route_key,
    )
    return PLATFORMS[settings.platform].build(spec, client)


def composer_of(settings: Settings, office: str | None = None) -> Composer:
    """How messages are queued: the channels' formats, the office's name (the directory's,
    read when not given), the dashboard's address and the signed links."""
    if office is None:
        office = load_directory(settings.directory.path).office.name
    links = Links(settings.web.public_url, settings.report.key, settings.report.link_days)
    return Composer(settings.formats(), office, settings.web.public_url, links)


def build_runtime(
    settings: Settings, sessions: sessionmaker[Session], client: httpx.Client | None = None
) -> Runtime:
    """Loads the rule and calendar files named in the settings; bad files raise ConfigError."""
    calendar = WorkCalendar(load_overrides(settings.schedules.calendar), warn=log.warning)
    http = client or PooledClient(settings.delivery.workers)
    composer = composer_of(settings)
    rules = load_rules(settings.schedules.rules)
    return Runtime(
        sessions=sessions,
        rules=rules,
        calendar=calendar,
        tz=ZoneInfo(settings.plan.timezone),
        channels={n: make_channel(n, c, http) for n, c in settings.channels.items()},
        default_channel=settings.delivery.default_channel,
        composer=composer,
        platforms={n: c.platform for n, c in settings.channels.items()},
        workers=settings.delivery.workers,
        ack_followup_days=settings.replies.ack_followup_days,
        ranking=ranking_setup(settings, composer),
        digest=digest_setup(settings, composer, rules, calendar),
        clock=time.monotonic,
    )


def apply_directory(
    settings: Settings, sessions: sessionmaker[Session], now: datetime
) -> DirectorySync:
    """Reads the unit directory file again and applies it (`duban run` start, SIGHUP,
    `duban units sync`); a channel no `[channels.NAME]` defines is refused first."""
    directory = load_directory(settings.directory.path)
    check_channels(directory, list(settings.channels), str(settings.directory.path))
    try:
        with sessions.begin() as session:
            return sync_directory(session, directory, now)
    except IntegrityError:
        # Another daemon starting beside this one created the same new units first; what
        # is left to apply is applied now, on top of its work.
        with sessions.begin() as session:
            return sync_directory(session, directory, now)
