"""Signatures already used, so that a captured one cannot carry another message.

DingTalk signs only the timestamp of a callback, not its body: whoever sees one request could
send any body under its (timestamp, sign) pair while the timestamp is fresh. `SeenSignatures`
remembers each accepted pair with the message it came with until the pair would be refused
as stale anyway; the same pair with the same message is the platform's retry (the inbox
dedupes it), with another message it is refused. The memory is one process's: a second
`duban serve` behind the same URL keeps its own, so a replay routed to it passes there once.
"""

from __future__ import annotations

import heapq
import threading
from datetime import datetime

from bot.app.errors import Rejected

CAPACITY = 100_000  # pairs; far above what DingTalk sends one app in two hours


class SeenSignatures:
    """Bounded: entries leave when their window ends; when full of live ones, a new pair is
    refused (503, the platform retries) rather than an old one forgotten."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        self.capacity = capacity
        self._seen: dict[tuple[str, ...], str] = {}  # pair → the message id it came with
        self._ends: list[tuple[datetime, tuple[str, ...]]] = []  # heap of (window end, pair)
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._seen)

    def admit(self, pair: tuple[str, ...], message_id: str, until: datetime, now: datetime) -> None:
        """Accepts `pair` for `message_id` until `until`; `Rejected(403)` when it came
        before with another message."""
        with self._lock:
            self._forget(now)
            earlier = self._seen.get(pair)
            if earlier is not None:
                if earlier != message_id:
                    raise Rejected(403, "signature already used")
                return
            if len(self._seen) >= self.capacity:
                raise Rejected(503, "too many recent signatures")
            self._seen[pair] = message_id
            heapq.heappush(self._ends, (until, pair))

    def _forget(self, now: datetime) -> None:
        while self._ends and self._ends[0][0] < now:
            _, pair = heapq.heappop(self._ends)
            self._seen.pop(pair, None)
