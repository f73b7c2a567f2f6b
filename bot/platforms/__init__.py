"""Chat channels behind one small interface: `send(outgoing) -> Receipt`.

One module per platform. This release has the local ones — `console` (prints) and `jsonl`
(appends to a file) — and `capture` for simulations and tests.
"""

from __future__ import annotations

from bot.app.errors import DeliveryError
from bot.platforms.base import Channel, Outgoing, Receipt
from bot.platforms.local import CaptureChannel, ConsoleChannel, JsonlChannel

__all__ = [
    "CaptureChannel",
    "Channel",
    "ConsoleChannel",
    "DeliveryError",
    "JsonlChannel",
    "Outgoing",
    "Receipt",
]
