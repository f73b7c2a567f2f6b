"""Evidence sent in chat (佐证材料): an image or a file a unit sends the app is kept for one
of its items, like a file uploaded on its report page (bot/evidence/).

Which item: a file carries no words, so it is
1. the item the sender named with 「佐证 #12」 in the last 10 minutes (the latest such
   message of the same sender on the same hook), else
2. the sender's units' one open item, when they have exactly one;
otherwise nothing is kept and the answer asks for 「佐证 #编号」 first.

The file is read from the platform (Feishu's message resources, with the app's token),
never past `[report] max_file_bytes`, judged by its first bytes against `allowed_types`,
and kept with `attach` under the inbound hook's name as its channel. Every refusal answers
why, in Chinese, and keeps nothing. The web app reads a batch's files before its
transaction (`read_ahead`, a few at a time): a slow download holds no database lock.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.app.errors import NotFoundError, ParseError, Rejected
from bot.app.sections import ReportSettings
from bot.delivery.compose import Composer
from bot.domain.lifecycle import ENDED, preferred
from bot.evidence.attach import attach
from bot.evidence.files import Checked, FileRefusedError, check, gather_limited
from bot.evidence.store import EvidenceStore
from bot.platforms.feishu.api import MessageResources, ResourceUnavailable
from bot.platforms.feishu.callback import attachment_of as feishu_attachment
from bot.platforms.inbound import Attachment
from bot.replies.apply import Actor, Request, own_assignment
from bot.replies.identity import Identity, People
from bot.replies.keywords import Command, CommandKind, parse_command
from bot.replies.plans import choose_plan
from bot.store.models import Assignment, InboundEvent, Plan, Task

log = logging.getLogger("duban.replies")
WINDOW = timedelta(minutes=10)  # how long 「佐证 #12」 names the item of the files after it
RECEIVED = "已收到佐证材料：{name}（第{task}项）。"
WHICH = (
    "贵单位有多项未办结事项，无法确定该文件所属事项，未予保存。"
    "请先发送「佐证 #编号」（例如「佐证 #12」），再在 10 分钟内重新发送该文件。"
)
NONE_OPEN = "贵单位目前没有未办结事项，该文件未予保存。"
NOT_OWN = "贵单位没有第{task}项任务的承办事项，该文件未予保存。"
NOT_A_UNIT = "佐证材料由责任单位发送，该文件未予保存。"
NOT_FETCHED = "未能从平台取得该文件，未予保存，请稍后重新发送。"
NOT_HERE = "本渠道暂不能接收文件。请通过提醒中的「在线填报」链接上传佐证材料。"
IMAGE = "图片"  # the name of an image, which is sent without one
READ_AHEAD = 4  # files read before one batch's transaction: at most this many held
Ready = Checked | str  # a file read and checked, or the answer saying why it was not kept


@dataclass
class ChatEvidence:
    """What keeping a file needs: the limits and types, the store (opened when first
    needed), and each inbound hook's way to its platform's files (None: not available)."""

    settings: ReportSettings
    store: Callable[[], EvidenceStore]
    resources: Callable[[str], MessageResources | None]

    def read(self, source: str, message_id: str | None, attachment: Attachment) -> Ready:
        """The file from the platform, within the size limit and of an allowed type."""
        resources = self.resources(source)
        if resources is None or not message_id:
            return NOT_HERE
        shown = attachment.name or IMAGE
        try:
            with resources.open(message_id, attachment.kind, attachment.key) as chunks:
                data = gather_limited(chunks, self.settings.max_file_bytes, shown)
            checked = check(data, shown, self.settings.allowed_types)
        except FileRefusedError as refused:
            return refused.message
        except ResourceUnavailable as why:
            log.warning("a file sent to %s could not be read: %s", source, why)
            return NOT_FETCHED
        if attachment.name is None:  # 「图片.png」: the type its bytes are
            return dataclasses.replace(checked, name=f"{IMAGE}.{checked.content_type[6:]}")
        return checked

    def read_ahead(
        self,
        sessions: sessionmaker[Session],
        people: People,
        event_ids: Sequence[int],
        now: datetime,
        composer: Composer,
    ) -> tuple[dict[int, Ready], int]:
        """The files of `event_ids` that will be kept (a known unit's, for an item it has),
        read outside any transaction; and how many of the events to act on now: those up
        to the file after the first READ_AHEAD, which waits for the next batch."""
        wanted: list[tuple[int, str, str | None, Attachment]] = []
        with sessions() as session:
            for event in session.scalars(
                select(InboundEvent)
                .where(
                    InboundEvent.id.in_(event_ids),
                    InboundEvent.state == "received",
                    InboundEvent.text == "",
                )
                .order_by(InboundEvent.id)
            ):
                attachment = attachment_of(event)
                identity = people.find(event.platform, event.sender)
                if attachment is None or identity is None:
                    continue
                actor = identity.actor(CommandKind.EVIDENCE)
                if actor.kind == "unit" and not isinstance(
                    _item(session, actor, event, now, composer), str
                ):
                    wanted.append((event.id, event.source, event.reply_to, attachment))
        ready: dict[int, Ready] = {}
        for n, (event_id, source, message_id, attachment) in enumerate(wanted):
            if n == READ_AHEAD:
                return ready, list(event_ids).index(event_id)
            ready[event_id] = self.read(source, message_id, attachment)
        return ready, len(event_ids)


def attachment_of(event: InboundEvent) -> Attachment | None:
    """The image or file a kept event carries (read again from its stored payload)."""
    if event.platform != "feishu":
        return None
    try:
        return feishu_attachment(event.payload)
    except Rejected:  # kept before keys were checked at the hook: answered as not text
        return None


def keep_file(
    session: Session,
    evidence: ChatEvidence,
    identity: Identity,
    event: InboundEvent,
    attachment: Attachment,
    now: datetime,
    composer: Composer,
    ready: Mapping[int, Ready] | None = None,
) -> tuple[str, bool]:
    """Keeps the file for the sender's item (read now unless `ready` has it); the answer,
    and whether anything was kept."""
    actor = identity.actor(CommandKind.EVIDENCE)
    if actor.kind != "unit":
        return NOT_A_UNIT, False
    item = _item(session, actor, event, now, composer)
    if isinstance(item, str):
        return item, False
    found = (ready or {}).get(event.id)
    if found is None:
        found = evidence.read(event.source, event.reply_to, attachment)
    if isinstance(found, str):
        return found, False
    attach(
        session,
        evidence.store(),
        item,
        found,
        actor=actor.name,
        channel=event.source,
        now=now,
        inbound=event.event_id,
    )
    return RECEIVED.format(name=found.name, task=item.task.number), True


def _item(
    session: Session, actor: Actor, event: InboundEvent, now: datetime, composer: Composer
) -> Assignment | str:
    """The assignment the file is for, or the answer saying why there is none."""
    named = _named(session, event)
    if named is None:
        return _only_open(session, actor)
    try:
        plan = choose_plan(session, named, actor.unit_ids)
    except NotFoundError:  # no active plan
        return NONE_OPEN
    if isinstance(plan, str):
        return plan
    request = Request(session, actor, named, plan, now, event.source, composer=composer)
    found = own_assignment(request)
    return found if found is not None else NOT_OWN.format(task=named.task)


def _named(session: Session, event: InboundEvent) -> Command | None:
    """The sender's latest 「佐证 #12」 on this hook within WINDOW before the file."""
    texts = session.scalars(
        select(InboundEvent.text)
        .where(
            InboundEvent.source == event.source,
            InboundEvent.sender == event.sender,
            InboundEvent.id < event.id,
            InboundEvent.received_at >= event.received_at - WINDOW,
            InboundEvent.text != "",
        )
        .order_by(InboundEvent.id.desc())
        .limit(20)
    )
    for text in texts:
        try:
            command = parse_command(text)
        except ParseError:
            continue
        if command.kind is CommandKind.EVIDENCE and command.task is not None:
            return command
    return None


def _only_open(session: Session, actor: Actor) -> Assignment | str:
    """The units' one open item in the active plans; else the answer."""
    rows = session.scalars(
        select(Assignment)
        .join(Task, Assignment.task_id == Task.id)
        .join(Plan, Task.plan_id == Plan.id)
        .where(
            Plan.archived_at.is_(None),
            Task.state == "active",
            Assignment.unit_id.in_(actor.unit_ids),
            Assignment.status.notin_(sorted(ENDED)),
        )
    ).all()
    tasks = {row.task_id for row in rows}
    if not tasks:
        return NONE_OPEN
    if len(tasks) > 1:
        return WHICH
    only = preferred(rows)
    return only if only is not None else NONE_OPEN
