"""Real published breakdowns read as a clerk reads them (tests/intake/corpus/, by hand)."""

from __future__ import annotations

import pytest

from tests.intake.corpus.accuracy import (
    FIELDS,
    PAGE,
    Result,
    Score,
    evaluate_all,
    page_with,
    records,
    table,
)

LAYOUTS = {
    "unit-line",
    "labelled-lines",
    "bracket-labels",
    "trailing-verbs",
    "leader-headings",
    "leader-labels",
    "deadline-labels",
    "numbered-arabic",
    "numbered-paren",
    "numbered-chinese",
    "numbered-circled",
    "web-table",
    "word-table",
    "excel-table",
    "split-title",
}


@pytest.fixture(scope="module")
def corpus() -> tuple[list[Result], Score]:
    return evaluate_all()


def test_the_corpus_holds_25_documents_from_15_places_in_6_layouts() -> None:
    found = records()
    assert len(found) >= 25
    assert len({r["place"] for r in found}) >= 15
    layouts = {tag for r in found for tag in r["layout"]}
    assert layouts <= LAYOUTS
    assert len(layouts - {"numbered-arabic"}) >= 6


def test_every_document_says_where_it_was_published() -> None:
    for record in records():
        assert record["source"].startswith(("http://", "https://")), record["file"]
        assert record["tasks"], record["file"]
        for task in record["tasks"]:
            assert set(task) >= {"number", "lead", "co_units", "deadline", "supervisor"}


def test_no_document_is_rejected(corpus: tuple[list[Result], Score]) -> None:
    results, _ = corpus
    assert [r.record["file"] for r in results if r.error] == []


@pytest.mark.parametrize("field", FIELDS)
def test_at_least_95_percent_of_tasks_are_read_right(
    corpus: tuple[list[Result], Score], field: str
) -> None:
    results, total = corpus
    misses = [m for r in results for m in r.score.misses if f" {field}:" in m]
    assert total.share(field) >= 0.95, misses


def test_every_document_gets_its_year(corpus: tuple[list[Result], Score]) -> None:
    results, _ = corpus
    wrong = [r.record["file"] for r in results if r.year != r.record.get("year")]
    assert wrong == []


def test_the_accuracy_page_shows_the_current_table(corpus: tuple[list[Result], Score]) -> None:
    results, total = corpus
    text = PAGE.read_text(encoding="utf-8")
    assert text == page_with(text, table(results, total)), (
        "run: .venv/bin/python -m tests.intake.corpus.accuracy --write"
    )
