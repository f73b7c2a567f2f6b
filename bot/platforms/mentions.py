"""Making text users wrote safe to echo: no mentions (PROTOCOLS.md §7), no markdown.

Task text and replies are echoed into reminders, digests and rankings; echoed, they must
not notify anyone. `neutralize_mentions` turns every mention marker into the full-width
`＠` (U+FF20), which people read as an at sign and no platform parses:

    @all  @所有人  @13800000000 (DingTalk)     →  ＠all  ＠所有人  ＠13800000000
    <@zhangsan> (WeCom markdown)               →  ＠zhangsan
    <at user_id="ou_x">张三</at> (Feishu)       →  ＠张三
    a stray <at …> or </at>                    →  ＜at …>  ＜/at>

E-mail addresses (`li@163.com`) keep their `@`. The mentions a message means to make are
added afterwards by the channel, from its mobiles and user ids. For markdown channels,
neutralize first and `escape_markdown` after: escaped, `<@…>` and `<at>` would hide from
the neutralizer.

`escape_markdown` does not rely on backslash escapes or HTML entities, which neither WeCom
nor DingTalk documents for its robots' markdown (a renderer that ignores a backslash before
`[` still draws the link): it swaps each markup character for its full-width twin, which
no renderer parses and a reader of Chinese text reads as the same sign.

    [看](http://x) ![图](u)  →  ［看］(http://x) !［图］(u)
    <font color="red">急</font>  →  ＜font color="red"＞急＜/font＞
    **粗** _斜_ `码` ~~删~~    →  ＊＊粗＊＊ ＿斜＿ ｀码｀ ～～删～～
    # 标题, > 引用, a line of === or ---  →  ＃ 标题, ＞ 引用, ＝== / －--
"""

from __future__ import annotations

import re

FULL_WIDTH_AT = "＠"
_FEISHU_TAG = re.compile(r"<at\b[^>]*>(.*?)</at\s*>", re.IGNORECASE | re.DOTALL)
_FEISHU_STRAY = re.compile(r"<(?=/?at\b)", re.IGNORECASE)
_WECOM_TAG = re.compile(r"<@([^<>]*)>")
# `@` before "all", "所有人" or digits (a mobile) — but not a domain such as `@163.com`.
_AT_WORD = re.compile(r"@(?=all(?![a-z])|所有人|\+?\d+(?!\d|\.[a-z0-9]))", re.IGNORECASE)
_MARKDOWN_CHARS = str.maketrans(
    {"[": "［", "]": "］", "<": "＜", ">": "＞", "*": "＊", "_": "＿", "`": "｀", "~": "～"}
)
_HEADING = re.compile(r"^([ \t]*)#", re.MULTILINE)
# A line of = or - alone turns the line above into a heading (or draws a rule).
_UNDERLINE = re.compile(r"^([ \t]*)([=-])(?=\2*[ \t]*$)", re.MULTILINE)


def neutralize_mentions(text: str) -> str:
    """`text` with every mention syntax defused by a full-width `＠`, otherwise unchanged."""
    text = _FEISHU_TAG.sub(lambda match: FULL_WIDTH_AT + match.group(1), text)
    text = _FEISHU_STRAY.sub("＜", text)
    text = _WECOM_TAG.sub(lambda match: FULL_WIDTH_AT + match.group(1), text)
    text = text.replace("<@", "<" + FULL_WIDTH_AT)
    return _AT_WORD.sub(FULL_WIDTH_AT, text)


def escape_markdown(text: str) -> str:
    """`text` shown literally by WeCom and DingTalk markdown: no emphasis, links, images,
    code, headings, quotes or HTML-like tags (WeCom renders `<font>`)."""
    text = text.translate(_MARKDOWN_CHARS)
    text = _HEADING.sub(r"\1＃", text)
    return _UNDERLINE.sub(lambda m: m.group(1) + ("＝" if m.group(2) == "=" else "－"), text)
