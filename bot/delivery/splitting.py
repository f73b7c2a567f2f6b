"""Byte-aware splitting of a long message into numbered parts, on line boundaries.

Platform limits count UTF-8 bytes, not characters (a Chinese character is 3 bytes). The
first line (the title) is repeated on every part with its number — 「【催办通知】…（2/3）」 —
so each part stands on its own in the chat.
"""

from __future__ import annotations

MARK_BUDGET = len("（99/99）".encode())


def utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))


def cut_to_bytes(text: str, limit: int) -> str:
    """The longest prefix of `text` within `limit` bytes, never splitting a character."""
    return text.encode("utf-8")[:limit].decode("utf-8", errors="ignore")


def split_message(text: str, limit: int) -> list[str]:
    """`text` as it is when it fits, else parts within `limit` bytes, numbered (1/n)…"""
    if utf8_len(text) <= limit:
        return [text]
    title, _, body = text.partition("\n")
    title = cut_to_bytes(title, limit // 3)
    room = limit - utf8_len(title) - MARK_BUDGET - 1
    chunks = _pack(body.split("\n"), room)
    total = len(chunks)
    return [f"{title}（{n}/{total}）\n{chunk}" for n, chunk in enumerate(chunks, start=1)]


def _pack(lines: list[str], room: int) -> list[str]:
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    for line in _fitting(lines, room):
        extra = utf8_len(line) + (1 if current else 0)
        if current and size + extra > room:
            chunks.append("\n".join(current))
            current, size = [], 0
            extra = utf8_len(line)
        current.append(line)
        size += extra
    if current or not chunks:
        chunks.append("\n".join(current))
    return chunks


def _fitting(lines: list[str], room: int) -> list[str]:
    """Lines longer than a whole part are cut on character boundaries."""
    fitted: list[str] = []
    for line in lines:
        while utf8_len(line) > room:
            head = cut_to_bytes(line, room)
            fitted.append(head)
            line = line[len(head) :]
        fitted.append(line)
    return fitted
