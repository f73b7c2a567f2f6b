"""The report page's forms as they arrive: the body limited while it streams, the fields
read into a command, the files read in chunks and checked by their bytes. Everything here
happens before anything is kept: a refusal is a DeniedError (4xx) and changes nothing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.types import Message

from bot.app.errors import TooLarge
from bot.app.sections import ReportSettings
from bot.evidence.files import Checked, FileRefusedError, check, read_limited
from bot.replies.inbox import UNSTORABLE
from bot.replies.keywords import MAX_LENGTH, Command, CommandKind

ACTIONS: dict[str, CommandKind] = {
    "progress": CommandKind.PROGRESS,
    "complete": CommandKind.COMPLETE,
    "extend": CommandKind.EXTEND,
    "blocker": CommandKind.BLOCKER,
    "ack": CommandKind.ACK,
}
WITH_FILES = frozenset({"progress", "complete"})  # forms that take evidence


class DeniedError(Exception):
    """A request answered with a short page and nothing changed."""

    def __init__(self, status: int, title: str, text: str) -> None:
        super().__init__(title)
        self.status, self.title, self.text = status, title, text


@dataclass(frozen=True)
class Submission:
    action: str
    form_token: str
    command: Command
    files: tuple[Checked, ...]


def read_submission(
    form: FormData, action: str, form_token: str, settings: ReportSettings
) -> Submission:
    """The command a form asks for (its task number filled in when applied) and its files."""
    sent = files(form, settings) if action in WITH_FILES else ()
    if action == "complete" and not sent:
        raise DeniedError(
            400, "请附佐证材料", "申请办结须至少上传一份佐证材料（图片、PDF 或 Office 文档）。"
        )
    command = Command(
        ACTIONS[action],
        task="",
        percent=_percent(field(form, "percent")) if action == "progress" else None,
        date=_day(field(form, "date")) if action == "extend" else None,
        text=_text(field(form, "text")),
    )
    return Submission(action, form_token, command, sent)


def files(form: FormData, settings: ReportSettings) -> tuple[Checked, ...]:
    sent = [
        f for f in form.getlist("files") if isinstance(f, UploadFile) and (f.filename or f.size)
    ]
    if len(sent) > settings.max_files:
        raise DeniedError(413, "文件过多", f"每次最多上传 {settings.max_files} 个文件。")
    checked = []
    for upload in sent:
        try:
            data = read_limited(upload.file, settings.max_file_bytes, upload.filename or "")
            checked.append(check(data, upload.filename, settings.allowed_types))
        except FileRefusedError as exc:
            raise DeniedError(exc.status, "文件未予接收", exc.message) from None
    return tuple(checked)


def limited_receive(request: Request, limit: int) -> Any:
    """The request's `receive`, raising TooLarge once more than `limit` bytes arrived (and
    at once when the declared length is over): the form parser never holds more."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise TooLarge(f"body over {limit} bytes")
    received = 0

    async def receive() -> Message:
        nonlocal received
        message = await request.receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise TooLarge(f"body over {limit} bytes")
        return message

    return receive


def field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def _text(value: str) -> str:
    text = UNSTORABLE.sub("", value).strip()
    if len(text) > MAX_LENGTH:
        raise DeniedError(400, "内容过长", f"说明请控制在 {MAX_LENGTH} 字以内。")
    return text


def _percent(value: str) -> int | None:
    if not value.strip():
        return None
    try:
        percent = int(value.strip().rstrip("%"))
    except ValueError:
        percent = -1
    if not 0 <= percent <= 100:
        raise DeniedError(400, "进度有误", "进度应为 0 到 100 之间的整数。")
    return percent


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise DeniedError(
            400, "日期有误", "请选择或按 2020-12-31 格式填写延期后的完成日期。"
        ) from None
