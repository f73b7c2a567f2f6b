"""Reads every corpus document with duban and compares it with the hand-written record.

Run `.venv/bin/python -m tests.intake.corpus.accuracy` for the per-document table (Markdown);
`--write` puts it in docs/intake-accuracy.md, `--misses` lists every wrong answer.
`test_corpus.py` holds the thresholds and checks that the page shows the current table.
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.app.errors import IntakeError
from bot.intake.directory import Directory
from bot.intake.model import ParsedPlan, ParsedTask
from bot.intake.numbering import number_value
from bot.intake.reader import read_plan
from bot.intake.units import match_key

CORPUS = Path(__file__).resolve().parent
FIELDS = ("lead", "co_units", "deadline", "supervisor")


@dataclass
class Score:
    """Right answers out of the tasks (supervisor: out of the tasks that state one)."""

    right: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FIELDS, 0))
    total: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FIELDS, 0))
    misses: list[str] = field(default_factory=list)

    def add(self, other: Score) -> None:
        for name in FIELDS:
            self.right[name] += other.right[name]
            self.total[name] += other.total[name]

    def share(self, name: str) -> float:
        return self.right[name] / self.total[name] if self.total[name] else 1.0


@dataclass
class Result:
    record: dict[str, Any]
    score: Score
    found: int
    error: str | None = None
    year: int | None = None


def records() -> list[dict[str, Any]]:
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(CORPUS.glob("*.json"))]


def name_key(name: str) -> str:
    key = re.sub(r"\s+", "", match_key(name))
    return key[1:] if len(key) > 3 and key[0] in "市区县" else key


def same_names(expected: list[str], found: list[str]) -> bool:
    return sorted(map(name_key, expected)) == sorted(map(name_key, found))


def _printed(task: ParsedTask) -> int:
    written = dict(task.notes).get("原编号", task.number)
    return number_value(written.split("-")[0]) if written.split("-")[0] else 0


def align(
    expected: list[dict[str, Any]], parsed: tuple[ParsedTask, ...]
) -> list[ParsedTask | None]:
    """Each expected task's parsed counterpart, matched on the numbers in document order."""
    wanted = [number_value(str(t["number"])) for t in expected]
    got = [_printed(t) for t in parsed]
    matched: list[ParsedTask | None] = [None] * len(expected)
    matcher = difflib.SequenceMatcher(a=wanted, b=got, autojunk=False)
    for block in matcher.get_matching_blocks():
        for k in range(block.size):
            matched[block.a + k] = parsed[block.b + k]
    return matched


def judge(task: dict[str, Any], found: ParsedTask | None) -> dict[str, bool | None]:
    supervisor = task["supervisor"]
    if found is None:
        return {
            "lead": False,
            "co_units": False,
            "deadline": False,
            "supervisor": None if supervisor is None else False,
        }
    wanted_supervisors = {re.sub(r"\s+", "", s) for s in re.split("[、,，]", supervisor or "")}
    return {
        "lead": name_key(task["lead"]) == name_key(found.lead),
        "co_units": same_names(task["co_units"], list(found.co_units)),
        "deadline": task["deadline"] == (found.deadline.isoformat() if found.deadline else None),
        "supervisor": None
        if supervisor is None
        else (found.supervisor or "") in wanted_supervisors,
    }


def evaluate(record: dict[str, Any]) -> Result:
    source = CORPUS / record["file"]
    with tempfile.TemporaryDirectory() as folder:
        # A neutral name: the year must come from the document, not from the corpus's slug.
        path = Path(folder) / f"document{source.suffix}"
        shutil.copyfile(source, path)
        return _evaluate(record, path)


def _evaluate(record: dict[str, Any], path: Path) -> Result:
    try:
        plan: ParsedPlan = read_plan(path, Directory())
    except IntakeError as error:
        score = Score()
        for task in record["tasks"]:
            score.add(_score_one(task, None, score.misses))
        return Result(record, score, 0, str(error))
    score = Score()
    for task, found in zip(record["tasks"], align(record["tasks"], plan.tasks), strict=True):
        score.add(_score_one(task, found, score.misses))
    return Result(record, score, len(plan.tasks), year=plan.year)


def _score_one(task: dict[str, Any], found: ParsedTask | None, misses: list[str]) -> Score:
    score = Score()
    for name, verdict in judge(task, found).items():
        if verdict is None:
            continue
        score.total[name] += 1
        score.right[name] += int(verdict)
        if not verdict:
            got = getattr(found, name, None) if found else "(not found)"
            misses.append(f"{task['number']} {name}: expected {task[name]!r}, got {got!r}")
    return score


def evaluate_all() -> tuple[list[Result], Score]:
    results = [evaluate(r) for r in records()]
    total = Score()
    for result in results:
        total.add(result.score)
    return results, total


def _cell(score: Score, name: str) -> str:
    if not score.total[name]:
        return "—"
    return f"{score.right[name]}/{score.total[name]}"


def _year_cell(expected: int | None, found: int | None) -> str:
    if expected == found:
        return str(found) if found else "—"
    return f"{found or '—'} (expected {expected or '—'})"


def table(results: list[Result], total: Score) -> str:
    lines = [
        "| document | place | layout | year | tasks | found | lead | co-units | deadline "
        "| supervisor |",
        "|---|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for result in results:
        r = result.record
        name = f"[{Path(r['file']).stem}]({r['source']})"
        found = "rejected" if result.error else str(result.found)
        cells = [_cell(result.score, f) for f in FIELDS]
        layout = ", ".join(r.get("layout", []))
        year = _year_cell(r.get("year"), result.year)
        lines.append(
            f"| {name} | {r['place']} | {layout} | {year} | {len(r['tasks'])} | {found} | "
            + " | ".join(cells)
            + " |"
        )
    shares = [f"**{total.share(f):.1%}**" for f in FIELDS]
    count = sum(len(r.record["tasks"]) for r in results)
    years = sum(1 for r in results if r.year == r.record.get("year"))
    lines.append(
        f"| **all {len(results)} documents** | | | {years}/{len(results)} | {count} | | "
        + " | ".join(shares)
        + " |"
    )
    return "\n".join(lines)


PAGE = CORPUS.parent.parent.parent / "docs" / "intake-accuracy.md"
TABLE_START = "<!-- table: python -m tests.intake.corpus.accuracy --write -->"
TABLE_END = "<!-- end of table -->"


def page_with(text: str, rendered: str) -> str:
    """The accuracy page with its table replaced by `rendered`."""
    before, _, rest = text.partition(TABLE_START)
    _, _, after = rest.partition(TABLE_END)
    return f"{before}{TABLE_START}\n{rendered}\n{TABLE_END}{after}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--misses", action="store_true", help="list every wrong answer")
    parser.add_argument("--write", action="store_true", help=f"update {PAGE.name}")
    args = parser.parse_args()
    results, total = evaluate_all()
    rendered = table(results, total)
    print(rendered)
    if args.write:
        PAGE.write_text(page_with(PAGE.read_text(encoding="utf-8"), rendered), encoding="utf-8")
    if args.misses:
        for result in results:
            if result.score.misses or result.error:
                print(f"\n{result.record['file']}: {result.error or ''}")
                print("\n".join(f"  {m}" for m in result.score.misses))


if __name__ == "__main__":
    main()
