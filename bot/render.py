"""Message rendering: templates in messages/ hold all prose; Python builds the structure."""

from __future__ import annotations

from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

TEMPLATES = Path(__file__).resolve().parent.parent / "messages"
TITLES = {
    "notice": "督办提醒",
    "urge": "催办通知",
    "supervise": "督办通知",
    "escalate": "督办通报",
}
WHAT = {"report": "报送进展", "deadline": "办结", "milestone": "节点"}


def shorten(text: str, width: int) -> str:
    """At most `width` characters, an ellipsis marking the cut."""
    return text if len(text) <= width else text[: width - 1] + "…"


@cache
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        undefined=StrictUndefined,
        autoescape=False,
        keep_trailing_newline=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["shorten"] = shorten
    return env


def due_label(due: str) -> str:
    day = date.fromisoformat(due)
    return f"{day.month}月{day.day}日"


def render_reminder(
    kind: str, recipient: str, recipient_kind: str, items: list[dict[str, Any]], mentions: str = ""
) -> str:
    """The text of one bundled reminder message."""
    shown = [
        {
            **item,
            "what": item.get("name") or WHAT.get(item["kind"], ""),
            "due_label": due_label(item["due"]),
        }
        for item in items
    ]
    template = environment().get_template("reminder.txt.j2")
    return template.render(
        title=TITLES.get(kind, "督办提醒"),
        recipient=recipient,
        recipient_kind=recipient_kind,
        items=shown,
        mentions=mentions,
    ).strip()
