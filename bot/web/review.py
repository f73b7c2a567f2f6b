"""The 待审 page (/v/{token}): what waits for the office or one supervisor — closure requests
with their evidence, extension requests — and the forms that decide them.

The path's token (purpose "review", bot/present/links.py) says who is looking: ("office",)
or ("supervisor", id); no password is stored. Each form carries its own token (purpose
"review-form": the reviewer, the assignment, the decision and a nonce) that works once — its
fingerprint goes into `once_keys` — so a second submit changes nothing and says so. A
decision goes through the same apply flow as the chat command (bot/replies/apply.py) on
channel "web-form": the same permissions, answers and audit events. A bad, expired or
foreign token gets a short Chinese 403 page and changes nothing. No JavaScript.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from bot.domain.tokens import InvalidTokenError, fingerprint, sign, verify
from bot.present.labels import EVIDENCE_STATES, size_text
from bot.present.links import REVIEW
from bot.replies.apply import Actor, apply_command
from bot.replies.keywords import Command, CommandKind
from bot.replies.pending import Waiting, waiting_for
from bot.store.models import Assignment, Supervisor
from bot.store.once import take
from bot.web.context import WebContext
from bot.web.dashboard import environment, readers, secured

FORM = "review-form"
MAX_FORM = 8 * 1024  # bytes of a posted form: a reason and two tokens
MAX_REASON = 200
FORM_DAYS = 7  # a page's forms work this long after it was shown
# The decisions, as the form names them, and the chat command each one is.
DECISIONS = {
    "confirm": CommandKind.CONFIRM_CLOSE,
    "return": CommandKind.RETURN,
    "approve": CommandKind.APPROVE_EXTENSION,
    "reject": CommandKind.REJECT_EXTENSION,
}
FOR_REQUEST = {"closure": ("confirm", "return"), "extension": ("approve", "reject")}
STALE = "该表单已失效，请在刷新后的页面上重新办理。"
NEEDS_REASON = {"return": "退回原因", "reject": "驳回理由"}


@dataclass(frozen=True)
class Reviewer:
    actor: Actor
    subject: tuple[str, int]  # ("office", 0) or ("supervisor", id): what the form tokens bind

    @property
    def title(self) -> str:
        return "本室待审事项" if self.actor.kind == "office" else f"{self.actor.name} 待审事项"


class Review:
    def __init__(self, ctx: WebContext) -> None:
        self.ctx = ctx
        self.key = ctx.settings.report.key
        self.env = environment(ZoneInfo(ctx.settings.plan.timezone))
        self.readers = readers(ctx.sessions)

    def reviewer(self, token: str, now: datetime) -> Reviewer | None:
        """Who the page's token is for, or None (bad, expired, foreign, or no such person)."""
        try:
            subject = verify(self.key, token, REVIEW, now).subject
        except InvalidTokenError:
            # Counted, not logged: anyone may send any number of bad links.
            self.ctx.count("review", "refused")
            return None
        if subject == ("office",):
            return Reviewer(Actor("office", self.ctx.composer.office), ("office", 0))
        if len(subject) != 2 or subject[0] != "supervisor" or not isinstance(subject[1], int):
            return None
        with self.readers() as session:
            person = session.get(Supervisor, subject[1])
            if person is None:
                return None
            return Reviewer(
                Actor("supervisor", person.name, supervisor_ids=(person.id,)),
                ("supervisor", person.id),
            )

    def show(
        self, token: str, reviewer: Reviewer, now: datetime, notice: str = "", status: int = 200
    ) -> Response:
        with self.readers() as session:
            items = [self._item(w, reviewer, now) for w in waiting_for(session, reviewer.actor)]
            return self.page(
                "review.html", status, reviewer=reviewer, items=items, token=token, notice=notice
            )

    def _item(self, waiting: Waiting, reviewer: Reviewer, now: datetime) -> dict[str, object]:
        links = self.ctx.composer.links
        return {
            "waiting": waiting,
            "evidence": [
                {
                    "name": e.name,
                    "size": size_text(e.size),
                    "state": EVIDENCE_STATES.get(e.state, e.state),
                    "unit": e.assignment.unit.name,
                    "link": links.evidence(e.id, now),
                }
                for e in waiting.evidence
            ],
            "forms": {
                decision: self._form_token(reviewer, waiting.assignment.id, decision, now)
                for decision in FOR_REQUEST[waiting.kind]
            },
        }

    def _form_token(self, reviewer: Reviewer, assignment: int, decision: str, now: datetime) -> str:
        subject = (*reviewer.subject, assignment, decision, secrets.token_urlsafe(8))
        return sign(self.key, FORM, subject, now + timedelta(days=FORM_DAYS))

    def decide(self, token: str, form: dict[str, str], now: datetime) -> Response:
        """Carries out one submitted form (see the module's docstring)."""
        reviewer = self.reviewer(token, now)
        if reviewer is None:
            return self.refused()
        given = form.get("form", "")
        try:
            subject = verify(self.key, given, FORM, now).subject
        except InvalidTokenError:
            return self.show(token, reviewer, now, STALE, 403)
        if len(subject) != 5 or tuple(subject[:2]) != reviewer.subject:
            return self.refused()
        assignment_id, decision = subject[2], str(subject[3])
        reason = form.get("reason", "").strip()[:MAX_REASON]
        if decision in NEEDS_REASON and not reason:
            return self.show(token, reviewer, now, f"请填写{NEEDS_REASON[decision]}。", 400)
        notice, status = self._apply(reviewer, assignment_id, decision, reason, given, now)
        return self.show(token, reviewer, now, notice, status)

    def _apply(
        self,
        reviewer: Reviewer,
        assignment_id: int | str,
        decision: str,
        reason: str,
        form_token: str,
        now: datetime,
    ) -> tuple[str, int]:
        """The form used once, its decision applied in one transaction: the answer and status."""
        with self.ctx.sessions.begin() as session:
            assignment = session.get(Assignment, assignment_id)
            if assignment is None:
                return "该事项已不存在。", 409
            if not take(session, [f"{FORM}:{fingerprint(form_token)}"], now):
                return "该表单已提交过，未重复处理。", 409
            task = assignment.task
            command = Command(DECISIONS[decision], task=task.number, text=reason)
            outcome = apply_command(
                session,
                reviewer.actor,
                command,
                task.plan,
                now,
                channel="web-form",
                composer=self.ctx.composer,
            )
        return outcome.reply, 200 if outcome.changed else 409

    def page(self, template: str, status: int, **context: object) -> Response:
        html = self.env.get_template(template).render(
            office=self.ctx.composer.office, here="review", **context
        )
        return secured(HTMLResponse(html, status_code=status))

    def refused(self, status: int = 403) -> Response:
        office = self.ctx.composer.office
        text = f"该链接无效或已过期。请使用最新消息中的待审链接，或联系{office}。"
        if status == 413:
            text = "提交的内容过长，未作处理。"
        elif status == 400:
            text = "提交的内容有误，未作处理。"
        return self.page("message.html", status, title="无法办理", text=text, back=None)


def add_review(app: FastAPI, ctx: WebContext) -> None:
    """Adds GET and POST /v/{token} (see the module's docstring)."""
    review = Review(ctx)

    @app.get("/v/{token}", include_in_schema=False)
    def review_page(token: str) -> Response:
        now = ctx.clock()
        reviewer = review.reviewer(token, now)
        return review.refused() if reviewer is None else review.show(token, reviewer, now)

    @app.post("/v/{token}", include_in_schema=False)
    async def review_decision(request: Request, token: str) -> Response:
        form = await _form(request)
        if isinstance(form, int):
            return review.refused(form)
        return await run_in_threadpool(review.decide, token, form, ctx.clock())


async def _form(request: Request) -> dict[str, str] | int:
    """The posted form's fields (the first of each), or the status refusing it: 413 over
    MAX_FORM bytes, 400 when it is not a URL-encoded form of UTF-8 text."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_FORM:
        return 413
    body = b""
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_FORM:
                return 413
    except ClientDisconnect:
        return 400
    try:
        fields = parse_qs(body.decode("utf-8"), max_num_fields=10, strict_parsing=False)
    except (UnicodeDecodeError, ValueError):
        return 400
    return {name: values[0].replace("\x00", "") for name, values in fields.items()}
