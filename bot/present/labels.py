"""The Chinese words people read for duban's states and kinds, each defined once.

Statuses, lights, trends, roles, due points, outbox states and audit actions, as the CLI,
the dashboard, the exports and the chat messages show them.
"""

from __future__ import annotations

from collections.abc import Iterable

from bot.domain.lifecycle import Event, Status

STATUS_NAMES: dict[str, str] = {
    Status.NOT_STARTED: "未启动",
    Status.IN_PROGRESS: "推进中",
    Status.CLOSURE_REQUESTED: "申请办结",
    Status.CLOSED: "已办结",
    Status.EXTENSION_REQUESTED: "申请延期",
    Status.WITHDRAWN: "已撤销",
}
# Lights from the best to the worst: a task or unit shows the worst of its lights.
LIGHTS = ("green", "yellow", "red")
LIGHT_NAMES = {"green": "绿", "yellow": "黄", "red": "红"}
LIGHT_WORDS = {light: f"{name}灯" for light, name in LIGHT_NAMES.items()}  # chat messages
LIGHT_DOTS = {"green": "🟢", "yellow": "🟡", "red": "🔴"}  # the terminal's coloured dots
LIGHT_FILLS = {"绿": "C6EFCE", "黄": "FFEB9C", "红": "FFC7CE"}  # xlsx cell colours
TREND_NAMES = {"up": "上升", "down": "下降", "same": "持平", "new": "新上榜"}
TREND_ARROWS = {"up": "↑", "down": "↓", "same": "→", "new": "新"}  # dashboard and terminal
TREND_MARKS = {"up": "↑", "down": "↓", "same": "", "new": "新"}  # the published ranking
ROLE_NAMES = {"lead": "牵头", "co": "配合"}
POINT_KINDS = {"report": "报送进展", "deadline": "办结期限", "milestone": "节点"}
# What is due, as a reminder words it: 「请于…前报送进展」「…前办结」.
DUE_WHAT = {"report": "报送进展", "deadline": "办结", "milestone": "节点"}
# An evidence file (佐证材料) as the reviewer left it.
EVIDENCE_STATES = {"submitted": "待审核", "accepted": "已认可", "returned": "已退回"}
POINT_STATES = {"open": "未了结", "resolved": "已了结", "missed": "未按期报送"}
RESOLUTIONS = {
    "reported": "已报送",
    "closed": "已办结",
    "extended": "已延期",
    "superseded": "已更替",
}
MESSAGE_STATES = {
    "pending": "待发送",
    "sending": "发送中",
    "sent": "已发送",
    "failed": "重试中",
    "dead": "发送失败",
    "split": "已拆分重发",
}
# A message's kind as the outbox and `simulate` show it; a reminder's is its level's default
# name (schedules/default.toml may rename the levels in the messages themselves).
MESSAGE_KINDS = {
    "notice": "提醒",
    "urge": "催办",
    "supervise": "督办",
    "escalate": "通报",
    "digest": "督办日报",
    "ranking": "晾晒排名",
    "reply": "回复",
    "help": "指令帮助",
    "alert": "系统告警",
    "test": "连通测试",
    "blocker": "困难上报",
    "followup": "收到后跟进",
    "request": "待审申请",
    "decision": "审批结果",
}
REPLY_ACTIONS: dict[str, str] = {
    Event.PROGRESS: "报送进展",
    Event.COMPLETE: "申请办结",
    Event.EXTEND: "申请延期",
    "reply.blocker": "反映困难",
    "reply.ack": "确认收到",
}
APPROVAL_ACTIONS: dict[str, str] = {
    Event.CONFIRM_CLOSE: "确认办结",
    Event.RETURN: "退回办结申请",
    Event.APPROVE_EXTENSION: "同意延期",
    Event.REJECT_EXTENSION: "驳回延期",
}
OTHER_ACTIONS = {"followup.ack": "收到后未报进展，已再次询问"}
TIMELINE_ACTIONS: dict[str, str] = {**REPLY_ACTIONS, **APPROVAL_ACTIONS, **OTHER_ACTIONS}


def due_what(kind: str, name: str | None = None) -> str:
    """What a due point asks for: a milestone's own name, else its kind's words."""
    return name or DUE_WHAT.get(kind, kind)


def size_text(size: int) -> str:
    """A file's size as people read it: 512 B, 12.3 KB, 4.5 MB."""
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / 1024 / 1024:.1f} MB"


def worst_light(lights: Iterable[str]) -> str:
    """The most severe of `lights` (green when there are none)."""
    return max(lights, key=LIGHTS.index, default="green")


# A card's buttons: an item's report page (「#12 填报」), or one for all when they do not fit.
CARD_BUTTON = "填报"
CARD_MORE = "查看并填报"
