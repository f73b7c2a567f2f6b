"""Sample data for `duban preview`: every message kind rendered as its reader would see it —
mentions as the chat shows them (「@张三」), never as the platforms' markup."""

from __future__ import annotations

from typing import Any

from bot.delivery.compose import DEFAULT_OFFICE
from bot.delivery.render import REMINDER_KINDS, render, render_reminder, unit_summaries
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
        "text": "新增公共停车位 1000 个，缓解城区停车难问题。",
        "unit": "市住建局",
        "kind": "deadline",
        "name": None,
        "due": "2020-10-30",
        "level_name": "督办",
        "overdue_days": 2,
    },
]


# Whom each unit level mentions under the default ladder, as the chat shows it.
MENTIONED = {"notice": "", "urge": "@张三", "supervise": "@张三 @王强"}
DASHBOARD = "https://duban.example.gov.cn"
# (unit, working days overdue) of the items an escalation or a digest sums up per unit.
OVERDUE = [("市水利局", 9), ("市水利局", 4), ("市住建局", 2), ("市经信局", 3), ("市水利局", 6)]


def preview(kind: str, platform: str = "text") -> str:
    """`kind` rendered for `platform` with sample data."""
    markup = PLATFORM_MARKUP[platform]
    if kind == "escalate":
        items = [{**ITEMS[0], "unit": unit, "overdue_days": days} for unit, days in OVERDUE]
        return render_reminder(kind, DEFAULT_OFFICE, "office", items, "", markup, DASHBOARD)
    if kind in REMINDER_KINDS:
        return render_reminder(kind, "市经信局", "unit", ITEMS, MENTIONED[kind], markup)
    return render(kind, markup, **SAMPLES[kind])


SAMPLES: dict[str, dict[str, Any]] = {
    "digest": {
        "recipient": "李明常务副市长",
        "recipient_kind": "supervisor",
        "date_label": "2020年10月28日",
        "blockers": [
            {"task": "58", "unit": "市水利局", "text": "海塘加固工程用地审批尚未完成，需协调"}
        ],
        "units": unit_summaries(OVERDUE),
        "dashboard_url": DASHBOARD,
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
        "recipient": "李明常务副市长",
        "recipient_kind": "supervisor",
        "unit": "市水利局",
        "task": "58",
        "summary": "推进海塘安澜工程建设",
        "description": "海塘加固工程用地审批尚未完成，需协调。",
    },
    "request": {
        "recipient": "李明常务副市长",
        "recipient_kind": "supervisor",
        "request": "closure",
        "unit": "市水利局",
        "task": "58",
        "summary": "推进海塘安澜工程建设",
        "note": "主体工程已完工验收",
        "wanted": "",
        "evidence": [
            {"name": "竣工验收报告.pdf", "size": "1.2 MB", "link": f"{DASHBOARD}/e/…"},
            {"name": "现场照片.jpg", "size": "356.0 KB", "link": f"{DASHBOARD}/e/…"},
        ],
        "review_url": f"{DASHBOARD}/v/…",
    },
    "decision": {
        "recipient": "市水利局",
        "decision": "退回",
        "task": "58",
        "summary": "推进海塘安澜工程建设",
        "reason": "佐证材料不全，请补充竣工验收报告",
        "report_url": f"{DASHBOARD}/r/…",
    },
    "followup": {
        "recipient": "市经信局",
        "task": "12",
        "summary": ITEMS[0]["text"],
        "acknowledged": "10月12日",
        "days": 3,
    },
}
