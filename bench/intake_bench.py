"""Intake scaling: the text reader stays linear in the document's length.

Run: `.venv/bin/python bench/intake_bench.py [--baseline REV]`. For each shape of document it
parses 2,000, 4,000, 8,000 and 16,000 lines and prints the time and the ratio to the size
before (linear: about 2×; the target is at most 2.5× per doubling), then 5 MB of text
(target < 5 s). `--baseline ce89ae4` runs the same inputs through the reader of an earlier
commit (checked out in a temporary git worktree) in the same run, for the comparison.
It is a benchmark, not a test, and never fails on time.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SIZES = (2_000, 4_000, 8_000, 16_000)
SAMPLE = ROOT / "examples" / "zhoushan-2020-key-tasks.txt"
FIVE_MB = 5 * 1024 * 1024


def numbered_prose(lines: int) -> str:
    """One item, then lines that open with a number but start no item (「5.继续…」)."""
    body = [f"{k % 7 + 3}.继续推进第{k}项工作，完成投资{k}万元。" for k in range(lines - 2)]
    return "\n".join(["1.推进重点项目建设。", *body, "责任单位:市发改委"])


def sample_layout(lines: int) -> str:
    """Items in the sample's layout: a numbered line, then its 责任单位 line."""
    rows: list[str] = []
    for n in range(1, lines // 2 + 1):
        rows += [
            f"{n}.第{n}项工作：新增公共停车位 {n} 个，{n % 12 + 1}月底前完成。",
            "责任单位:市发改委、市财政局",
        ]
    return "\n".join(rows)


def web_table(lines: int) -> str:
    """A table copied from a web page, one cell per line."""
    rows = ["序号", "工作任务", "牵头单位", "配合单位", "完成时限"]
    for n in range(1, lines // 5 + 1):
        rows += [str(n), f"推进第{n}项民生实事。", "县住建局", "县财政局、县水务局", "12月底前"]
    return "\n".join(rows)


SHAPES: dict[str, Callable[[int], str]] = {
    "numbered lines that start no item": numbered_prose,
    "items with a 责任单位 line": sample_layout,
    "web table, one cell per line": web_table,
}

# Runs inside the checkout being measured: parse the file given, print seconds.
_TIMER = """
import sys, time
from bot.intake.text import read_text
text = open(sys.argv[1], encoding="utf-8").read()
best = float("inf")
for _ in range(int(sys.argv[2])):
    start = time.perf_counter()
    read_text(text, source="bench")
    best = min(best, time.perf_counter() - start)
print(best)
"""


def timed(checkout: Path, path: Path, runs: int = 3) -> float:
    """The best of `runs` parses of `path` by the reader in `checkout`, in seconds."""
    result = subprocess.run(
        [sys.executable, "-c", _TIMER, str(path), str(runs)],
        cwd=checkout,
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(checkout), "PATH": "/usr/bin:/bin"},
    )
    return float(result.stdout.strip())


def bench(checkouts: dict[str, Path], folder: Path, limit: float) -> None:
    for shape, make in SHAPES.items():
        print(f"\n{shape}")
        before: dict[str, float] = {}
        for size in SIZES:
            path = folder / f"{size}.txt"
            path.write_text(make(size), encoding="utf-8")
            cells = []
            for name, checkout in checkouts.items():
                if before.get(name, 0.0) > limit:
                    cells.append(f"{name}: skipped (over {limit:.0f} s)")
                    continue
                seconds = timed(checkout, path)
                ratio = f" ×{seconds / before[name]:.2f}" if name in before else ""
                cells.append(f"{name}: {seconds * 1000:9.1f} ms{ratio:>7}")
                before[name] = seconds
            print(f"  {size:>6} lines  " + "   ".join(cells))


def bench_five_mb(checkouts: dict[str, Path], folder: Path) -> None:
    text = SAMPLE.read_text(encoding="utf-8")
    path = folder / "five-mb.txt"
    path.write_text(text * (FIVE_MB // len(text.encode()) + 1), encoding="utf-8")
    size = path.stat().st_size / 1024 / 1024
    for name, checkout in checkouts.items():
        seconds = timed(checkout, path, runs=1)
        print(f"{size:.1f} MB (the sample repeated), {name}: {seconds:.2f} s (target < 5 s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--baseline", help="a commit whose reader runs the same inputs")
    parser.add_argument("--limit", type=float, default=20.0, help="skip a reader past this")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        checkouts = {"now": ROOT}
        if args.baseline:
            worktree = folder / "baseline"
            subprocess.run(
                ["git", "worktree", "add", "--detach", str(worktree), args.baseline],
                cwd=ROOT,
                check=True,
                capture_output=True,
            )
            checkouts[args.baseline] = worktree
        try:
            bench(checkouts, folder, args.limit)
            print()
            bench_five_mb(checkouts, folder)
        finally:
            if args.baseline:
                subprocess.run(["git", "worktree", "remove", "--force", str(worktree)], cwd=ROOT)


if __name__ == "__main__":
    main()
