"""Small files of each kind, as their first bytes make them (what the evidence checks read)."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

from bot.evidence.files import OLE, OPEN_XML


def png(width: int = 2, height: int = 2) -> bytes:
    """A real (tiny, grey) PNG image a browser can show."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def pdf() -> bytes:
    return b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def office(part: str) -> bytes:
    """An Office 2007+ package declaring `part` ("/word/document.xml", …) as its main part."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as package:
        package.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
            f'content-types"><Override PartName="{part}" ContentType="x"/></Types>',
        )
        package.writestr(part.lstrip("/"), "<x/>")
    return out.getvalue()


def docx() -> bytes:
    return office(next(p for p in OPEN_XML if p.startswith("/word/")))


def legacy(stream: str) -> bytes:
    """An OLE compound file whose directory names `stream` ("WordDocument", "Workbook", …)."""
    return OLE + b"\x00" * 504 + stream.encode("utf-16-le") + b"\x00\x00" + b"\x00" * 64


def exe() -> bytes:
    return b"MZ\x90\x00\x03" + b"\x00" * 59 + b"PE\x00\x00" + b"\x00" * 64


def html() -> bytes:
    return b"<!doctype html><html><body><script>alert(1)</script></body></html>"


def plain_zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as package:
        package.writestr("a.txt", "a")
    return out.getvalue()
