"""Import benchmarks: the sample in-process, and 10,000 generated tasks into SQLite.

Run: `make bench` (or `.venv/bin/python bench/import_bench.py [--tasks N]`). Prints figures
with the targets beside them; it is a benchmark, not a test, and never fails on time.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from bot.intake.directory import Directory, load_directory
from bot.intake.importing import import_file
from bot.intake.reader import read_plan
from bot.store import database

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "examples" / "zhoushan-2020-key-tasks.txt"
UNITS = ROOT / "examples" / "zhoushan-units.toml"
NOW = datetime(2020, 3, 1, tzinfo=UTC)
UNIT_NAMES = [f"市第{i}局" for i in range(1, 301)]


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def fresh_sessions(folder: Path, name: str) -> sessionmaker[Session]:
    engine = database.make_engine(f"sqlite:///{folder / name}")
    database.upgrade(engine)
    return database.session_factory(engine)


def generate_plan(path: Path, tasks: int) -> Path:
    """A plan in the sample's layout: each task with a lead, two co-units and a collective."""
    lines = [f"{2020}年重点工作任务责任分解", ""]
    for n in range(1, tasks + 1):
        units = [UNIT_NAMES[(n * k) % len(UNIT_NAMES)] for k in (1, 7, 13)]
        lines += [
            f"{n}.第{n}项工作：新增公共停车位 {n} 个，{n % 12 + 1}月底前完成。",
            "",
            f"责任单位:{'、'.join(dict.fromkeys(units))},各县(区)政府",
            "",
        ]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def bench_sample(folder: Path, directory: Directory) -> list[float]:
    parse = [timed(lambda: read_plan(SAMPLE, directory)) for _ in range(5)]
    runs = []
    for i in range(5):
        sessions = fresh_sessions(folder, f"sample{i}.db")
        runs.append(
            timed(
                lambda s=sessions: import_file(  # type: ignore[misc]
                    s, SAMPLE, directory, timezone="Asia/Shanghai", now=NOW
                )
            )
        )
    print(f"sample parse only          median {statistics.median(parse) * 1000:7.1f} ms")
    print(
        f"sample parse + import      median {statistics.median(runs) * 1000:7.1f} ms"
        "   (target < 200 ms)"
    )
    return runs


def bench_generated(folder: Path, directory: Directory, tasks: int) -> float:
    path = generate_plan(folder / "generated.txt", tasks)
    sessions = fresh_sessions(folder, "generated.db")
    seconds = timed(
        lambda: import_file(sessions, path, directory, timezone="Asia/Shanghai", now=NOW)
    )
    again = timed(lambda: import_file(sessions, path, directory, timezone="Asia/Shanghai", now=NOW))
    print(f"{tasks} generated tasks     {seconds:7.2f} s  first import (target < 10 s)")
    print(f"{tasks} generated tasks     {again:7.2f} s  re-import, nothing changed")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=10_000)
    args = parser.parse_args()
    directory = load_directory(UNITS)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        bench_sample(folder, directory)
        bench_generated(folder, directory, args.tasks)


if __name__ == "__main__":
    main()
