"""The report page a unit opens from a reminder, and the evidence files it links to.

  GET  /r/{token}   the unit's item for one due point: the task, its status and deadline,
                    its history and evidence, and forms for 进展, 完成 (with files), 延期,
                    困难 and 收到
  POST /r/{token}   one of those forms, applied through the same flow as a chat reply
                    (bot/replies/apply.py: the unit as the actor, channel `web-form`): the
                    same permissions, audit events and answer, shown on the result page
  GET  /e/{token}   an evidence file, as an attachment of its stored type

The link's token (bot/domain/tokens.py, made by bot/present/links.py) names the unit and
the due point; it works for that unit's item only, until it expires. Each form carries a
token of its own, good once (its fingerprint kept in `once_keys` with the change it made):
a second submit changes nothing and says so. A refused command keeps nothing — neither the
form token nor the files. Uploads are limited while they arrive: the body to `max_files` ×
`max_file_bytes` (the hooks keep `[web] max_body`), each file to `max_file_bytes`, its
type read from its first bytes (bot/evidence/files.py). No JavaScript; every answer to a
person is a short Chinese page, a bad or foreign link a 403.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from bot.app.errors import ConfigError, NotFoundError, ParseError, TooLarge
from bot.domain.rules import Rules, default_rules, load_rules
from bot.domain.tokens import InvalidTokenError, Subject, fingerprint, sign, verify
from bot.engine.schedule import deadline_of
from bot.evidence.attach import attach
from bot.evidence.store import EvidenceStore, digest, open_store
from bot.present.labels import EVIDENCE_STATES, POINT_KINDS, STATUS_NAMES, due_what
from bot.present.links import EVIDENCE, PATHS, REPORT
from bot.replies.apply import Actor, Outcome, apply_command
from bot.replies.keywords import MAX_LENGTH, Command, checked_command
from bot.store.models import Assignment, DuePoint, Evidence, Plan, Task, Unit
from bot.store.once import take
from bot.supervise.task_page import timeline
from bot.web.context import WebContext
from bot.web.dashboard import environment, secured
from bot.web.report_forms import (
    ACTIONS,
    DeniedError,
    Submission,
    field,
    limited_receive,
    read_submission,
)

Handler = Callable[[Request], Awaitable[Response]]
log = logging.getLogger("duban.web")
CHANNEL = "web-form"
FORM = "report-form"  # the purpose of a form's own token
FIELDS_BYTES = 256 * 1024  # room for the fields and the multipart framing beside the files
ACCEPT = "image/*,.pdf,.doc,.docx,.xls,.xlsx,.ppt,.pptx"  # what the file picker offers


class UnchangedError(Exception):
    """The apply flow refused the command: the transaction is rolled back."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.reply)
        self.outcome = outcome


@dataclass(frozen=True)
class Item:
    unit: Unit
    point: DuePoint
    plan: Plan
    task: Task

    @property
    def assignment_id(self) -> int:
        return self.point.assignment_id


class ReportPages:
    """What the routes share: the templates, the evidence store, the ladder's names."""

    def __init__(self, ctx: WebContext) -> None:
        self.ctx = ctx
        self.settings = ctx.settings.report
        self.tz = ZoneInfo(ctx.settings.plan.timezone)
        self.env = environment(self.tz)
        self._lock = threading.Lock()
        self._store: EvidenceStore | None = None
        self._rules: Rules | None = None

    @property
    def body_limit(self) -> int:
        return self.settings.max_files * self.settings.max_file_bytes + FIELDS_BYTES

    def store(self) -> EvidenceStore:
        with self._lock:
            if self._store is None:
                self._store = open_store(self.settings)
            return self._store

    def rules(self) -> Rules:
        with self._lock:
            if self._rules is None:
                try:
                    self._rules = load_rules(self.ctx.settings.schedules.rules)
                except ConfigError:
                    return default_rules()
            return self._rules

    # -- answers ---------------------------------------------------------------------------

    def page(self, template: str, status: int = 200, **context: Any) -> Response:
        html = self.env.get_template(template).render(office=self.ctx.composer.office, **context)
        return secured(HTMLResponse(html, status_code=status))

    def message(self, status: int, title: str, text: str, back: str | None = None) -> Response:
        return self.page("report_message.html", status, title=title, text=text, back=back)

    def denied(self) -> DeniedError:
        self.ctx.count("web", "report_denied")
        return DeniedError(
            403,
            "链接无效或已过期",
            "该链接无效、已过期或不属于贵单位。请使用最新提醒消息中的链接，"
            f"如有疑问请联系{self.ctx.composer.office}。",
        )

    # -- tokens ----------------------------------------------------------------------------

    def subject(self, token: str, purpose: str, now: datetime) -> tuple[Subject, datetime]:
        try:
            claims = verify(self.settings.key, token, purpose, now)
        except InvalidTokenError as exc:
            log.debug("a %s link was refused: %s", purpose, exc.reason)  # never the token
            raise self.denied() from None
        return claims.subject, claims.expires

    def item(self, session: Session, subject: Subject) -> Item:
        """The due point and its assignment, when they are the unit's the token names."""
        if len(subject) != 2 or not all(isinstance(part, int) for part in subject):
            raise self.denied()
        unit_id, point_id = subject
        row = session.execute(
            select(DuePoint, Unit, Task, Plan)
            .join(Assignment, DuePoint.assignment_id == Assignment.id)
            .join(Unit, Assignment.unit_id == Unit.id)
            .join(Task, Assignment.task_id == Task.id)
            .join(Plan, Task.plan_id == Plan.id)
            .where(DuePoint.id == point_id)
        ).first()
        if row is None:
            raise DeniedError(404, "事项不存在", "该事项已不在督办计划中，无需再报送。")
        point, unit, task, plan = row
        if unit.id != unit_id:
            raise self.denied()
        return Item(unit, point, plan, task)

    def form_token(self, subject: Subject, action: str, expires: datetime) -> str:
        return sign(self.settings.key, FORM, (*subject, action, secrets.token_hex(8)), expires)

    # -- the page --------------------------------------------------------------------------

    def show(self, token: str) -> Response:
        now = self.ctx.clock()
        subject, expires = self.subject(token, REPORT, now)
        with self.ctx.sessions() as session:
            item = self.item(session, subject)
            assignment = item.point.assignment
            files = session.scalars(
                select(Evidence)
                .where(Evidence.assignment_id == item.assignment_id)
                .order_by(Evidence.id)
            ).all()
            context: dict[str, Any] = {
                "unit": item.unit.name,
                "plan": item.plan,
                "task": item.task,
                "point": item.point,
                "what": due_what(item.point.kind, item.point.name),
                "kind": POINT_KINDS.get(item.point.kind, item.point.kind),
                "state": STATUS_NAMES[assignment.status],
                "progress": assignment.progress,
                "lead": assignment.role == "lead",
                "deadline": deadline_of(assignment, item.task, item.plan),
                "history": timeline(
                    session, self.rules(), self.tz, {item.assignment_id: item.unit.name}
                ),
                "files": [(e, self.evidence_link(e.id, now)) for e in files],
                "forms": {a: self.form_token(subject, a, expires) for a in ACTIONS},
                "tomorrow": date.fromordinal(now.astimezone(self.tz).date().toordinal() + 1),
                "expires": expires,
            }
        return self.page(
            "report.html",
            **context,
            EVIDENCE_STATES=EVIDENCE_STATES,
            accept=ACCEPT,
            max_files=self.settings.max_files,
            max_megabytes=f"{self.settings.max_file_bytes / (1024 * 1024):g}",
            max_text=MAX_LENGTH,
        )

    def evidence_link(self, evidence_id: int, now: datetime) -> str:
        """The file's link, relative to this site (the page may be served without
        `[web] public_url`); good as long as the report links are."""
        expires = now + timedelta(days=self.settings.link_days)
        return PATHS[EVIDENCE] + sign(self.settings.key, EVIDENCE, (evidence_id,), expires)

    # -- a submission ----------------------------------------------------------------------

    def read(self, token: str, form: FormData) -> Submission:
        """The form's fields and files, checked; DeniedError (4xx) before anything changes."""
        now = self.ctx.clock()
        subject, _ = self.subject(token, REPORT, now)
        action = field(form, "action")
        form_token = field(form, "form")
        if action not in ACTIONS:
            raise DeniedError(400, "无法识别的操作", "请返回报送页面重新选择。")
        given, _ = self.subject(form_token, FORM, now)
        if tuple(given[:3]) != (*subject, action):
            raise self.denied()
        return read_submission(form, action, form_token, self.settings)

    def apply(self, token: str, submission: Submission) -> Response:
        now = self.ctx.clock()
        subject, _ = self.subject(token, REPORT, now)
        back = PATHS[REPORT] + token
        try:
            with self.ctx.sessions.begin() as session:
                item = self.item(session, subject)
                if not take(session, [f"{FORM}:{fingerprint(submission.form_token)}"], now):
                    raise DeniedError(409, "已提交过", "该表单已提交过，本次未重复处理。")
                command = checked_command(
                    Command(
                        submission.command.kind,
                        item.task.number,
                        submission.command.percent,
                        submission.command.date,
                        submission.command.text,
                    )
                )
                actor = Actor("unit", item.unit.name, (item.unit.id,))
                # The files' rows first, so that a 完成's closure request lists them
                # (bot/replies/reviewing); their bytes are kept only once the command is
                # applied: a refused one rolls the rows back and leaves nothing stored.
                held = HeldStore()
                for file in submission.files:
                    attach(
                        session,
                        held,
                        item.point.assignment,
                        file,
                        actor=actor.name,
                        channel=CHANNEL,
                        now=now,
                    )
                outcome = apply_command(
                    session,
                    actor,
                    command,
                    item.plan,
                    now,
                    channel=CHANNEL,
                    composer=self.ctx.composer,
                )
                if not outcome.changed:
                    raise UnchangedError(outcome)
                held.keep(self.store())
        except UnchangedError as refused:
            return self.message(409, "未作处理", refused.outcome.reply, back)
        except ParseError as exc:
            return self.message(400, "请补充填写", exc.message, back)
        self.ctx.count("web", "report_applied")
        return self.message(200, "已提交", outcome.reply, back)

    # -- an evidence file ------------------------------------------------------------------

    def evidence(self, token: str) -> Response:
        subject, _ = self.subject(token, EVIDENCE, self.ctx.clock())
        if len(subject) != 1 or not isinstance(subject[0], int):
            raise self.denied()
        with self.ctx.sessions() as session:
            found = session.get(Evidence, subject[0])
            if found is None:
                raise DeniedError(404, "文件不存在", "该佐证材料已不存在。")
            name, kind, sha256 = found.name, found.content_type, found.sha256
        try:
            data = self.store().get(sha256)
        except NotFoundError:
            log.warning("evidence %s: its file %s is missing from the store", subject[0], sha256)
            raise DeniedError(404, "文件不存在", "该佐证材料的文件已不存在。") from None
        ascii_name = name.encode("ascii", "replace").decode().replace('"', "_").replace("?", "_")
        response = Response(data, media_type=kind)
        response.headers["Content-Disposition"] = (
            f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"
        )
        secured(response)
        response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
        return response


class HeldStore:
    """An evidence store that keeps nothing until told: `put` only names the bytes (their
    SHA-256, as every store does); `keep` puts them into the real store."""

    def __init__(self) -> None:
        self.held: list[bytes] = []

    def put(self, data: bytes) -> str:
        self.held.append(data)
        return digest(data)

    def get(self, sha256: str) -> bytes:
        raise NotFoundError(f"evidence {sha256[:12]} is not kept yet")

    def keep(self, store: EvidenceStore) -> None:
        for data in self.held:
            store.put(data)


def add_report(app: FastAPI, ctx: WebContext) -> None:
    """Routes /r/{token} and /e/{token} (off — 404 — while `[report] secret` is unset)."""
    pages = ReportPages(ctx)

    def answering(exc: DeniedError) -> Response:
        return pages.message(exc.status, exc.title, exc.text)

    def enabled(route: Handler) -> Handler:
        """The route while `[report] secret` is set; else every request gets 404."""

        async def guarded(request: Request) -> Response:
            if not pages.settings.secret:
                return pages.message(404, "未启用", "本系统未启用在线报送。")
            return await route(request)

        return guarded

    async def show(request: Request) -> Response:
        try:
            return await run_in_threadpool(pages.show, request.path_params["token"])
        except DeniedError as exc:
            return answering(exc)

    async def submit(request: Request) -> Response:
        token = request.path_params["token"]
        try:
            pages.subject(token, REPORT, ctx.clock())  # a bad link reads no body
            limited = Request(request.scope, limited_receive(request, pages.body_limit))
            async with limited.form(
                max_files=pages.settings.max_files + 1, max_fields=20, max_part_size=64 * 1024
            ) as form:
                submission = await run_in_threadpool(pages.read, token, form)
            return await run_in_threadpool(pages.apply, token, submission)
        except DeniedError as exc:
            return answering(exc)
        except TooLarge:
            limit = f"{pages.body_limit / (1024 * 1024):.0f} MB"
            return pages.message(413, "文件过大", f"本次上传的内容超过 {limit} 的上限，未予接收。")
        except (StarletteHTTPException, ClientDisconnect, AssertionError, KeyError):
            # A malformed multipart body (or one cut off): nothing was kept.
            return pages.message(400, "提交内容有误", "请返回报送页面重新填写后提交。")

    async def evidence(request: Request) -> Response:
        try:
            return await run_in_threadpool(pages.evidence, request.path_params["token"])
        except DeniedError as exc:
            return answering(exc)

    app.add_route("/r/{token}", enabled(show), methods=["GET"])
    app.add_route("/r/{token}", enabled(submit), methods=["POST"])
    app.add_route("/e/{token}", enabled(evidence), methods=["GET"])
