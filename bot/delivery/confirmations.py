"""Successful sends on their way to the database, recorded together (group commit), what
one claimed message is to its sender, and the claim's own record (`write_sending`)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import ParamSpec, cast

from sqlalchemy import Connection, Table

from bot.platforms import Outgoing, Receipt
from bot.store.audit import AUDIT_EVENTS, event_row
from bot.store.bulk import insert_rows, update_rows
from bot.store.models import Message

P = ParamSpec("P")

MESSAGES = cast(Table, Message.__table__)
GATHER = 0.005  # seconds a group of confirmations waits for more (unless every worker waits)


@dataclass(frozen=True)
class Claimed:
    outgoing: Outgoing
    channel: str | None


class Confirmations:
    """Successful sends on their way to the database (group commit). A worker hands one over
    and waits until the recorder has written it; the recorder writes whatever has gathered
    in one transaction, once every busy worker waits or after GATHER seconds. While a worker
    waits it sends nothing, so each worker has at most one message whose fate the database
    does not know."""

    def __init__(self, lanes: int) -> None:
        self._changed = threading.Condition()
        self._sent: list[tuple[Claimed, str, Receipt]] = []
        self._waiting: list[threading.Event] = []
        self._lanes = lanes
        self._busy = 0  # workers in a lane
        self._finished = self._seen = 0  # lanes done, and as the recorder last saw
        self._broken = False  # a transaction failed: the workers stop sending

    def lane(self, send: Callable[P, None], *args: P.args, **kwargs: P.kwargs) -> None:
        """Runs one worker's lane, counted busy from its first send to its last."""
        with self._changed:
            self._busy += 1
        try:
            send(*args, **kwargs)
        finally:
            with self._changed:
                self._busy -= 1
                self._finished += 1
                self._changed.notify()

    def add(self, item: Claimed, channel: str, receipt: Receipt) -> bool:
        """Hands a success over and waits for its record; False if recording failed."""
        recorded = threading.Event()
        with self._changed:
            if self._broken:
                return False
            self._sent.append((item, channel, receipt))
            self._waiting.append(recorded)
            self._changed.notify()
        recorded.wait()
        return not self._broken

    def done(self) -> bool:
        with self._changed:
            return self._finished == self._lanes

    def take(
        self, timeout: float
    ) -> tuple[list[threading.Event], list[tuple[Claimed, str, Receipt]]]:
        """What has gathered, and who waits for it. Waits (at most `timeout`) for a success
        or a lane to finish; then, for at most GATHER seconds, for every busy worker's."""
        with self._changed:
            self._changed.wait_for(lambda: bool(self._sent) or self._finished > self._seen, timeout)
            if self._sent:
                self._changed.wait_for(lambda: len(self._sent) >= self._busy, GATHER)
            self._seen = self._finished
            waiting, self._waiting = self._waiting, []
            sent, self._sent = self._sent, []
            return waiting, sent

    def written(self, waiting: list[threading.Event]) -> None:
        for recorded in waiting:
            recorded.set()

    def broken(self, waiting: list[threading.Event]) -> None:
        with self._changed:
            self._broken = True
            waiting = waiting + self._waiting
        for recorded in waiting:
            recorded.set()


def write_sending(connection: Connection, messages: list[Message], until: datetime) -> None:
    """Marks claimed messages `sending`, leased `until`, one attempt more, in one statement
    (bot/store/bulk.py)."""
    update_rows(
        connection,
        MESSAGES,
        "id",
        [
            {"id": m.id, "state": "sending", "claimed_until": until, "attempts": m.attempts + 1}
            for m in messages
        ],
    )


def write_sent(
    connection: Connection, sent: list[tuple[Claimed, str, Receipt]], now: datetime
) -> None:
    """Records a group of sends: the messages `sent` and an audit event for each, in two
    statements (bot/store/bulk.py)."""
    update_rows(
        connection,
        MESSAGES,
        "id",
        [
            {
                "id": item.outgoing.message_id,
                "state": "sent",
                "sent_at": now,
                "claimed_until": None,
                "response": receipt.detail,
                "last_error": None,
            }
            for item, _, receipt in sent
        ],
    )
    insert_rows(
        connection,
        AUDIT_EVENTS,
        [
            event_row(
                now,
                "dispatch",
                "message.sent",
                "message",
                item.outgoing.message_id,
                {"channel": channel, "recipient": item.outgoing.recipient},
                channel=channel,
            )
            for item, channel, _ in sent
        ],
    )
