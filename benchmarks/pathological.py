#!/usr/bin/env python3
"""Pathological inputs, timed: the speed half of tests/test_pathological.py.

The tests check that each input gets a result or a clear message and that parsing and
evaluation grow linearly (a ratio measured in one run); they assert no wall-clock limit,
because a loaded machine must not fail a test.  This script measures the wall time of
each input through the click command line, in-process with the garbage collector off
(as in the entry point), best of `--repeat` runs, against the target of 2 s.

    python benchmarks/pathological.py            # 10^5-sized inputs
    python benchmarks/pathological.py --quick    # 10^4
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import header, mark, table  # noqa: E402

TARGET_S = 2.0


def cases(n: int, tmp: str) -> list[tuple[str, list[str]]]:
    many = os.path.join(tmp, "many.json")
    with open(many, "w", encoding="utf-8") as fh:
        json.dump({"x": 1, **{f"v{i}": i for i in range(n)}}, fh)
    big = os.path.join(tmp, "thirty_megabytes.grad")  # over the 28 MB program limit
    with open(big, "w", encoding="utf-8") as fh:
        fh.write("+".join(["x"] * 15_000_000))
    chain = os.path.join(tmp, "chain.grad")
    with open(chain, "w", encoding="utf-8") as fh:
        fh.write("\n".join(f"x{i + 1} = sin(x{i})" for i in range(n)))
    csv = ["--format", "csv"]
    return [
        (f"{n} nested parentheses, eval", ["eval", "(" * n + "x" + ")" * n, "x=2", *csv]),
        (f"{n} nested parentheses, hessian", ["hessian", "(" * n + "x" + ")" * n, "x=2", *csv]),
        (f"{n} unary minus in a row", ["eval", "0 + " + "-" * n + "x", "x=2", *csv]),
        (f"{n} parenthesised unary minus", ["eval", "-(" * n + "x" + ")" * n, "x=2", *csv]),
        (f"sum of {n} terms", ["eval", " + ".join(f"{i}*x" for i in range(n)), "x=2", *csv]),
        (f"{n}-character name", ["eval", f"{'a' * n}^2 + 1", f"{'a' * n}=3", *csv]),
        (f"{n} bindings, mostly unused", ["eval", "x+1", "x=1", *[f"v{i}={i}" for i in range(n)], *csv]),
        (f"{n} unused --vars entries", ["eval", "x+1", "--vars", many, *csv]),
        ("30 MB program (refused)", ["eval", "-f", big, "x=2", *csv]),
        # the explanations print a line or two per node: rich must render them in linear time
        (f"--steps on a chain of {n} statements", ["eval", "-f", chain, "x0=1", "--steps", "--no-nodes"]),
        (f"--mode forward --steps on a chain of {n} statements",
         ["eval", "-f", chain, "x0=1", "--mode", "forward", "--steps", "--no-nodes"]),
    ]


def seconds(argv: list[str]) -> tuple[float, int]:
    from click.testing import CliRunner

    from gradcli.cli.commands import main

    collecting = gc.isenabled()
    gc.disable()
    start = time.perf_counter()
    try:
        result = CliRunner().invoke(main, argv, env={"COLUMNS": "100", "NO_COLOR": None})
    finally:
        elapsed = time.perf_counter() - start
        if collecting:
            gc.enable()
            gc.collect()
    return elapsed, result.exit_code


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="10^4-sized inputs")
    p.add_argument("--repeat", type=int, default=3, help="best of this many runs (default 3)")
    p.add_argument("--no-header", action="store_true", help="leave out the machine description")
    p.add_argument("--gradcli", help="ignored (run_all.py passes it to every script)")
    args = p.parse_args(argv)
    n = 10**4 if args.quick else 10**5
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, command in cases(n, tmp):
            runs = [seconds(command) for _ in range(max(1, args.repeat))]
            best = min(t for t, _ in runs)
            codes = sorted({c for _, c in runs})
            rows.append([label, f"{best:.2f} s", "/".join(map(str, codes)), f"≤ {TARGET_S:.0f} s", mark(best <= TARGET_S)])
            print(f"pathological.py: {label}: {best:.2f} s", file=sys.stderr, flush=True)
    title = "Pathological inputs (best of %d, in-process, GC off)" % args.repeat
    print((f"## {title}\n" if args.no_header else header(title)) + "\n"
          + table(["input", "wall time", "exit", "target", ""], rows, "lrrrl"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
