"""Messages with report links, as the outbox hands them to a channel that sends cards, and a
robot that records what it was sent."""

from __future__ import annotations

import json
from typing import Any

import httpx

from bot.delivery.compose import link_card
from bot.platforms import Outgoing

PAGE = "https://duban.example.gov.cn/r/"


def items(count: int) -> list[dict[str, Any]]:
    """A reminder's `Message.items`: each item with its report page (engineer r's "link")."""
    return [
        {"task": str(12 + n), "text": f"推进重点项目第{n + 1}批开工", "link": f"{PAGE}tok{n}"}
        for n in range(count)
    ]


def reminder(count: int, *, user_ids: tuple[str, ...] = (), text: str = "") -> Outgoing:
    body = text or "**【督办提醒】**\n市住建局：请于12月31日前报送进展。\n"
    return Outgoing(7, "市住建局", "remind", body, (), user_ids, card=link_card(items(count)))


class Robot:
    """A webhook that answers `answer` and keeps each request's JSON body."""

    def __init__(self, answer: dict[str, Any]) -> None:
        self.answer, self.bodies = answer, list[dict[str, Any]]()
        self.client = httpx.Client(transport=httpx.MockTransport(self._handle))

    def _handle(self, request: httpx.Request) -> httpx.Response:
        self.bodies.append(json.loads(request.content))
        return httpx.Response(200, json=self.answer)
