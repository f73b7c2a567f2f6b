"""The local channels: the console, a JSON-lines file, and the in-memory capture."""

from __future__ import annotations

import io
import json
from pathlib import Path

from bot.platforms import CaptureChannel, ConsoleChannel, JsonlChannel, Outgoing

REMINDER = Outgoing(
    7, "市住建局", "remind", "请于本周内报送“新增公共停车位”进展。", ("13800000001",)
)
ESCALATION = Outgoing(8, "赵华", "escalate", "市住建局已逾期 3 个工作日。")


def test_the_console_prints_the_recipient_the_message_id_and_the_text() -> None:
    stream = io.StringIO()
    channel = ConsoleChannel(stream=stream)
    receipt = channel.send(REMINDER)
    printed = stream.getvalue()
    assert "→ 市住建局（消息 7）" in printed
    assert REMINDER.text in printed.splitlines()
    assert receipt.detail == {"printed": True}
    assert channel.name == "console"


def test_the_console_frames_each_message_on_its_own_lines() -> None:
    stream = io.StringIO()
    channel = ConsoleChannel(name="ops", stream=stream)
    channel.send(REMINDER)
    channel.send(ESCALATION)
    lines = stream.getvalue().splitlines()
    assert lines.index("→ 市住建局（消息 7）") < lines.index("→ 赵华（消息 8）")
    assert lines[0] == lines[-1] == "─" * 40


def test_jsonl_appends_one_json_object_per_line_and_creates_the_folder(tmp_path: Path) -> None:
    path = tmp_path / "var" / "outbox" / "messages.jsonl"
    channel = JsonlChannel(path)
    first = channel.send(REMINDER)
    JsonlChannel(path, name="archive").send(ESCALATION)  # a new channel appends, too
    lines = path.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == [
        {
            "message_id": 7,
            "recipient": "市住建局",
            "kind": "remind",
            "text": "请于本周内报送“新增公共停车位”进展。",
            "mobiles": ["13800000001"],
            "user_ids": [],
            "title": "",
        },
        {
            "message_id": 8,
            "recipient": "赵华",
            "kind": "escalate",
            "text": "市住建局已逾期 3 个工作日。",
            "mobiles": [],
            "user_ids": [],
            "title": "",
        },
    ]
    assert "市住建局" in lines[0]  # Chinese is written as is, not as \u escapes
    assert first.detail == {"appended": str(path)}
    assert channel.name == "jsonl"


def test_capture_keeps_the_messages_in_the_order_they_were_sent() -> None:
    channel = CaptureChannel()
    receipts = [channel.send(message) for message in (ESCALATION, REMINDER, ESCALATION)]
    assert channel.sent == [ESCALATION, REMINDER, ESCALATION]
    assert [r.detail for r in receipts] == [{"captured": 1}, {"captured": 2}, {"captured": 3}]


def test_each_capture_keeps_its_own_list() -> None:
    first, second = CaptureChannel(), CaptureChannel("other")
    first.send(REMINDER)
    assert second.sent == []
