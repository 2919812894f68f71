#!/usr/bin/env python3
"""Explanations: lines per second of ``gradcli eval … --steps`` (and ``--mode forward --steps``).

A chain of N statements ``x{i} = sin(x{i-1})*0.5 + x{i-1}`` prints about five lines of
explanation a statement.  Three figures per command, each the best of R runs:

* end to end: the whole process (start-up, parse, evaluate, explain, write to a file),
  lines written ÷ wall time;
* explanation: the same command's wall time minus that of the command without ``--steps``
  (so parsing and evaluating are not counted), lines ÷ that difference;
* in process: building the explanation's text, wrapping and writing it, timed inside one
  process with the garbage collector off, as the command runs (so neither start-up nor the
  machine's other jobs between two processes weigh in), lines ÷ time; and the same as CPU
  time (`time.process_time`), what the figure would be on a machine of our own;
* printing: in process, our own wrapping and writing of the explanation's text
  (`gradcli.output.terminal.wrap_text` and one write), lines ÷ time.

Goal (issue 24): explanations at ≥ 10⁵ lines/s.

    python benchmarks/explain.py            # N = 20,000 statements (about 10⁵ lines)
    python benchmarks/explain.py --quick    # N = 2,000
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import goal, header, mark, table  # noqa: E402
from startup import compile_package, find_gradcli, script_interpreter  # noqa: E402

GOAL_LINES_PER_SECOND = 1e5


def best_wall(argv: list[str], out_path: str, runs: int) -> tuple[float, int]:
    """Best wall time of `argv` with stdout to `out_path`, and the lines it wrote."""
    env = dict(os.environ, COLUMNS="120")
    best = float("inf")
    for _ in range(runs):
        with open(out_path, "w", encoding="utf-8") as out:
            t0 = time.perf_counter()
            subprocess.run(argv, stdout=out, stderr=subprocess.DEVNULL, env=env, check=False)
            best = min(best, time.perf_counter() - t0)
    with open(out_path, encoding="utf-8") as fh:
        lines = sum(1 for _ in fh)
    return best, lines


def printing_rate(python: str, chain: str, mode: str, runs: int) -> tuple[float, float, float, int]:
    """In process: seconds to build, wrap and write the explanation text (wall and CPU), seconds
    to wrap and write it, and its lines."""
    code = f"""
import gc, io, os, sys, time
from gradcli.cli.program import read_point
from gradcli.run import pipeline
from gradcli.run.requests import EvaluateRequest
from gradcli.output.terminal import wrap_text, TidyStream
mode = {mode!r}
gc.disable()  # as the command line runs (gradcli.cli.main)
ev = pipeline.differentiate(EvaluateRequest(point=read_point(("x0=1",), {chain!r}, (), None, None),
                                            mode="forward" if mode == "forward" else None))
if mode == "forward":
    from gradcli.teach.forward import forward_steps_text as explain
else:
    from gradcli.teach.explain import steps_text as explain
whole = cpu = printing = float("inf")
for _ in range({runs}):
    with open(os.devnull, "w", encoding="utf-8") as sink:
        c0, t0 = time.process_time(), time.perf_counter()
        text = explain(ev, 10, False)
        t1 = time.perf_counter()
        TidyStream(sink).write(wrap_text(text, 120) + "\\n")
        t2, c2 = time.perf_counter(), time.process_time()
    whole, cpu, printing = min(whole, t2 - t0), min(cpu, c2 - c0), min(printing, t2 - t1)
print(whole, cpu, printing, text.count("\\n") + 1)
"""
    out = subprocess.run([python, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    return float(out[0]), float(out[1]), float(out[2]), int(out[3])


def run(args: argparse.Namespace) -> str:
    gradcli = find_gradcli(args.gradcli)
    python = script_interpreter(gradcli)
    compile_package(python)
    n = 2000 if args.quick else args.statements
    runs = 1 if args.quick else args.runs
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        chain = os.path.join(tmp, "chain.grad")
        with open(chain, "w", encoding="utf-8") as fh:
            fh.write("\n".join(f"x{i} = sin(x{i - 1})*0.5 + x{i - 1}" for i in range(1, n + 1)) + "\n")
        sink = os.path.join(tmp, "out.txt")
        for label, mode in (("--steps", []), ("--mode forward --steps", ["--mode", "forward"])):
            base = [gradcli, "eval", "-f", chain, "x0=1", "--no-nodes", *mode]
            total, lines = best_wall([*base, "--steps"], sink, runs)
            without, _ = best_wall(base, sink, runs)
            whole, cpu, printing, text_lines = printing_rate(python, chain, "forward" if mode else "reverse",
                                                             max(runs, 3))
            for what, seconds, count in (("end to end", total, lines),
                                         ("explanation (minus the run without it)", total - without, lines),
                                         ("explanation in process (build + wrap + write)", whole, text_lines),
                                         ("the same, CPU time", cpu, text_lines),
                                         ("printing (wrap + write)", printing, text_lines)):
                rate = count / seconds if seconds > 0 else float("inf")
                ok = rate >= GOAL_LINES_PER_SECOND
                verdict = (goal(f"`{label}` on a {n:,}-statement chain ({count:,} lines), {what}",
                                f"{rate:,.0f} lines/s", f"≥ {GOAL_LINES_PER_SECOND:,.0f} lines/s", ok)
                           if what in ("end to end", "explanation (minus the run without it)") else mark(ok))
                rows.append([f"`{label}`: {what}", f"{seconds:.3f}", f"{count:,}", f"{rate:,.0f}",
                             f"≥ {GOAL_LINES_PER_SECOND:,.0f}: {verdict}"])
    out = [header("Explanations", python) if not args.no_header else "## Explanations\n",
           f"A chain of {n:,} statements, COLUMNS=120, output to a file; best of {runs} run(s). "
           f"Goal: ≥ {GOAL_LINES_PER_SECOND:,.0f} lines/s.\n",
           table(["what", "seconds", "lines", "lines/s", "goal"], rows, "lrrrl")]
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-N", "--statements", type=int, default=20000, help="statements in the chain (default 20,000)")
    p.add_argument("-n", "--runs", type=int, default=3, help="runs per command, best kept (default 3)")
    p.add_argument("--gradcli", help="path of the gradcli console script")
    p.add_argument("--quick", action="store_true", help="2,000 statements, 1 run: a smoke test")
    p.add_argument("--no-header", action="store_true", help=argparse.SUPPRESS)
    print(run(p.parse_args(argv)), end="")


if __name__ == "__main__":
    main()
