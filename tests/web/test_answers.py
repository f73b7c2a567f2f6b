"""Answers in the conversation: sent side by side, never holding up the next events, and
sent once even when the process stops between applying an event and answering it."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session, sessionmaker

from bot.platforms.dingtalk.callback import parse_callback
from bot.store.models import AuditEvent
from bot.web.answers import Answerer
from bot.web.budget import BUSY_APPLY_SECONDS
from bot.web.context import WebContext
from bot.web.workers import keep_events
from tests.support.web import NOW, Clock, Sink, dingtalk_event, inbound_events

COUNT = 6


def keep_replies(ctx: WebContext, sink: Sink, count: int = COUNT) -> list[int]:
    """`count` progress replies from 市发改委's contact, kept as the DingTalk hook keeps them."""
    webhook = sink.url("/robot/sendBySession?session=c3f1b2")
    events = [
        (
            "ding",
            parse_callback(
                json.dumps(
                    dingtalk_event("liaison2", f"进展 #1 {10 * n}%", f"msg{n}", NOW, webhook)
                ).encode()
            ),
            NOW,
        )
        for n in range(1, count + 1)
    ]
    kept = keep_events(ctx.sessions, events)
    assert all(isinstance(event_id, int) for event_id in kept), kept
    return [event_id for event_id in kept if isinstance(event_id, int)]


def apply_all(ctx: WebContext, event_ids: list[int]) -> None:
    """What the processor does with a batch: `process` leaves what its time did not allow."""
    while event_ids:
        event_ids = ctx.process(event_ids)


def states(sessions: sessionmaker[Session]) -> list[str]:
    return [event.state for event in inbound_events(sessions)]


def test_answers_to_a_slow_reply_url_go_out_side_by_side(
    ctx: WebContext, planned: sessionmaker[Session], sink: Sink
) -> None:
    sink.gate.clear()  # the session webhook holds every answer back until all have come
    ctx.start()
    try:
        for event_id in keep_replies(ctx, sink):
            ctx.act_later(event_id)
        arrived = sink.wait(COUNT)  # all in flight at once: none was answered yet
        assert set(states(planned)) == {"answering"}
        sink.gate.set()
        ctx.drain()
    finally:
        ctx.stop()
    assert len(arrived) == COUNT
    assert states(planned) == ["processed"] * COUNT


def test_an_answer_lost_when_the_process_stopped_after_applying_is_sent_once_by_the_next(
    ctx: WebContext,
    planned: sessionmaker[Session],
    sink: Sink,
    clock: Clock,
) -> None:
    ctx.answerer = Answerer(ctx.responder, ctx.clock, senders=0)  # stops before answering
    apply_all(ctx, keep_replies(ctx, sink))
    assert states(planned) == ["answering"] * COUNT
    assert sink.posted == []

    clock.now = NOW + timedelta(minutes=2)
    after = WebContext(ctx.settings, planned, clock=clock, http=ctx.http)
    after.start()
    try:
        assert after.finish_pending() == COUNT
        sink.wait(COUNT)
        after.drain()
        assert after.finish_pending() == 0  # answered: not taken up again
    finally:
        after.stop()
    assert len(sink.posted) == COUNT
    assert states(planned) == ["processed"] * COUNT


def test_an_answer_whose_session_webhook_expired_while_it_waited_is_not_sent(
    ctx: WebContext,
    planned: sessionmaker[Session],
    sink: Sink,
    clock: Clock,
) -> None:
    ctx.answerer = Answerer(ctx.responder, ctx.clock, senders=0)
    apply_all(ctx, keep_replies(ctx, sink, 1))
    clock.now = NOW + timedelta(hours=2)  # the session webhook was good for one hour
    after = WebContext(ctx.settings, planned, clock=clock, http=ctx.http)
    after.start()
    try:
        assert after.finish_pending() == 1
        after.drain()
    finally:
        after.stop()
    assert sink.posted == []
    assert states(planned) == ["processed"]


def test_the_answerer_records_each_event_answered_once(
    ctx: WebContext, planned: sessionmaker[Session], sink: Sink
) -> None:
    ctx.start()
    try:
        for event_id in keep_replies(ctx, sink):
            ctx.act_later(event_id)
        ctx.drain()
        assert ctx.finish_pending() == 0
        assert ctx.answerer.in_flight() == frozenset()
    finally:
        ctx.stop()
    assert len(sink.posted) == COUNT
    assert states(planned) == ["processed"] * COUNT


def test_an_event_that_fails_costs_only_itself_its_batch_goes_on(
    ctx: WebContext, planned: sessionmaker[Session], sink: Sink
) -> None:
    ctx.answerer = Answerer(ctx.responder, ctx.clock, senders=0)
    kept = keep_replies(ctx, sink, 3)
    engine = planned.kw["bind"]

    def refuse_the_second(
        conn: object, cursor: object, statement: str, parameters: Any, *rest: object
    ) -> None:
        values = parameters.values() if isinstance(parameters, dict) else parameters
        if statement.startswith("UPDATE inbound_events") and kept[1] in tuple(values):
            raise RuntimeError("the second event cannot be applied")

    event.listen(engine, "before_cursor_execute", refuse_the_second)
    try:
        apply_all(ctx, kept)
    finally:
        event.remove(engine, "before_cursor_execute", refuse_the_second)
    assert states(planned) == ["answering", "received", "answering"]


def statements_of(engine: Engine, job: Callable[[], object]) -> list[str]:
    """The statements `job` sends to the database (an executemany counted once)."""
    sent: list[str] = []

    def count(conn: object, cursor: object, statement: str, *rest: object) -> None:
        sent.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        job()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return sent


def test_a_batch_sends_the_same_few_statements_whatever_its_size(
    ctx: WebContext, planned: sessionmaker[Session], sink: Sink
) -> None:
    ctx.answerer = Answerer(ctx.responder, ctx.clock, senders=0)
    ctx.budget.seconds = 60.0  # no batch cut short
    engine = planned.kw["bind"]
    ctx.people()  # loaded once for a while, not per batch
    kept = keep_replies(ctx, sink, 9)  # progress 10% to 90%
    small = statements_of(engine, lambda: ctx.process(kept[:2]))
    large = statements_of(engine, lambda: ctx.process(kept[2:]))
    assert states(planned) == ["answering"] * 9
    # The claims, the plans, the task, its report cycles and the changes are the batch's:
    # one statement each. SQLite inserts the audit events one by one (in process: no round
    # trip to a server), PostgreSQL in one statement.
    audit = "INSERT INTO audit_events"
    inserts = [s for s in large if s.startswith(audit)]
    assert len(inserts) == (7 if engine.dialect.name == "sqlite" else 1)
    assert len([s for s in large if s.startswith("UPDATE due_points")]) == 1
    others = [s for s in small if not s.startswith(audit)]
    assert len(large) - len(inserts) == len(others), large


@pytest.mark.parametrize("cut", [False, True])
def test_a_batch_cut_short_by_its_time_leaves_the_rest_to_the_next_unchanged(
    ctx: WebContext,
    planned: sessionmaker[Session],
    sink: Sink,
    cut: bool,
) -> None:
    ctx.answerer = Answerer(ctx.responder, ctx.clock, senders=0)
    if cut:  # every batch stops after its first event
        ctx.budget.seconds = -1.0
    kept = keep_replies(ctx, sink)
    left = ctx.process(kept)
    assert left == (kept[1:] if cut else [])
    assert states(planned) == ["answering"] + ["received" if cut else "answering"] * (COUNT - 1)
    apply_all(ctx, left)
    events = inbound_events(planned)
    assert [(e.state, e.actor) for e in events] == [("answering", "市发改委")] * COUNT
    assert [e.reply for e in events] == [
        f"已收到第1项进展（{10 * n}%），谢谢。" for n in range(1, COUNT + 1)
    ]
    with planned() as session:
        audit = session.scalars(
            select(AuditEvent).where(AuditEvent.channel == "ding").order_by(AuditEvent.id)
        ).all()
        assert [(a.action, a.actor, a.inbound_message_id, a.detail["percent"]) for a in audit] == [
            ("reply.progress", "市发改委", f"msg{n}", 10 * n) for n in range(1, COUNT + 1)
        ]


def test_in_a_burst_a_batch_claims_only_what_it_applied_in_its_short_time_lately(
    ctx: WebContext, planned: sessionmaker[Session], sink: Sink
) -> None:
    ctx.answerer = Answerer(ctx.responder, ctx.clock, senders=0)
    kept = keep_replies(ctx, sink)
    ctx.receiver.clock = lambda: ctx.receiver.last_arrival  # a request has just come in
    ctx.receiver.gathered = 100.0  # in a burst
    ctx.budget.event_seconds = BUSY_APPLY_SECONDS / 2  # two events fit
    ticks = iter(range(1000))
    ctx.monotonic = lambda: next(ticks) * BUSY_APPLY_SECONDS / 10  # time passes as it asks
    engine = planned.kw["bind"]
    left: list[int] = []
    sent = statements_of(engine, lambda: left.extend(ctx.process(kept)))
    assert left == kept[2:]
    assert states(planned) == ["answering"] * 2 + ["received"] * (COUNT - 2)
    # One claim, of the two (`IN (a, b)`); none loaded only to be given back (`release`,
    # an UPDATE without RETURNING): the others were not touched.
    many = [s for s in sent if s.startswith("UPDATE inbound_events") and " IN (" in s]
    assert len(many) == 1
    assert "RETURNING" in many[0]
    assert many[0].split(" IN (")[1].split(" AND ")[0].count(",") == 1
    assert ctx.budget.event_seconds != BUSY_APPLY_SECONDS / 2  # what this batch took, averaged in
