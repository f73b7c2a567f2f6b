"""Message rendering: templates in messages/ hold all prose; Python builds the structure.

One template per kind (`messages/KIND.j2`, plain text) with per-markup overrides
(`messages/markdown/KIND.j2` for the WeCom and DingTalk robots). `StrictUndefined` turns a
missing variable into an error, and `|e` escapes what users wrote for the target markup and
neutralizes mention syntax in it (PROTOCOLS.md §7).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateNotFound

from bot.platforms.mentions import escape_markdown, neutralize_mentions
from bot.present.labels import LIGHT_WORDS, due_what

TEMPLATES = Path(__file__).resolve().parents[2] / "messages"
MARKUPS = ("text", "markdown")
KINDS = (
    "notice",
    "urge",
    "supervise",
    "escalate",
    "digest",
    "ranking",
    "reply",
    "help",
    "alert",
    "test",
    "blocker",
    "followup",
    "request",
    "decision",
)
REMINDER_KINDS = ("notice", "urge", "supervise", "escalate")


def shorten(text: str, width: int) -> str:
    """At most `width` characters, an ellipsis marking the cut."""
    return text if len(text) <= width else text[: width - 1] + "…"


def _escaper(markup: str) -> Callable[[object], str]:
    if markup == "markdown":
        return lambda value: escape_markdown(neutralize_mentions(str(value)))
    return lambda value: neutralize_mentions(str(value))


@cache
def environment(markup: str) -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        undefined=StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["shorten"] = shorten
    env.filters["e"] = _escaper(markup)
    # Lights in words (绿灯): formal messages carry no emoji unless a template adds them.
    env.globals["light_names"] = LIGHT_WORDS
    return env


def render(kind: str, markup: str = "text", **context: Any) -> str:
    """Renders `kind` for `markup`, using the markup's override when there is one."""
    env = environment(markup)
    names = [f"{markup}/{kind}.j2", f"{kind}.j2"] if markup != "text" else [f"{kind}.j2"]
    try:
        template = env.select_template(names)
    except TemplateNotFound:
        raise ValueError(f"no template for message kind {kind!r}") from None
    return template.render(**context).strip()


def due_label(due: str) -> str:
    day = date.fromisoformat(due)
    return f"{day.month}月{day.day}日"


def unit_summaries(overdue: Iterable[tuple[str, int]]) -> list[dict[str, Any]]:
    """(unit, working days overdue) of each item, summed up per unit — name, count, overdue
    (how many are overdue), longest (days) — the most overdue unit first."""
    by_unit: dict[str, list[int]] = defaultdict(list)
    for unit, days in overdue:
        by_unit[unit].append(days)
    rows = [
        {
            "name": unit,
            "count": len(days),
            "overdue": sum(d > 0 for d in days),
            "longest": max(days),
        }
        for unit, days in by_unit.items()
    ]
    return sorted(rows, key=lambda r: (-r["longest"], -r["overdue"], r["name"]))


def render_reminder(
    kind: str,
    recipient: str,
    recipient_kind: str,
    items: list[dict[str, Any]],
    mentions: str = "",
    markup: str = "text",
    dashboard_url: str = "",
) -> str:
    """The text of one bundled reminder message: a unit reads its items, a leader or the
    office a summary per unit (and the dashboard's link)."""
    shown = [
        {
            **item,
            "what": due_what(item["kind"], item.get("name")),
            "due_label": due_label(item["due"]),
        }
        for item in items
    ]
    return render(
        kind,
        markup,
        recipient=recipient,
        recipient_kind=recipient_kind,
        items=shown,
        units=unit_summaries((item["unit"], item["overdue_days"]) for item in items),
        mentions=mentions,
        dashboard_url=dashboard_url,
    )
