"""The units' quick-reference card (docs/units-quickref.md) stays in step with the grammar.

The card is read simply: a table is a run of lines starting with 「|」, its first line the
header; a cell's examples are its `code spans`.
"""

from __future__ import annotations

import datetime
import re
from pathlib import Path

import pytest

from bot.app.errors import ParseError
from bot.replies.keywords import CommandKind, help_text, parse_command

CARD_PATH = Path(__file__).resolve().parents[2] / "docs" / "units-quickref.md"
CARD = CARD_PATH.read_text(encoding="utf-8")
YEAR = 2020  # the plan year the card's examples assume

Row = dict[str, str]


def tables(markdown: str) -> list[list[Row]]:
    """Each markdown table as a list of rows keyed by the header's column names."""
    found: list[list[Row]] = []
    block: list[list[str]] = []
    for line in [*markdown.splitlines(), ""]:
        if line.startswith("|"):
            block.append([cell.strip() for cell in line.strip().strip("|").split("|")])
            continue
        if block:
            header, body = block[0], [cells for cells in block[1:] if not _is_rule(cells)]
            found.append([dict(zip(header, cells, strict=True)) for cells in body])
            block = []
    return found


def _is_rule(cells: list[str]) -> bool:
    return all(re.fullmatch(r":?-+:?", cell) for cell in cells)


def spans(cell: str) -> list[str]:
    return re.findall(r"`([^`]+)`", cell)


def the_span(cell: str) -> str:
    (span,) = spans(cell)
    return span


def tables_with(*columns: str) -> list[list[Row]]:
    chosen = [table for table in tables(CARD) if table and set(columns) <= table[0].keys()]
    assert chosen, f"no table with columns {columns}"
    return chosen


COMMAND_ROWS = [row for table in tables_with("指令", "示例", "含义") for row in table]
HELP_LINES = [line.split(" —— ") for line in help_text().splitlines() if " —— " in line]


def test_the_card_has_its_title_and_the_tables_are_read() -> None:
    assert CARD.startswith("# 督办助手指令速查卡\n")
    assert len(COMMAND_ROWS) == len(CommandKind)
    assert HELP_LINES


@pytest.mark.parametrize("row", COMMAND_ROWS, ids=lambda row: row["指令"])
def test_every_command_example_parses_to_the_kind_of_its_row(row: Row) -> None:
    command = parse_command(the_span(row["示例"]), year=YEAR)
    assert command.kind is CommandKind(row["指令"])


def test_every_command_kind_has_exactly_one_row() -> None:
    assert sorted(row["指令"] for row in COMMAND_ROWS) == sorted(kind.value for kind in CommandKind)


def test_every_command_row_says_what_happens_after_it() -> None:
    for row in COMMAND_ROWS:
        assert row["发送后"], row["指令"]


def test_the_command_rows_are_the_help_lines_in_the_same_order() -> None:
    card = [[the_span(row["示例"]), row["含义"]] for row in COMMAND_ROWS]
    assert card == HELP_LINES


def test_the_units_and_the_supervisors_commands_are_in_their_own_tables() -> None:
    units, supervisors = tables_with("指令", "示例", "含义")
    lines = help_text().splitlines()
    split = lines.index("【督办人员】")
    for table, help_part in ((units, lines[:split]), (supervisors, lines[split:])):
        wanted = [line.split(" —— ")[0] for line in help_part if " —— " in line]
        assert [the_span(row["示例"]) for row in table] == wanted


@pytest.mark.parametrize(
    "row", [row for table in tables_with("写法", "示例", "任务编号") for row in table]
)
def test_every_task_number_form_reads_the_number_in_its_row(row: Row) -> None:
    assert parse_command(the_span(row["示例"]), year=YEAR).task == row["任务编号"]


def test_the_task_number_forms_of_the_requirement_are_on_the_card() -> None:
    forms = {
        span
        for table in tables_with("写法", "任务编号")
        for row in table
        for span in spans(row["写法"])
    }
    assert {"#12", "＃１２", "12号", "第12项"} <= forms


@pytest.mark.parametrize(
    "row", [row for table in tables_with("写法", "示例", "进度") for row in table]
)
def test_every_percent_form_reads_the_percent_in_its_row(row: Row) -> None:
    command = parse_command(the_span(row["示例"]), year=YEAR)
    assert command.percent == (int(row["进度"]) if row["进度"].isdigit() else None)


@pytest.mark.parametrize(
    "row", [row for table in tables_with("写法", "示例", "识别为") for row in table]
)
def test_every_date_form_reads_the_date_in_its_row(row: Row) -> None:
    written = re.fullmatch(r"(\d{4})年(\d{1,2})月(\d{1,2})日", row["识别为"])
    assert written is not None, row["识别为"]
    command = parse_command(the_span(row["示例"]), year=YEAR)
    assert command.date == datetime.date(*(int(part) for part in written.groups()))


@pytest.mark.parametrize(
    "row", [row for table in tables_with("错误写法", "助手答复", "正确写法") for row in table]
)
def test_every_common_mistake_gets_the_answer_on_the_card_and_its_fix_parses(row: Row) -> None:
    with pytest.raises(ParseError) as caught:
        parse_command(the_span(row["错误写法"]), year=YEAR)
    assert caught.value.message == row["助手答复"]
    parse_command(the_span(row["正确写法"]), year=YEAR)


def test_every_example_in_the_tables_parses() -> None:
    examples = [
        span
        for table in tables(CARD)
        for row in table
        for column in ("示例", "正确写法")
        for span in spans(row.get(column, ""))
    ]
    assert len(examples) > len(CommandKind)
    for example in examples:
        parse_command(example, year=YEAR)


def test_the_group_chat_examples_with_a_mention_parse() -> None:
    mentioned = [span for span in spans(CARD) if span.startswith("@")]
    assert mentioned
    for example in mentioned:
        assert parse_command(example, year=YEAR).task == "12"
