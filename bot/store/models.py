"""The database tables. Times are stored as aware UTC; migrations live in db/."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from bot.domain.lifecycle import Status

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC in, aware UTC out — also on SQLite, which stores no zone."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime,
        dict[str, Any]: JSON,
        list[Any]: JSON,
    }


class Plan(Base):
    __tablename__ = "plans"
    __table_args__ = (UniqueConstraint("key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(300))
    title: Mapped[str | None] = mapped_column(String(300))
    year: Mapped[int | None]
    timezone: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(500))
    source_sha256: Mapped[str] = mapped_column(String(64))
    default_deadline: Mapped[date | None] = mapped_column(Date)
    sample: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    # Archived: no more reminders, replies or rankings; its history stays readable.
    archived_at: Mapped[datetime | None]

    tasks: Mapped[list[Task]] = relationship(back_populates="plan", order_by="Task.seq")


class Supervisor(Base):
    __tablename__ = "supervisors"
    __table_args__ = (UniqueConstraint("name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    title: Mapped[str | None] = mapped_column(String(100))
    channel: Mapped[str | None] = mapped_column(String(100))
    contacts: Mapped[list[Any]] = mapped_column(default=list)


class Unit(Base):
    __tablename__ = "units"
    __table_args__ = (UniqueConstraint("name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    collective: Mapped[bool] = mapped_column(Boolean, default=False)
    in_directory: Mapped[bool] = mapped_column(Boolean, default=False)
    channel: Mapped[str | None] = mapped_column(String(100))
    supervisor_id: Mapped[int | None] = mapped_column(ForeignKey("supervisors.id"))
    contacts: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime]

    aliases: Mapped[list[UnitAlias]] = relationship(
        back_populates="unit", cascade="all, delete-orphan", order_by="UnitAlias.id"
    )
    supervisor: Mapped[Supervisor | None] = relationship()


class UnitAlias(Base):
    __tablename__ = "unit_aliases"
    __table_args__ = (UniqueConstraint("alias"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"))
    alias: Mapped[str] = mapped_column(String(200))

    unit: Mapped[Unit] = relationship(back_populates="aliases")


class CollectiveMember(Base):
    __tablename__ = "collective_members"

    collective_id: Mapped[int] = mapped_column(
        ForeignKey("units.id", ondelete="CASCADE"), primary_key=True
    )
    member_id: Mapped[int] = mapped_column(
        ForeignKey("units.id", ondelete="CASCADE"), primary_key=True
    )


class Task(Base):
    __tablename__ = "tasks"
    __table_args__ = (UniqueConstraint("plan_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"), index=True)
    number: Mapped[str] = mapped_column(String(20))
    seq: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    section: Mapped[str | None] = mapped_column(String(300))
    supervisor_id: Mapped[int | None] = mapped_column(ForeignKey("supervisors.id"))
    deadline: Mapped[date | None] = mapped_column(Date)
    # The responsibility as the document states it, collectives not yet expanded:
    # {"lead": str, "co_units": [str], "co_leads": [str]}.
    responsibility: Mapped[dict[str, Any]]
    indicators: Mapped[list[Any]] = mapped_column(default=list)
    # Earlier dates the document states besides the deadline: [{"due": iso, "name": str}].
    milestones: Mapped[list[Any]] = mapped_column(default=list, server_default="[]")
    notes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # active | removed (left out of a later version of the document; history is kept)
    state: Mapped[str] = mapped_column(String(20), default="active")
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    plan: Mapped[Plan] = relationship(back_populates="tasks")
    supervisor: Mapped[Supervisor | None] = relationship()
    assignments: Mapped[list[Assignment]] = relationship(
        back_populates="task", order_by="Assignment.id"
    )


class Assignment(Base):
    __tablename__ = "assignments"
    __table_args__ = (UniqueConstraint("task_id", "unit_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    role: Mapped[str] = mapped_column(String(10))  # lead | co
    co_lead: Mapped[bool] = mapped_column(Boolean, default=False)
    # The collective (各县(区)政府) this assignment came from, when it came from one.
    via_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    status: Mapped[str] = mapped_column(String(30), default=Status.NOT_STARTED.value)
    progress: Mapped[int] = mapped_column(Integer, default=0)
    last_report_at: Mapped[datetime | None]
    # An approved extension's new deadline; None means the task's (or the plan's) deadline.
    deadline: Mapped[date | None] = mapped_column(Date)
    # Set when the due points must be (re)computed: new assignment, changed deadline.
    needs_schedule: Mapped[bool] = mapped_column(Boolean, default=True, index=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    task: Mapped[Task] = relationship(back_populates="assignments")
    unit: Mapped[Unit] = relationship(foreign_keys=[unit_id])


class AuditEvent(Base):
    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_subject", "subject_type", "subject_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(60))
    channel: Mapped[str] = mapped_column(String(30))
    subject_type: Mapped[str] = mapped_column(String(30))
    subject_id: Mapped[int | None]
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    inbound_message_id: Mapped[str | None] = mapped_column(String(200))


class DuePoint(Base):
    """A date an assignment is due for something (a report cycle, the deadline, a milestone),
    with the state of its reminder ladder. The sweep reads only rows whose next action is due.
    """

    __tablename__ = "due_points"
    __table_args__ = (
        UniqueConstraint("assignment_id", "key"),
        Index("ix_due_points_next_action", "next_action_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(
        ForeignKey("assignments.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(20))  # report | deadline | milestone
    key: Mapped[str] = mapped_column(String(60))  # report:2020-10-25, deadline:2020-12-31, …
    name: Mapped[str | None] = mapped_column(String(200))
    due_date: Mapped[date] = mapped_column(Date)
    # Reports made after this day count for this due point.
    window_start: Mapped[date] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(20), default="open")  # open|resolved|missed
    resolution: Mapped[str | None] = mapped_column(String(30))
    resolved_at: Mapped[datetime | None]
    # Index of the highest ladder step already handled (-1: none yet).
    step: Mapped[int] = mapped_column(Integer, default=-1)
    next_action_at: Mapped[datetime | None]
    # When the next cycle of the same assignment starts; this one's reminders end then.
    superseded_at: Mapped[datetime | None]
    created_at: Mapped[datetime]

    assignment: Mapped[Assignment] = relationship()


class Notification(Base):
    """One reminder step for one recipient. The unique key makes the sweep idempotent."""

    __tablename__ = "notifications"
    __table_args__ = (UniqueConstraint("key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200))
    message_id: Mapped[int | None] = mapped_column(
        ForeignKey("messages.id", ondelete="SET NULL"), index=True
    )
    due_point_id: Mapped[int] = mapped_column(ForeignKey("due_points.id", ondelete="CASCADE"))
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id", ondelete="CASCADE"))
    level: Mapped[str] = mapped_column(String(30))
    repeat: Mapped[int] = mapped_column(Integer, default=0)
    recipient_kind: Mapped[str] = mapped_column(String(20))  # unit | supervisor | office
    recipient_id: Mapped[int | None]
    created_at: Mapped[datetime]


class Message(Base):
    """The outbox: one outgoing chat message (a bundle of notifications for one recipient)."""

    __tablename__ = "messages"
    __table_args__ = (Index("ix_messages_state_not_before", "state", "not_before"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    recipient_kind: Mapped[str] = mapped_column(String(20))
    recipient_id: Mapped[int | None]
    recipient_name: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str | None] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(30))
    # pending → sending → sent | failed (retry later) → dead
    state: Mapped[str] = mapped_column(String(20), default="pending")
    not_before: Mapped[datetime]
    items: Mapped[list[Any]] = mapped_column(default=list)
    mentions: Mapped[dict[str, Any]] = mapped_column(default=dict)
    text: Mapped[str] = mapped_column(Text, default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    response: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    simulated: Mapped[bool] = mapped_column(Boolean, default=False)
    # A bundle too long for the platform is sent as numbered parts: (1/3), (2/3), …
    part: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    parts: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]


class RateBucket(Base):
    """The send budget of one webhook, shared by every process through the database.

    `sent` holds the epoch seconds of the most recent sends (at most the largest limit), so
    a rolling window can be checked exactly. Also where a webhook is paused after a
    rate-limit answer, or disabled after a permanent error until the operator fixes it.
    """

    __tablename__ = "rate_buckets"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    sent: Mapped[list[Any]] = mapped_column(default=list)
    updated_at: Mapped[datetime]
    paused_until: Mapped[datetime | None]
    disabled_reason: Mapped[str | None] = mapped_column(Text)


class InboundEvent(Base):
    """A reply received from a chat platform, kept before it is acted on.

    The unique (source, event_id) — the platform's message or event id — makes a platform's
    retry a no-op. `state`: received (not yet acted on), answering (acted on, its answer to
    go by a second request), processed, or ignored (e.g. a non-text event). `reply` is the
    answer; `processed_at` when it was acted on (or its lost answer taken up again).
    """

    __tablename__ = "inbound_events"
    __table_args__ = (
        UniqueConstraint("source", "event_id"),
        # A DingTalk (timestamp, sign) pair carries one message, whichever process took it.
        UniqueConstraint("signature", "source"),
        Index("ix_inbound_events_state_received_at", "state", "received_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(100))  # the [inbound.NAME], or "cli"
    platform: Mapped[str] = mapped_column(String(20))
    event_id: Mapped[str] = mapped_column(String(200))
    signature: Mapped[str | None] = mapped_column(String(200))  # DingTalk's "timestamp:sign"
    sender: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    reply_to: Mapped[str | None] = mapped_column(Text)
    reply_expires: Mapped[datetime | None]
    state: Mapped[str] = mapped_column(String(20), default="received")
    actor: Mapped[str | None] = mapped_column(String(200))
    reply: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime]
    processed_at: Mapped[datetime | None]


class Evidence(Base):
    """A file sent as evidence (佐证材料) for an assignment, its bytes in the evidence store
    under their SHA-256; `name` as shown (no folders, no control characters); `content_type`
    from its first bytes, never its name. `state`: submitted, accepted or returned (`note`)."""

    __tablename__ = "evidence"

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(
        ForeignKey("assignments.id", ondelete="CASCADE"), index=True
    )
    sha256: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(30))  # web-form, feishu, …
    state: Mapped[str] = mapped_column(String(20), default="submitted")
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]

    assignment: Mapped[Assignment] = relationship()


class OnceKey(Base):
    """A job's unique key (e.g. "digest:2020-10-28:supervisor:3"): whoever inserts it first
    produces the thing; every other daemon finds it taken and does nothing."""

    __tablename__ = "once_keys"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    created_at: Mapped[datetime]


class AccountabilityEntry(Base):
    """A case for accountability (问责) that a rule raised, with the evidence behind it; the
    office confirms or dismisses it. `key` makes a rule raise each case once."""

    __tablename__ = "accountability_entries"
    __table_args__ = (UniqueConstraint("key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    rule: Mapped[str] = mapped_column(String(50))  # red_periods | overdue
    period: Mapped[str | None] = mapped_column(String(20))
    assignment_id: Mapped[int | None] = mapped_column(
        ForeignKey("assignments.id", ondelete="SET NULL")
    )
    summary: Mapped[str] = mapped_column(Text)
    evidence: Mapped[list[Any]] = mapped_column(default=list)  # audit events, periods …
    state: Mapped[str] = mapped_column(String(20), default="open")  # open|confirmed|dismissed
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[str | None] = mapped_column(String(100))

    unit: Mapped[Unit] = relationship()
