"""Channels that stay on this machine: the console, a JSON-lines file, an in-memory list."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TextIO

import httpx

from bot.platforms.base import Outgoing, Receipt
from bot.platforms.spec import ChannelSpec, Platform


@dataclass
class ConsoleChannel:
    """Prints each message, framed, for `make run` and operations checks."""

    name: str = "console"
    stream: TextIO = field(default_factory=lambda: sys.stdout)

    def send(self, message: Outgoing) -> Receipt:
        rule = "─" * 40
        print(
            f"{rule}\n→ {message.recipient}（消息 {message.message_id}）\n{message.text}\n{rule}",
            file=self.stream,
            flush=True,
        )
        return Receipt({"printed": True})


@dataclass
class JsonlChannel:
    """Appends each message as one JSON line to a file."""

    path: Path
    name: str = "jsonl"

    def send(self, message: Outgoing) -> Receipt:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = asdict(message)
        if message.card is None:  # lines without links stay as they were
            del line["card"]
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(line, ensure_ascii=False) + "\n")
        return Receipt({"appended": str(self.path)})


@dataclass
class CaptureChannel:
    """Keeps what it is given; the simulator and tests read `sent`."""

    name: str = "capture"
    sent: list[Outgoing] = field(default_factory=list)

    def send(self, message: Outgoing) -> Receipt:
        self.sent.append(message)
        return Receipt({"captured": len(self.sent)})


def _console(spec: ChannelSpec, client: httpx.Client) -> ConsoleChannel:
    return ConsoleChannel(name=spec.name)


def _jsonl(spec: ChannelSpec, client: httpx.Client) -> JsonlChannel:
    assert spec.path is not None  # the settings require it
    return JsonlChannel(spec.path, name=spec.name)


CONSOLE = Platform(name="console", build=_console, needs=(), local=True)
JSONL = Platform(name="jsonl", build=_jsonl, needs=("path",), local=True)
