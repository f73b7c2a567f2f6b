"""How long the processor's batch of applying may run, and how many events it takes.

Seconds of applying in one transaction before the rest of a batch waits for the next: on
SQLite the receiver's group commits wait behind it. PostgreSQL's do not (a batch locks only
its own rows): there a batch goes on to MAX_APPLY events while no request comes in, its few
statements shared by as many events as it can. On either, a long batch holds the interpreter
for long (PostgreSQL's acknowledgements at 200/s: p99 144 ms with long batches while requests
came), so once a request comes in, the batch stops after BUSY_APPLY_SECONDS (a request
arriving in the middle of a batch included).

In a burst, such a short batch claims only the events it can apply in that time, by how long
an event took lately (claiming MAX_APPLY to apply four and give the rest back was most of the
processor's time in a burst: every claimed row is loaded, then written back). Not in a
steadier stream: few events wait then, and batches of fewer still cost the stream's
acknowledgements (SQLite at 200/s: p99 93–108 ms against 48–89 ms).
"""

from __future__ import annotations

import math

APPLY_SECONDS = 0.05
BUSY_APPLY_SECONDS = 0.005
EVENT_SECONDS = 0.001  # the first guess of an event's applying


class Budget:
    def __init__(self, sqlite: bool) -> None:
        self.sqlite = sqlite  # a batch's transaction takes the write lock the receiver needs
        self.seconds = APPLY_SECONDS if sqlite else math.inf  # while no request comes
        self.event_seconds = EVENT_SECONDS  # an event's applying lately, on average

    def limit(self, busy: bool) -> float:
        """Seconds a batch applies before it leaves the rest to the next."""
        return BUSY_APPLY_SECONDS if busy else self.seconds

    def fits(self) -> int:
        """Events a burst's batch takes: those applied in BUSY_APPLY_SECONDS lately."""
        return max(1, round(BUSY_APPLY_SECONDS / self.event_seconds))

    def applied(self, events: int, seconds: float) -> None:
        """A batch applied `events` in `seconds` (its claim and commit aside)."""
        if events:
            self.event_seconds += (seconds / events - self.event_seconds) / 4
