"""The platforms duban speaks, by the names the settings use."""

from __future__ import annotations

from bot.platforms import dingtalk, feishu, generic, wecom
from bot.platforms.local import CONSOLE, JSONL
from bot.platforms.spec import Platform

PLATFORMS: dict[str, Platform] = {
    p.name: p
    for p in (
        wecom.PLATFORM,
        wecom.APP,
        dingtalk.PLATFORM,
        dingtalk.APP,
        feishu.PLATFORM,
        feishu.APP,
        generic.PLATFORM,
        CONSOLE,
        JSONL,
    )
}
# By the name of their callback's `[inbound.*] platform`.
INBOUND: dict[str, Platform] = {p.inbound: p for p in PLATFORMS.values() if p.inbound}
# The contact fields that name a person on some platform (and, for the generic hook, a mobile).
USER_IDS: tuple[str, ...] = tuple(dict.fromkeys(p.user_id for p in PLATFORMS.values() if p.user_id))
# A message's mentions by platform name: {"wecom": ids…}, from the contact field it uses.
MENTION_KEYS: dict[str, str] = {p.name: p.user_id for p in PLATFORMS.values() if p.user_id}


def platform(name: str) -> Platform:
    """The platform of a channel (`console` for a name no channel has)."""
    return PLATFORMS.get(name, CONSOLE)


def sender_fields(inbound: str) -> tuple[str, ...]:
    """The contact fields that identify a sender on an inbound platform: its user id; any
    of them, or a mobile, for the generic hook (scripts and other systems)."""
    found = INBOUND[inbound].user_id
    return (found,) if found else ("mobile", *USER_IDS)
