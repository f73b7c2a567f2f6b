"""Echoed user text: mention syntax defused (PROTOCOLS.md §7), markdown shown literally."""

from __future__ import annotations

import pytest

from bot.platforms.mentions import escape_markdown, neutralize_mentions


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("@all 请注意", "＠all 请注意"),
        ("请@ALL看一下", "请＠ALL看一下"),
        ("@all请尽快", "＠all请尽快"),
        ("@所有人 明天开会", "＠所有人 明天开会"),
        ("已转告@13800000000。", "已转告＠13800000000。"),
        ("联系 @+8613800000000.", "联系 ＠+8613800000000."),
    ],
)
def test_it_defuses_at_all_and_dingtalk_mobile_mentions(text: str, expected: str) -> None:
    assert neutralize_mentions(text) == expected


def test_it_defuses_wecom_markdown_mentions() -> None:
    assert neutralize_mentions("请<@zhangsan>和<@all>处理") == "请＠zhangsan和＠all处理"


def test_it_defuses_an_unclosed_wecom_mention() -> None:
    assert "<@" not in neutralize_mentions("a <@zhangsan")


def test_it_turns_feishu_at_tags_into_the_name_they_show() -> None:
    text = '已提醒<at user_id="ou_7d8a6e6d">张三</at>和<AT user_id="all">所有人</AT>'
    assert neutralize_mentions(text) == "已提醒＠张三和＠所有人"


def test_it_defuses_stray_feishu_tags() -> None:
    text = neutralize_mentions('<at user_id="ou_x">未闭合 </at> <at id=1>')
    assert "<at" not in text.lower()
    assert "</at" not in text.lower()


@pytest.mark.parametrize(
    "text",
    [
        "请发送至 li.ming@163.com",
        "邮箱 zhang@126.com.cn 或 wang@example.gov.cn",
        "@allen 的建议",
        "价格 @ 3 元",
        "进度已达 80%，计划 12 月完成。",
    ],
)
def test_it_leaves_email_addresses_and_ordinary_text_alone(text: str) -> None:
    assert neutralize_mentions(text) == text


def test_neutralizing_twice_changes_nothing_more() -> None:
    text = '@all <@zhangsan> <at user_id="ou_x">张三</at> @13800000000'
    once = neutralize_mentions(text)
    assert neutralize_mentions(once) == once
    assert "@" not in once


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("**重要**", "＊＊重要＊＊"),
        ("snake_case", "snake＿case"),
        ("`code`", "｀code｀"),
        ("~~删除~~", "～～删除～～"),
        ("[链接](http://x.cn)", "［链接］(http://x.cn)"),
        ("![图](http://x.cn/a.png)", "!［图］(http://x.cn/a.png)"),
        ("C:\\路径", "C:\\路径"),
        ("# 标题", "＃ 标题"),
        ("第一行\n  ## 二级", "第一行\n  ＃# 二级"),
        ("第 #3 号", "第 #3 号"),
        ("伪造标题\n===", "伪造标题\n＝=="),
        ("伪造标题\n  --- ", "伪造标题\n  －-- "),
        ("3 - 5 个\n- 列表", "3 - 5 个\n- 列表"),
        ('<font color="warning">红</font>', '＜font color="warning"＞红＜/font＞'),
        ("> 引用", "＞ 引用"),
        ("A & B &amp; C", "A & B &amp; C"),
    ],
)
def test_it_escapes_what_would_change_the_markdown(text: str, expected: str) -> None:
    assert escape_markdown(text) == expected


def test_it_leaves_plain_chinese_text_alone() -> None:
    text = "请于 2020 年 12 月 31 日前报送，联系人：李明（13800000000）。"
    assert escape_markdown(text) == text


def test_neutralizing_then_escaping_defuses_a_wecom_mention() -> None:
    assert escape_markdown(neutralize_mentions("请 <@zhangsan> 处理")) == "请 ＠zhangsan 处理"
