"""The channel interface and its error: what every platform module implements."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from bot.errors import DubanError


@dataclass(frozen=True)
class Outgoing:
    """A message as a channel sends it: rendered text plus who it is for."""

    message_id: int
    recipient: str
    kind: str
    text: str
    mobiles: tuple[str, ...] = ()


@dataclass(frozen=True)
class Receipt:
    """What the platform answered to a successful send."""

    detail: dict[str, Any] = field(default_factory=dict)


class DeliveryError(DubanError):
    """A send that did not succeed; `permanent` says whether retrying can help."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        self.permanent = permanent
        super().__init__(message)


class Channel(Protocol):
    name: str

    def send(self, message: Outgoing) -> Receipt: ...
