"""What an evidence file is, judged by its bytes: its type from its first bytes (the
`filetype` library; Office 2007+ files are zips told apart by their [Content_Types].xml,
legacy Office files are OLE compound files told apart by their streams' names), its size
read in chunks and refused past the limit (never more than the limit held), and the name
it is shown under (the last part of what was sent, printable, at most 200 characters)."""

from __future__ import annotations

import io
import unicodedata
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from typing import BinaryIO

import filetype

CHUNK = 64 * 1024
NAME_LENGTH = 200
ZIP = "application/zip"
OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# The main part an Office 2007+ package declares, and the type it makes the file.
OPEN_XML = {
    "/word/document.xml": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "/xl/workbook.xml": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "/ppt/presentation.xml": (
        "application/vnd.openxmlformats-officedocument.presentationml.presentation"
    ),
}
# A legacy Office file's main stream (its name in UTF-16LE in the compound file's directory).
LEGACY = (
    ("WordDocument", "application/msword"),
    ("Workbook", "application/vnd.ms-excel"),
    ("Book", "application/vnd.ms-excel"),
    ("PowerPoint Document", "application/vnd.ms-powerpoint"),
)


class FileRefusedError(Exception):
    """A file not taken: `status` (413 too large, 415 type not allowed, 400 empty or too
    many) and the Chinese sentence shown to the unit."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


@dataclass(frozen=True)
class Checked:
    name: str
    content_type: str
    data: bytes


def read_limited(source: BinaryIO, limit: int, name: str) -> bytes:
    """The file's bytes, read in chunks; refused (413) as soon as they pass `limit`."""
    return gather_limited(iter(lambda: source.read(CHUNK), b""), limit, name)


def gather_limited(source: Iterable[bytes], limit: int, name: str) -> bytes:
    """The chunks joined; refused (413) as soon as they pass `limit` (a download)."""
    chunks, size = [], 0
    for chunk in source:
        size += len(chunk)
        if size > limit:
            raise FileRefusedError(413, f"文件「{name}」超过 {_size(limit)} 的上限，未予接收。")
        chunks.append(chunk)
    return b"".join(chunks)


def sniff(data: bytes) -> str | None:
    """The type the bytes are, whatever the file was called; None when unknown."""
    if data.startswith(OLE):
        return _legacy_office(data)
    kind = filetype.guess_mime(data[:8192])
    if kind in (ZIP, *OPEN_XML.values()):
        return _open_xml(data)
    return str(kind) if kind else None


def _open_xml(data: bytes) -> str | None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as package:
            info = package.getinfo("[Content_Types].xml")
            if info.file_size > 1024 * 1024:
                return ZIP
            declared = package.read(info).decode("utf-8", "replace")
    except (zipfile.BadZipFile, KeyError, OSError, RuntimeError, ValueError):
        return ZIP
    for part, kind in OPEN_XML.items():
        if f'PartName="{part}"' in declared:
            return kind
    return ZIP


def _legacy_office(data: bytes) -> str | None:
    for stream, kind in LEGACY:
        if stream.encode("utf-16-le") + b"\x00\x00" in data:
            return kind
    return None


def clean_name(sent: str | None, content_type: str = "") -> str:
    """The name to show: the last part of a path (either slash), no control or format
    characters, no leading dots, at most 200 characters keeping the extension; 「附件」
    when nothing is left."""
    text = (sent or "").replace("\\", "/").rsplit("/", 1)[-1]
    text = "".join(c for c in text if unicodedata.category(c)[0] != "C")
    text = text.strip().lstrip(".").strip()
    if len(text) > NAME_LENGTH:
        stem, dot, extension = text.rpartition(".")
        if dot and 0 < len(extension) <= 10:
            text = stem[: NAME_LENGTH - len(extension) - 1] + "." + extension
        else:
            text = text[:NAME_LENGTH]
    return text or "附件"


def check(data: bytes, sent_name: str | None, allowed: Iterable[str]) -> Checked:
    """Refused (415) unless the bytes are one of the `allowed` types; (400) if empty."""
    name = clean_name(sent_name)
    if not data:
        raise FileRefusedError(400, f"文件「{name}」为空，未予接收。")
    kind = sniff(data)
    if kind is None or kind not in set(allowed):
        raise FileRefusedError(
            415,
            f"文件「{name}」的类型不在允许范围内（仅接收图片、PDF 和 Office 文档），未予接收。",
        )
    return Checked(name, kind, data)


def _size(limit: int) -> str:
    if limit >= 1024 * 1024:
        return f"{limit / (1024 * 1024):g} MB"
    return f"{limit / 1024:g} KB"
