"""DingTalk (钉钉) custom robot: one JSON POST per message to a (signed) webhook URL.

PROTOCOLS.md §3. With a secret ("加签") the URL gets `&timestamp=MS&sign=S`, the sign
URL-encoded exactly once. A mention needs both the top-level `at` object and `@<mobile>` in
the text. The whole serialized JSON body is limited to 20,000 bytes.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

import httpx

from bot.app.errors import DeliveryError
from bot.platforms.base import Outgoing, Receipt
from bot.platforms.dingtalk.callback import sign
from bot.platforms.dingtalk.cards import link_card
from bot.platforms.http import Robot, compact_json, json_answer

BODY_LIMIT = 20_000
TEXT_BUDGET = 18_000  # leaves room for the JSON around the text, the title and the mentions
TITLE_CHARS = 64
RATE_LIMIT_WAIT = 60.0
PENALTY_WAIT = 600.0  # beyond 20 a minute the robot is throttled for 10 minutes
SEND_TOO_FAST = 130101
CHECK_FAILED = 310000
NO_TOKEN = 300001
TOO_LONG = 460101
ABOUT_TIME = re.compile(r"\btime(?:stamp)?\b|时间", re.IGNORECASE)


def sign_dingtalk(secret: str, ms: int) -> str:
    """base64(HMAC-SHA256(key=secret, msg=f"{ms}\\n{secret}")), before URL encoding: the
    sign DingTalk's callbacks carry too (`callback.sign`)."""
    return sign(secret, str(ms))


class DingtalkChannel(Robot):
    """Posts to one DingTalk robot; `webhook` is the full `…/robot/send?access_token=T` URL."""

    platform = "dingtalk"
    msgtypes = ("markdown", "text")

    def send(self, message: Outgoing) -> Receipt:
        body = compact_json(self._body(message), limit=BODY_LIMIT, label=self.label)
        return self._receipt(self._post(body, url=self._url()))

    def _url(self) -> str:
        if self._secret is None:
            return self._webhook
        ms = int(self._now() * 1000)
        sign = quote(sign_dingtalk(self._secret, ms), safe="")
        joiner = "&" if "?" in self._webhook else "?"
        # A string, not `params=`: httpx would encode the already encoded sign a second time.
        return f"{self._webhook}{joiner}timestamp={ms}&sign={sign}"

    def _body(self, message: Outgoing) -> dict[str, Any]:
        card = message.card
        mentioning = bool(message.mobiles or message.user_ids)
        # `[channels.NAME] cards`: reminders with links as an actionCard (markdown only).
        cards = self._cards and self.msgtype == "markdown"
        if cards and card is not None and card.links and not mentioning:
            # An actionCard cannot mention: a message that mentions someone goes as
            # markdown, its links in the text.
            return link_card(message, card)
        text = _with_mentions(message)
        mentions = {"atMobiles": list(message.mobiles), "atUserIds": list(message.user_ids)}
        at = {**mentions, "isAtAll": False}
        if self.msgtype == "text":
            return {"msgtype": "text", "text": {"content": text}, "at": at}
        # The title only shows in the notification: keep a long first line out of the budget.
        markdown = {"title": message.headline[:TITLE_CHARS] or message.kind, "text": text}
        return {"msgtype": "markdown", "markdown": markdown, "at": at}

    def _receipt(self, response: httpx.Response) -> Receipt:
        answer = json_answer(response, self.label, wait=RATE_LIMIT_WAIT)
        errcode, errmsg = answer.get("errcode"), self._scrub(answer.get("errmsg"))
        if errcode == 0:
            return Receipt(answer)
        problem = f"{self.label}: errcode {errcode}: {errmsg}"
        if errcode == SEND_TOO_FAST:
            raise DeliveryError(problem, retry_after=PENALTY_WAIT, answer=answer)
        if errcode in (CHECK_FAILED, NO_TOKEN):
            # Keyword, sign and IP failures need the operator; a timestamp one may pass later.
            permanent = errcode == NO_TOKEN or ABOUT_TIME.search(errmsg) is None
            raise DeliveryError(problem, permanent=permanent, answer=answer)
        if errcode == TOO_LONG:
            raise DeliveryError(problem, too_long=True, answer=answer)
        raise DeliveryError(problem, answer=answer)


def _with_mentions(message: Outgoing) -> str:
    """The text with `@<mobile>` / `@<userid>` appended for each mention it does not show."""
    wanted = (*message.mobiles, *message.user_ids)
    missing = [f"@{who}" for who in wanted if f"@{who}" not in message.text]
    return f"{message.text}\n{' '.join(missing)}" if missing else message.text
