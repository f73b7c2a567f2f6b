from __future__ import annotations

import datetime
import re
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.app.errors import ParseError
from bot.replies.keywords import MAX_LENGTH, Command, CommandKind, help_text, parse_command

K = CommandKind
GENERIC = "未能识别指令。请按「进展 #12 60% 说明」格式回复，发送「帮助」查看全部指令。"


def error_for(text: str, *, year: int | None = None) -> str:
    with pytest.raises(ParseError) as caught:
        parse_command(text, year=year)
    return caught.value.message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("进展 #12 60% 已完成项目立项", Command(K.PROGRESS, "12", 60, None, "已完成项目立项")),
        ("完成 #12 说明", Command(K.COMPLETE, "12", text="说明")),
        (
            "延期 #12 2020-12-31 原因",
            Command(K.EXTEND, "12", None, datetime.date(2020, 12, 31), "原因"),
        ),
        ("困难 #12 描述", Command(K.BLOCKER, "12", text="描述")),
        ("收到 #12", Command(K.ACK, "12")),
        ("待办", Command(K.TODO)),
        ("帮助", Command(K.HELP)),
        ("确认办结 #12", Command(K.CONFIRM_CLOSE, "12")),
        ("退回 #12 原因", Command(K.RETURN, "12", text="原因")),
        ("同意延期 #12", Command(K.APPROVE_EXTENSION, "12")),
        ("驳回延期 #12 原因", Command(K.REJECT_EXTENSION, "12", text="原因")),
    ],
)
def test_it_reads_every_example_of_the_design_verbatim(text: str, expected: Command) -> None:
    assert parse_command(text) == expected


@pytest.mark.parametrize(
    ("text", "kind"),
    [("已完成 #12", K.COMPLETE), ("进度 #12 30%", K.PROGRESS)],
)
def test_it_accepts_the_synonyms_for_complete_and_progress(text: str, kind: CommandKind) -> None:
    assert parse_command(text).kind is kind


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("同意延期 #12", K.APPROVE_EXTENSION),
        ("驳回延期 #12 理由不充分", K.REJECT_EXTENSION),
        ("延期 #12 2020-12-31", K.EXTEND),
    ],
)
def test_the_longest_keyword_wins(text: str, kind: CommandKind) -> None:
    assert parse_command(text).kind is kind


@pytest.mark.parametrize(
    "text",
    [
        "进展 #12 60% 说明",
        "进展 ＃１２ 60% 说明",
        "进展 # 12 60% 说明",
        "进展 12号 60% 说明",
        "进展 第12项 60% 说明",
        "进展 第12号 60% 说明",
        "进展 任务12 60% 说明",
        "进展 12 60% 说明",
        "进展#12 60% 说明",
        "进展：#12 60% 说明",
        "进展: 12 60% 说明",
    ],
)
def test_it_reads_the_task_number_in_each_form(text: str) -> None:
    assert parse_command(text) == Command(K.PROGRESS, "12", 60, None, "说明")


def test_it_drops_leading_zeros_and_keeps_compound_task_numbers() -> None:
    assert parse_command("收到 #012").task == "12"
    assert parse_command("收到 #3-2").task == "3-2"


@pytest.mark.parametrize(
    "text", ["进展 #12 60%", "进展 #12 60% 已完成", "进展 12 60%", "进展 #12 60 %", "进展 #12 60％"]
)
def test_the_percent_is_never_taken_for_the_task_number(text: str) -> None:
    command = parse_command(text)
    assert (command.task, command.percent) == ("12", 60)


def test_a_number_without_percent_sign_after_the_task_is_free_text() -> None:
    command = parse_command("进展 #12 60 已完成")
    assert (command.task, command.percent, command.text) == ("12", None, "60 已完成")


def test_a_number_is_taken_as_the_task_only_right_after_the_keyword() -> None:
    assert parse_command("进展 12 已完成").task == "12"
    assert error_for("进展 已完成 12") == "请注明任务编号，例如「进展 #12 60% 已完成项目立项」。"


def test_a_number_glued_to_the_text_is_not_a_task() -> None:
    assert "任务编号" in error_for("进展 12个项目已开工")


def test_it_reads_full_width_forms_and_returns_the_text_as_written() -> None:
    command = parse_command("进展　＃１２　６０％　已完成项目立项：进度良好")
    assert command == Command(K.PROGRESS, "12", 60, None, "已完成项目立项：进度良好")


@pytest.mark.parametrize("text", ["进展 #٤ 60% 说明", "进展 #𝟒 60%", "完成 第٤项"])
def test_other_scripts_digits_are_no_task_number(text: str) -> None:
    assert "任务编号" in error_for(text)


def test_other_scripts_digits_are_no_percent_or_date() -> None:
    assert parse_command("进展 #４ 𝟔𝟒% 说明").percent is None
    assert "完成日期" in error_for("延期 #4 ٢٠٢١-01-31 原因")


@pytest.mark.parametrize(
    ("text", "kind", "task"),
    [
        (" 进展 #12 60% 已完成项目立项", K.PROGRESS, "12"),
        ("\u3000进展 #12 60% 已完成项目立项", K.PROGRESS, "12"),
        ("@_user_1 完成 #3", K.COMPLETE, "3"),
        ("@_user_1完成 #3", K.COMPLETE, "3"),
        ("@_user_1 @_user_2 完成 #3", K.COMPLETE, "3"),
        ("@督办助手 收到 #5", K.ACK, "5"),
        ("@督办助手\u2005收到 #5", K.ACK, "5"),
        ("＠督办助手 收到 #5", K.ACK, "5"),
    ],
)
def test_it_skips_leading_spaces_and_mentions(text: str, kind: CommandKind, task: str) -> None:
    command = parse_command(text)
    assert (command.kind, command.task) == (kind, task)


@pytest.mark.parametrize(
    ("text", "percent"),
    [
        ("进展 #12 0%", 0),
        ("进展 #12 100%", 100),
        ("进展 #12 ６０％", 60),
        ("进展 #12 百分之六十", 60),
        ("进展 #12 百分之五", 5),
        ("进展 #12 百分之十五", 15),
        ("进展 #12 百分之一百", 100),
        ("进展 #12 已完成项目立项", None),
    ],
)
def test_it_reads_the_percent_in_each_form(text: str, percent: int | None) -> None:
    assert parse_command(text).percent == percent


@pytest.mark.parametrize(
    "text",
    ["进展 #12 120%", "进展 #12 101%", "进展 #12 -10%", "进展 #12 60.5%", "进展 #12 百分之二百"],
)
def test_a_percent_outside_0_to_100_is_refused(text: str) -> None:
    assert "进度应为 0 到 100 之间的百分数" in error_for(text)


@pytest.mark.parametrize(
    "written",
    [
        "2020-12-31",
        "2020/12/31",
        "2020.12.31",
        "2020年12月31日",
        "2020 年 12 月 31 日",
        "２０２０－１２－３１",
        "2020—12—31",
        "至2020-12-31",
    ],
)
def test_it_reads_the_extension_date_in_each_form(written: str) -> None:
    command = parse_command(f"延期 #12 {written} 原因")
    assert (command.date, command.text) == (datetime.date(2020, 12, 31), "原因")


@pytest.mark.parametrize("written", ["12月31日", "12-31", "12/31", "12月31号"])
def test_a_date_without_year_takes_the_given_year(written: str) -> None:
    assert parse_command(f"延期 #12 {written} 原因", year=2021).date == datetime.date(2021, 12, 31)


@pytest.mark.parametrize("written", ["12月31日", "12-31"])
def test_a_date_without_year_asks_for_the_full_date_when_no_year_is_given(written: str) -> None:
    assert "完整日期" in error_for(f"延期 #12 {written} 原因")


def test_an_invalid_date_is_refused_and_quoted() -> None:
    message = error_for("延期 #12 2020-02-30 原因")
    assert message == "日期「2020-02-30」无效，请按「延期 #12 2020-12-31 原因」格式填写。"


def test_an_invalid_date_without_year_is_refused_too() -> None:
    assert "无效" in error_for("延期 #12 2-30", year=2020)


def test_an_extension_without_date_asks_for_one() -> None:
    message = error_for("延期 #12 工期紧张")
    assert message == "请注明延期后的完成日期，例如「延期 #12 2020-12-31 原因」。"


def test_an_extension_may_give_the_task_as_a_bare_number() -> None:
    command = parse_command("延期 12 2020-12-31")
    assert (command.task, command.date) == ("12", datetime.date(2020, 12, 31))


@pytest.mark.parametrize(
    ("text", "example"),
    [
        ("进展 60% 已完成项目立项", "进展 #12 60% 已完成项目立项"),
        ("完成", "完成 #12 说明"),
        ("延期 2020-12-31 原因", "延期 #12 2020-12-31 原因"),
        ("困难 资金不足", "困难 #12 描述"),
        ("收到", "收到 #12"),
        ("确认办结", "确认办结 #12"),
        ("退回 材料不全", "退回 #12 原因"),
        ("同意延期", "同意延期 #12"),
        ("驳回延期 理由不充分", "驳回延期 #12 原因"),
    ],
)
def test_a_missing_task_number_is_refused_with_the_form_of_that_command(
    text: str, example: str
) -> None:
    assert error_for(text) == f"请注明任务编号，例如「{example}」。"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("退回 #12", "请注明退回原因，例如「退回 #12 原因」。"),
        ("驳回延期 #12", "请注明驳回理由，例如「驳回延期 #12 原因」。"),
        ("困难 #12", "请注明困难的具体情况，例如「困难 #12 描述」。"),
    ],
)
def test_commands_that_need_a_reason_refuse_to_go_without_one(text: str, message: str) -> None:
    assert error_for(text) == message


def test_the_free_text_is_stripped_of_separators_around_it() -> None:
    assert parse_command("完成 #12，已按期完成。 ").text == "已按期完成。"
    assert parse_command("收到 #12。").text == ""


def test_the_no_task_commands_keep_any_text_they_are_given() -> None:
    assert parse_command("待办 #12") == Command(K.TODO, text="#12")


@pytest.mark.parametrize("text", ["", "   ", "你好", "请问这个怎么报", "@督办助手", "12 进展"])
def test_unknown_or_empty_text_gets_the_generic_answer(text: str) -> None:
    assert error_for(text) == GENERIC


def test_a_reply_longer_than_the_limit_is_refused() -> None:
    assert parse_command("进展 #12 " + "好" * (MAX_LENGTH - 7)).task == "12"
    assert error_for("进展 #12 " + "好" * MAX_LENGTH).startswith("回复内容过长")


def test_a_parse_error_is_a_value_error_carrying_its_message() -> None:
    error = ParseError("未能识别指令。")
    assert isinstance(error, ValueError)
    assert (error.message, str(error)) == ("未能识别指令。", "未能识别指令。")


def test_the_help_text_has_one_line_with_an_example_for_every_command() -> None:
    lines = help_text().splitlines()
    for kind in CommandKind:
        assert sum(line.startswith(kind.value + " ") for line in lines) == 1, kind


@pytest.mark.parametrize(
    "text",
    [
        "@督办助手，收到 #5",
        "@督办助手：收到 #5",
        "@督办助手\n收到 #5",
        "\n @督办助手  收到 #5 \n",
        "@督办助手 @张三 收到 #5",
    ],
)
def test_a_mention_may_end_with_a_punctuation_mark_or_a_new_line(text: str) -> None:
    assert parse_command(text) == Command(K.ACK, "5")


@pytest.mark.parametrize(
    ("text", "task", "free"),
    [
        ("完成 #12 项目已竣工验收", "12", "项目已竣工验收"),
        ("完成 #12项目已竣工验收", "12", "项目已竣工验收"),
        ("完成 #12 条件已具备", "12", "条件已具备"),
        ("完成 #12 号召各乡镇参与", "12", "号召各乡镇参与"),
        ("完成 12 号召各乡镇参与", "12", "号召各乡镇参与"),
        ("完成 #12号 已验收", "12", "已验收"),
        ("完成 #12 号 已验收", "12", "已验收"),
        ("完成 12 号 已验收", "12", "已验收"),
        ("完成 第12 项目已验收", "12", "项目已验收"),
        ("完成 第 12 项 已验收", "12", "已验收"),
    ],
)
def test_a_suffix_after_the_task_number_is_taken_only_when_it_is_one(
    text: str, task: str, free: str
) -> None:
    command = parse_command(text)
    assert (command.task, command.text) == (task, free)


def test_a_count_of_items_is_not_a_task_number() -> None:
    assert "任务编号" in error_for("完成 12项工作全部完成")


def test_a_day_suffix_is_taken_only_when_it_is_one() -> None:
    command = parse_command("延期 #12 2020-12-31 日程冲突")
    assert (command.date, command.text) == (datetime.date(2020, 12, 31), "日程冲突")
    command = parse_command("延期 #12 12月31 日 工期紧张", year=2020)
    assert (command.date, command.text) == (datetime.date(2020, 12, 31), "工期紧张")


def test_a_multi_line_reply_keeps_its_lines() -> None:
    command = parse_command("@督办助手\n进展\n#12\n60%\n一、已完成立项\n二、已开工\n")
    assert command == Command(K.PROGRESS, "12", 60, None, "一、已完成立项\n二、已开工")


# Property tests: the grammar against generated replies.

PROPERTY = settings(max_examples=300, deadline=None, database=None)
CJK = re.compile(r"[\u4e00-\u9fff]")
KEYWORDS = (*(kind.value for kind in CommandKind), "已完成", "进度")
ALIASES = {K.PROGRESS: ("进展", "进度"), K.COMPLETE: ("完成", "已完成")}
NEEDS_TEXT = {K.BLOCKER, K.RETURN, K.REJECT_EXTENSION}
# Characters the grammar reads (digits, marks, numerals, date and task words), to steer the
# fuzzing towards the branches of the parser.
GRAMMAR_CHARS = (
    "0123456789０１２#＃%％:：@＠/.．-－— \u3000\n，、。第任务号项条百分之零一二十年月日至到前"
)
MENTIONS = (
    "",
    " ",
    "\u3000",
    "\n",
    "@督办助手 ",
    "@督办助手，",
    "＠督办助手\u2005",
    "@_user_1",
    "@_user_1 @_user_2 ",
)
SEPARATORS = (" ", "  ", "\u3000", "\n", "\t", "，", "：", "、", ", ", " ：")
WIDE = {
    **{str(digit): chr(0xFF10 + digit) for digit in range(10)},
    "#": "＃",
    "%": "％",
    ":": "：",
    "@": "＠",
    "/": "／",
    ".": "．",
    " ": "\u3000",
    "-": "－",
}


def chinese_number(value: int) -> str:
    """0..100 in Chinese numerals, as 「百分之……」 is written: 六十, 十五, 一百."""
    digits = "零一二三四五六七八九"
    if value == 100:
        return "一百"
    tens, ones = divmod(value, 10)
    if tens == 0:
        return digits[ones]
    return ("" if tens == 1 else digits[tens]) + "十" + (digits[ones] if ones else "")


def task_forms(number: int) -> st.SearchStrategy[str]:
    """Every accepted way to write task `number`, except the bare number (see `replies`)."""
    n = str(number)
    return st.sampled_from(
        [
            f"#{n}",
            f"# {n}",
            f"#0{n}",
            f"＃{n}",
            f"#{n}号",
            f"{n}号",
            f"{n} 号",
            f"第{n}项",
            f"第{n}条",
            f"第{n}号",
            f"第 {n} 项",
            f"任务{n}",
            f"任务#{n}",
        ]
    )


def percent_forms(value: int) -> st.SearchStrategy[str]:
    words = ["百分之" + chinese_number(value)] + (["百分之百"] if value == 100 else [])
    return st.sampled_from([f"{value}%", f"{value} %", f"{value}％", *words])


def date_forms(day: datetime.date) -> st.SearchStrategy[str]:
    y, m, d = day.year, day.month, day.day
    return st.sampled_from(
        [
            f"{y}-{m:02}-{d:02}",
            f"{y}-{m}-{d}",
            f"{y}/{m}/{d}",
            f"{y}.{m:02}.{d:02}",
            f"{y}年{m}月{d}日",
            f"{y} 年 {m} 月 {d} 日",
            f"至{y}-{m}-{d}",
            f"到{y}年{m}月{d}日",
            f"{m}月{d}日",
            f"{m}月{d}号",
            f"{m}-{d}",
            f"{m}/{d}",
        ]
    )


# Free text: it opens with a letter, then anything at all, numbers, marks, keywords and
# full-width forms included (they come back unfolded). Its first letter is not 号 or 日
# (「12 号」「31 日」 standing alone end a task number or a date) nor 百 (「百分之六十」).
FIRST = st.sampled_from("项条第任务至到延期年月已") | st.characters(
    categories=["L"], exclude_characters="百号日"
)
REST = st.text(max_size=40) | st.text(
    alphabet=GRAMMAR_CHARS + "".join(WIDE.values()) + "".join(KEYWORDS), max_size=40
)
FREE_TEXT = st.builds(lambda first, rest: (first + rest).rstrip(), FIRST, REST)


@dataclass(frozen=True)
class Reply:
    head: str  # mention, keyword and arguments, with the separator before the text
    text: str  # free text, exactly as written
    tail: str  # trailing whitespace
    expected: Command
    year: int

    @property
    def message(self) -> str:
        return self.head + self.text + self.tail


@st.composite
def replies(draw: st.DrawFn) -> Reply:
    """A well-formed command, its arguments in any accepted form and order."""
    kind = draw(st.sampled_from(list(CommandKind)))
    keyword = draw(st.sampled_from(ALIASES.get(kind, (kind.value,))))
    number = draw(st.integers(1, 999))
    percent = draw(st.none() | st.integers(0, 100)) if kind is K.PROGRESS else None
    day = draw(st.dates(datetime.date(2000, 1, 1), datetime.date(2099, 12, 31)))
    date = day if kind is K.EXTEND else None
    has_task = kind not in (K.TODO, K.HELP)
    arguments = []
    if percent is not None:
        arguments.append(draw(percent_forms(percent)))
    if date is not None:
        arguments.append(draw(date_forms(date)))
    if has_task:
        if draw(st.booleans()):  # a bare number counts only right after the keyword
            arguments.insert(0, str(number))
        else:
            arguments.insert(draw(st.integers(0, len(arguments))), draw(task_forms(number)))
    text = draw(FREE_TEXT if kind in NEEDS_TEXT else st.just("") | FREE_TEXT)
    head = draw(st.sampled_from(MENTIONS)) + keyword
    for index, argument in enumerate(arguments):
        between = draw(st.sampled_from(SEPARATORS))
        head += (draw(st.sampled_from(("", *SEPARATORS))) if index == 0 else between) + argument
    if text:
        head += draw(st.sampled_from(SEPARATORS))
    tail = draw(st.sampled_from(("", " ", "\n", "\u3000", " \n ")))
    expected = Command(kind, str(number) if has_task else None, percent, date, text)
    return Reply(head, text, tail, expected, day.year)


@PROPERTY
@given(
    st.one_of(
        st.text(),
        st.text(alphabet=GRAMMAR_CHARS),
        st.builds(
            lambda mention, keyword, rest: mention + keyword + rest,
            st.sampled_from(MENTIONS),
            st.sampled_from(KEYWORDS),
            st.text(alphabet=GRAMMAR_CHARS) | st.text(),
        ),
    ),
    st.none() | st.integers(-10, 10_010),
)
def test_any_text_gives_a_command_or_a_parse_error_in_chinese(text: str, year: int | None) -> None:
    try:
        parse_command(text, year=year)
    except ParseError as error:  # anything else escapes and fails the test
        message = error.message
    else:
        return
    assert message.strip(), "an empty answer"
    assert CJK.search(message), message


@PROPERTY
@given(replies())
def test_a_well_formed_command_reads_back_as_written(reply: Reply) -> None:
    assert parse_command(reply.message, year=reply.year) == reply.expected


@PROPERTY
@given(replies(), st.data())
def test_full_width_forms_read_as_their_ascii_originals(reply: Reply, data: st.DataObject) -> None:
    wide = [data.draw(st.booleans()) and char in WIDE for char in reply.head]
    head = "".join(
        WIDE[char] if widen else char for char, widen in zip(reply.head, wide, strict=True)
    )
    message = head + reply.text + reply.tail
    assert parse_command(message, year=reply.year) == parse_command(reply.message, year=reply.year)


@PROPERTY
@given(replies())
def test_the_free_text_comes_back_exactly_as_written(reply: Reply) -> None:
    command = parse_command(reply.message, year=reply.year)
    assert command.text == reply.text
    assert reply.message.endswith(command.text + reply.tail)
