"""Sample data for `duban preview`: every message kind rendered as a unit would see it."""

from __future__ import annotations

from typing import Any

from bot.delivery.compose import DEFAULT_OFFICE
from bot.delivery.render import REMINDER_KINDS, render, render_reminder
from bot.platforms.registry import PLATFORMS
from bot.replies.keywords import help_text

# `--platform` takes a platform (its robots' default markup) or a markup itself.
PLATFORM_MARKUP = {
    "text": "text",
    "markdown": "markdown",
    **{name: found.default_markup for name, found in PLATFORMS.items()},
}

ITEMS: list[dict[str, Any]] = [
    {
        "task": "12",
        "text": "加快船企升级改造，推进邮轮制造、海上智能终端制造等项目。",
        "unit": "市经信局",
        "kind": "report",
        "name": None,
        "due": "2020-10-26",
        "level_name": "催办",
        "overdue_days": 0,
    },
    {
        "task": "55",
        "text": '新增公共停车位 1000 个。@all <at user_id="all">所有人</at>',
        "unit": "市住建局",
        "kind": "deadline",
        "name": None,
        "due": "2020-10-30",
        "level_name": "督办",
        "overdue_days": 2,
    },
]


def preview(kind: str, platform: str = "text") -> str:
    """`kind` rendered for `platform` with sample data (user text includes mention bait)."""
    markup = PLATFORM_MARKUP[platform]
    if kind in REMINDER_KINDS:
        unit = kind != "escalate"
        return render_reminder(
            kind,
            "市经信局" if unit else DEFAULT_OFFICE,
            "unit" if unit else "office",
            ITEMS,
            "@13800000001" if unit else "",
            markup,
        )
    return render(kind, markup, **SAMPLES[kind])


SAMPLES: dict[str, dict[str, Any]] = {
    "digest": {
        "recipient": "李明",
        "date_label": "2020年10月28日",
        "blockers": [
            {"task": "58", "unit": "市水利局", "text": "海塘加固工程用地审批尚未完成，需协调"}
        ],
        "units": [
            {
                "name": "市经信局",
                "items": [
                    {
                        "task": "12",
                        "text": ITEMS[0]["text"],
                        "level_name": "通报",
                        "overdue_days": 3,
                    }
                ],
            }
        ],
    },
    "ranking": {
        "period_label": "2020年10月",
        "rows": [
            {"rank": 1, "unit": "市发改委", "score": 96, "light": "green", "trend": "↑"},
            {"rank": 2, "unit": "市住建局", "score": 72, "light": "yellow", "trend": ""},
            {"rank": 3, "unit": "市经信局", "score": 41, "light": "red", "trend": "↓"},
        ],
    },
    "reply": {"answer": "已收到第12项进展（60%），谢谢。"},
    "help": {"commands": help_text().splitlines()},
    "alert": {"channel": "jxj-wecom", "reason": "invalid webhook key (93000)"},
    "test": {"channel": "jxj-wecom"},
    "blocker": {
        "recipient": "李明",
        "unit": "市水利局",
        "task": "58",
        "summary": "推进海塘安澜工程建设",
        "description": "海塘加固工程用地审批尚未完成，需协调。@all",
    },
    "followup": {
        "recipient": "市经信局",
        "task": "12",
        "summary": ITEMS[0]["text"],
        "acknowledged": "10月12日",
        "days": 3,
    },
}
