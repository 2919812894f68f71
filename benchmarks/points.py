#!/usr/bin/env python3
"""`--points` batch throughput: rows per second, CSV in and out, end to end.

Writes N random rows ``a,b`` (shortest round-trip floats) and runs
``gradcli eval "(a+b)*(b+1)" --points FILE`` with output to a file, several times;
reports the median rows/s.  The reference, measured in the same run, is a plain
Python CSV round trip of the same file (``csv.reader``, ``float``, ``repr`` per
value, ``csv.writer`` of three columns), so the ratio says how gradcli compares
with the least one could do in pure Python.  Also times gradcli's phases in process
(read, evaluate, write) at the same size.

    python benchmarks/points.py                 # 10^6 rows, 3 runs
    python benchmarks/points.py --rows 100000 --quick
"""

from __future__ import annotations

import argparse
import io
import os
import random
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import header, mark, median_run, table  # noqa: E402
from startup import find_gradcli, script_interpreter  # noqa: E402

PROGRAM = "(a+b)*(b+1)"
GOAL_ROWS_PER_SECOND = 1e6

REFERENCE = r"""
import csv, sys
with open(sys.argv[1], newline="") as fin, open(sys.argv[2], "w", newline="") as fout:
    r = csv.reader(fin); w = csv.writer(fout, lineterminator="\n")
    w.writerow(next(r) + ["value"])
    for a, b in r:
        a, b = float(a), float(b)
        w.writerow([repr(a), repr(b), repr((a + b) * (b + 1))])
"""


def make_points(path: str, rows: int, seed: int = 1) -> None:
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("a,b\n")
        fh.write("\n".join(f"{rng.uniform(-10, 10)!r},{rng.uniform(-10, 10)!r}" for _ in range(rows)))
        fh.write("\n")


def phases(path: str, rows: int) -> list[list[str]]:
    from gradcli.run import batch

    t0 = time.perf_counter()
    names, data = batch.read_points(path)
    t1 = time.perf_counter()
    result = batch.evaluate_points(PROGRAM, names, data, {})
    t2 = time.perf_counter()
    batch.write_csv(result, io.StringIO())
    t3 = time.perf_counter()
    return [[f"in process: {label}", f"{dt:.3f}", f"{rows / dt:,.0f}", "", ""]
            for label, dt in (("read CSV", t1 - t0), ("evaluate", t2 - t1), ("write CSV", t3 - t2))]


def run(args: argparse.Namespace) -> str:
    gradcli = find_gradcli(args.gradcli)
    python = script_interpreter(gradcli)
    runs = 1 if args.quick else args.runs
    rows = args.rows
    with tempfile.TemporaryDirectory() as tmp:
        points = os.path.join(tmp, "points.csv")
        out = os.path.join(tmp, "out.csv")
        make_points(points, rows)
        ref, _ = median_run([python, "-c", REFERENCE, points, out], runs)
        sh = f'"$0" eval "{PROGRAM}" --points "$1" > "$2"'
        med, status = median_run(["sh", "-c", sh, gradcli, points, out], runs)
        rate = rows / med
        table_rows = [
            ["Python csv round trip (reference)", f"{ref:.2f}", f"{rows / ref:,.0f}", "1.00", ""],
            [f"`gradcli eval \"{PROGRAM}\" --points`" + (f" (exit {status})" if status else ""),
             f"{med:.2f}", f"{rate:,.0f}", f"{ref / med:.2f}", mark(rate >= GOAL_ROWS_PER_SECOND)],
        ]
        if not args.no_phases:
            table_rows += phases(points, rows)
    out_lines = [header("Batch points", python) if not args.no_header else "## Batch points\n"]
    out_lines.append(f"{rows:,} rows `a,b`, output to a file; median of {runs} runs. "
                     f"Goal: ≥ {GOAL_ROWS_PER_SECOND:,.0f} rows/s end to end.\n")
    out_lines.append(table(["what", "seconds", "rows/s", "speed × reference", "goal"], table_rows, align="lrrrl"))
    return "\n".join(out_lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("-n", "--runs", type=int, default=3)
    p.add_argument("--gradcli", help="path of the gradcli console script")
    p.add_argument("--no-phases", action="store_true", help="skip the in-process phase timings")
    p.add_argument("--quick", action="store_true", help="1 run: a smoke test")
    p.add_argument("--no-header", action="store_true", help=argparse.SUPPRESS)
    print(run(p.parse_args(argv)))


if __name__ == "__main__":
    main()
