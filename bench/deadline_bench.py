"""Memory on a deadline day: one sweep with every one of 100,000 assignments due at once.

Run: `.venv/bin/python bench/deadline_bench.py [--assignments N] [--profile]`. A benchmark,
not a test: it prints its figures and never fails on them.

The database is engine_bench's deadline day (`daemon_db`: 300 units, 100,000 assignments whose
deadline is today, scheduled), on SQLite. A fresh child process (as `duban run` is one) loads
`config.example.toml`'s rules, sweeps once at the real time through `Runtime.sweep` (the
daemon's sweep job) and reports its peak RSS (VmHWM) before and after the sweep; the target is
≤ 250 MB. `--profile` runs the sweep under tracemalloc instead and prints the lines that held
the most memory at the peak (slower; the RSS figure is the one to compare).
"""

from __future__ import annotations

import argparse
import multiprocessing
import tempfile
import time
from pathlib import Path
from typing import Any

from engine_bench import daemon_db, peak_rss_kb

ROOT = Path(__file__).resolve().parent.parent
TARGET_MB = 250


def sweep_once(path: str, profile: bool, answer: Any) -> None:
    """The child: a runtime as `duban run` builds it, one sweep, its peak memory."""
    import os
    import tracemalloc
    from datetime import UTC, datetime

    from bot.app.config import load_settings
    from bot.app.runtime import build_runtime
    from bot.store import database

    os.chdir(ROOT)  # the example configuration's paths are relative to it
    os.environ["DUBAN_DATABASE__URL"] = f"sqlite:///{path}"
    settings = load_settings(ROOT / "config.example.toml")
    engine = database.make_engine(settings.database.url)
    runtime = build_runtime(settings, database.session_factory(engine))
    before = peak_rss_kb(os.getpid())
    if profile:
        tracemalloc.start(8)
    start = time.perf_counter()
    result = runtime.sweep(datetime.now(UTC))
    seconds = time.perf_counter() - start
    top: list[str] = []
    if profile:
        snapshot = tracemalloc.take_snapshot()
        _, peak = tracemalloc.get_traced_memory()
        top = [f"tracemalloc peak {peak / 2**20:.1f} MB; held at the end:"]
        top += [str(stat) for stat in snapshot.statistics("lineno")[:15]]
    answer.send((before, peak_rss_kb(os.getpid()), seconds, str(result), top))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--assignments", type=int, default=100_000)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    from bot.domain.rules import default_rules

    rules = default_rules()  # what config.example.toml's schedules/default.toml holds
    with tempfile.TemporaryDirectory(prefix="duban-deadline-") as tmp:
        path = Path(tmp) / "deadline.db"
        started = time.perf_counter()
        due = daemon_db(path, args.assignments, rules, deadline_day=True)
        print(
            f"a deadline day: {args.assignments:,} assignments, {due:,} due points due now "
            f"(built in {time.perf_counter() - started:.0f} s, SQLite)"
        )
        context = multiprocessing.get_context("spawn")
        mine, theirs = context.Pipe()
        child = context.Process(target=sweep_once, args=(str(path), args.profile, theirs))
        child.start()
        before, after, seconds, result, top = mine.recv()
        child.join()
    print(
        f"   one sweep in a fresh process: {seconds:.1f} s, {result}\n"
        f"   peak RSS before the sweep {before / 1024:.1f} MB, after {after / 1024:.1f} MB   "
        f"(target ≤ {TARGET_MB} MB {'✓' if after / 1024 <= TARGET_MB else '✗'})"
    )
    for line in top:
        print(f"   {line}")


if __name__ == "__main__":
    main()
