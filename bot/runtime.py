"""What the daemon, `run --once` and the simulator share: rules, calendar, channels, and the
sweep-then-dispatch cycle."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

from bot.calendar import WorkCalendar, load_overrides
from bot.channels import Channel, ConsoleChannel, JsonlChannel
from bot.config import ChannelSettings, Settings
from bot.outbox import dispatch_all
from bot.rules import Rules, load_rules
from bot.sweep import SweepResult, sweep

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
    _fallbacks: dict[str, str] = field(default_factory=dict)

    def channel_for(self, name: str | None) -> Channel:
        """The named channel; an unknown or missing name falls back to the default."""
        if name is not None and name in self.channels:
            return self.channels[name]
        return self.channels[self.default_channel]

    def sweep(self, now: datetime) -> SweepResult:
        with self.sessions.begin() as session:
            return sweep(session, self.rules, self.calendar, now, simulated=self.simulated)

    def dispatch(self, now: datetime) -> int:
        """Sends what is ready, but only inside the send window (quiet hours postpone)."""
        if not self.calendar.in_send_window(now, self.rules.window, self.tz):
            return 0
        return dispatch_all(self.sessions, self.channel_for, now)

    def cycle(self, now: datetime) -> CycleResult:
        return CycleResult(self.sweep(now), self.dispatch(now))


def make_channel(name: str, settings: ChannelSettings) -> Channel:
    if settings.platform == "jsonl":
        assert settings.path is not None
        return JsonlChannel(settings.path, name=name)
    return ConsoleChannel(name=name)


def build_runtime(settings: Settings, sessions: sessionmaker[Session]) -> Runtime:
    """Loads the rule and calendar files named in the settings; bad files raise ConfigError."""
    calendar = WorkCalendar(load_overrides(settings.schedules.calendar), warn=log.warning)
    return Runtime(
        sessions=sessions,
        rules=load_rules(settings.schedules.rules),
        calendar=calendar,
        tz=ZoneInfo(settings.plan.timezone),
        channels={n: make_channel(n, c) for n, c in settings.channels.items()},
        default_channel=settings.delivery.default_channel,
    )
