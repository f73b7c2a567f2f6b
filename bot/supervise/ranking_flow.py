"""The ranking flow (晾晒): a period's ranking from the history (bot/supervise/history.py)
as of the period's end, so `duban rank --period 2020-11` gives the same answer whatever
happens later; and posting it.

Publishing writes one outbox message (split in numbered parts only when too long for the
channel) and the audit event `ranking.published`; with `require_approval` the daemon first
sends the office a preview (`ranking.previewed`) and `duban rank publish` posts it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.app.config import Settings
from bot.app.errors import ConfigError, DubanError
from bot.delivery.compose import Composer, Recipient
from bot.delivery.render import render
from bot.domain.calendar import WorkCalendar, load_overrides
from bot.domain.periods import Period, last_ended
from bot.domain.rules import load_rules
from bot.platforms.formats import MessageFormat
from bot.store.audit import record
from bot.store.models import AuditEvent, Message, Plan
from bot.supervise.history import History
from bot.supervise.ranking import (
    RankedUnit,
    RankingConfig,
    load_ranking_config,
    message_rows,
    rank_units,
    ranks_by_unit,
    score_text,
)

PUBLISHED, PREVIEWED, SKIPPED = "ranking.published", "ranking.previewed", "ranking.skipped"
PUBLIC = "晾晒"


# --- setup --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RankingSetup:
    """What computing and posting a ranking needs besides the database."""

    config: RankingConfig
    tz: ZoneInfo  # the periods' time zone (the plan setting)
    calendar: WorkCalendar = field(default_factory=WorkCalendar)
    non_working_day: str = "next"  # where a deadline on a day off moves ([due] in the rules)
    composer: Composer = field(default_factory=Composer)

    @property
    def channel(self) -> str:
        """The public group channel the ranking is posted to."""
        return self.composer.formats.channel_name(self.config.channel or None)


def ranking_file(settings: Settings) -> Path:
    return settings.schedules.ranking


def ranking_setup(settings: Settings, composer: Composer, path: Path | None = None) -> RankingSetup:
    """Loads schedules/ranking.toml (and the rules' due policy, the calendar) from settings;
    `composer` queues the posts and previews."""
    source = path or ranking_file(settings)
    config = load_ranking_config(source)
    if config.channel and config.channel not in settings.channels:
        problem = f"no [channels.{config.channel}] is configured"
        raise ConfigError(f"{source}: channel", problem)
    return RankingSetup(
        config=config,
        tz=ZoneInfo(settings.plan.timezone),
        calendar=WorkCalendar(load_overrides(settings.schedules.calendar)),
        non_working_day=load_rules(settings.schedules.rules).non_working_day,
        composer=composer,
    )


# --- computing ----------------------------------------------------------------------------


def ensure_ended(period: Period, tz: ZoneInfo, now: datetime) -> None:
    """A ranking is final only once its period is over; before that it is refused."""
    end = period.bounds(tz)[1]
    if now < end:
        shown = end.astimezone(tz).strftime("%Y-%m-%d %H:%M")
        raise DubanError(f"期间 {period.label} 尚未结束（{shown} 结束），结束后才能排名")


def compute_ranking(session: Session, period: Period, setup: RankingSetup) -> list[RankedUnit]:
    """The ranking of `period`, best first, with trends against the period before it."""
    return ranking_series(session, [period], setup)[0]


def ranking_series(
    session: Session, periods: Sequence[Period], setup: RankingSetup
) -> list[list[RankedUnit]]:
    """The rankings of consecutive `periods` (oldest first), each with trends against the
    period before it, from one replay of the history up to the last one's end."""
    history = History.load(
        session, periods[-1].bounds(setup.tz)[1], setup.calendar, setup.non_working_day
    )
    weights, lights = setup.config.weights, setup.config.lights
    before = rank_units(history.metrics(periods[0].previous(), setup.tz), weights, lights)
    series = []
    for period in periods:
        ranked = rank_units(
            history.metrics(period, setup.tz), weights, lights, ranks_by_unit(before)
        )
        series.append(ranked)
        before = ranked
    return series


# --- publishing ---------------------------------------------------------------------------

Outcome = Literal["published", "already", "previewed", "skipped"]


@dataclass(frozen=True)
class Publication:
    period: Period
    outcome: Outcome
    channel: str | None = None
    message_ids: tuple[int, ...] = ()
    rows: tuple[RankedUnit, ...] = ()
    at: datetime | None = None  # when it was published (for "already")


def publish_ranking(
    session: Session,
    period: Period,
    setup: RankingSetup,
    now: datetime,
    *,
    actor: str = "cli",
    channel: str = "cli",
) -> Publication:
    """Posts `period`'s ranking to the public channel, once: a second call queues nothing
    and says when it was published. Refuses a period not over yet, and one without units."""
    ensure_ended(period, setup.tz, now)
    _lock(session, period)
    done = _recorded(session, period, setup.tz, (PUBLISHED,))
    if PUBLISHED in done:
        at, detail = done[PUBLISHED]
        ids = tuple(int(i) for i in detail.get("message_ids", []))
        return Publication(period, "already", detail.get("channel"), ids, at=at)
    ranked = compute_ranking(session, period, setup)
    if not ranked:
        raise DubanError(f"期间 {period.label} 没有可排名的单位，未发布")
    return _post(session, period, setup, ranked, now, actor=actor, channel=channel)


def publish_due_rankings(session: Session, setup: RankingSetup, now: datetime) -> list[Publication]:
    """The daemon's job: for each configured kind of period, the one that ended last is
    posted (or, with `require_approval`, previewed to the office), once.

    Safe to run every minute and on several daemons: what was posted, previewed or found
    empty is recorded, and the record is checked under a lock before anything is queued.
    """
    today = now.astimezone(setup.tz).date()
    done: list[Publication] = []
    first_plan = session.scalar(select(func.min(Plan.created_at)))
    for kind in setup.config.periods:
        period = last_ended(kind, today)
        if first_plan is None or period.bounds(setup.tz)[1] <= first_plan:
            continue  # nothing existed yet in that period
        if _recorded(session, period, setup.tz, (PUBLISHED, PREVIEWED, SKIPPED)):
            continue
        _lock(session, period)
        if _recorded(session, period, setup.tz, (PUBLISHED, PREVIEWED, SKIPPED)):
            continue
        ranked = compute_ranking(session, period, setup)
        if not ranked:
            record(session, now, "scheduler", SKIPPED, "ranking", None, _detail(period))
            done.append(Publication(period, "skipped"))
        else:
            preview = setup.config.require_approval
            done.append(
                _post(
                    session,
                    period,
                    setup,
                    ranked,
                    now,
                    actor="scheduler",
                    channel="scheduler",
                    preview=preview,
                )
            )
    return done


def published_at(session: Session, period: Period, tz: ZoneInfo) -> datetime | None:
    """When `period`'s ranking was published (periods in `tz`), or None."""
    found = _recorded(session, period, tz, (PUBLISHED,))
    return found[PUBLISHED][0] if found else None


def _detail(period: Period) -> dict[str, Any]:
    return {"period": period.label, "kind": period.kind}


def _recorded(
    session: Session, period: Period, tz: ZoneInfo, actions: Sequence[str]
) -> dict[str, tuple[datetime, dict[str, Any]]]:
    """The first event of each of `actions` recorded for `period`: (when, detail). They are
    all recorded after the period ended, so only events since then are read."""
    found: dict[str, tuple[datetime, dict[str, Any]]] = {}
    query = (
        select(AuditEvent.action, AuditEvent.at, AuditEvent.detail)
        .where(
            AuditEvent.at >= period.bounds(tz)[1],
            AuditEvent.subject_type == "ranking",
            AuditEvent.action.in_(list(actions)),
        )
        .order_by(AuditEvent.at, AuditEvent.id)
    )
    for action, at, detail in session.execute(query):
        if (detail or {}).get("period") == period.label:
            found.setdefault(action, (at, detail))
    return found


def _lock(session: Session, period: Period) -> None:
    """Serializes publishers of one period. PostgreSQL: a transaction-scoped advisory lock.
    SQLite: the write lock the transaction takes (writer sessions take it at BEGIN; a
    deferred one that lost the race fails on its write instead of posting twice)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    digest = hashlib.sha256(f"duban:ranking:{period.label}".encode()).digest()
    session.execute(select(func.pg_advisory_xact_lock(int.from_bytes(digest[:8], signed=True))))


def _rows_detail(ranked: Sequence[RankedUnit]) -> list[dict[str, Any]]:
    return [
        {"unit": r.unit, "score": r.score, "rank": r.rank, "light": r.light, "trend": r.trend}
        for r in ranked
    ]


def ranking_text(
    period: Period, ranked: Sequence[RankedUnit], setup: RankingSetup, markup: str, **extra: Any
) -> str:
    lights = setup.config.lights
    return render(
        "ranking",
        markup,
        period_label=period.title,
        rows=message_rows(ranked),
        lights={
            "green": score_text(float(lights.green)),
            "yellow": score_text(float(lights.yellow)),
        },
        **extra,
    )


def _queue(
    session: Session,
    setup: RankingSetup,
    recipient: Recipient,
    text: Callable[[MessageFormat], str],
    now: datetime,
) -> list[Message]:
    messages = setup.composer.compose(recipient, "ranking", text, now)
    session.add_all(messages)
    session.flush()
    return messages


def _text_for(
    period: Period,
    ranked: Sequence[RankedUnit],
    setup: RankingSetup,
    shape: MessageFormat,
    *,
    preview: str | None,
) -> str:
    return ranking_text(period, ranked, setup, shape.markup, preview=preview)


def _post(
    session: Session,
    period: Period,
    setup: RankingSetup,
    ranked: Sequence[RankedUnit],
    now: datetime,
    *,
    actor: str,
    channel: str,
    preview: bool = False,
) -> Publication:
    """Posts the ranking to the public group, or (`preview`) shows it to the office first."""
    if preview:
        recipient = setup.composer.office_recipient
    else:
        recipient = Recipient("public", None, PUBLIC, setup.channel)
    target = setup.composer.channel_of(recipient)
    text = partial(_text_for, period, ranked, setup, preview=period.label if preview else None)
    messages = _queue(session, setup, recipient, text, now)
    ids = tuple(m.id for m in messages)
    detail = {
        **_detail(period),
        "channel": target,
        "message_ids": list(ids),
        "rows": _rows_detail(ranked),
    }
    action = PREVIEWED if preview else PUBLISHED
    record(session, now, actor, action, "ranking", None, detail, channel=channel)
    if preview:
        return Publication(period, "previewed", target, ids, tuple(ranked), now)
    return Publication(period, "published", target, ids, tuple(ranked), now)


def as_json(ranked: Iterable[RankedUnit]) -> list[dict[str, Any]]:
    return [row.as_json() for row in ranked]
