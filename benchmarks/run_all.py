#!/usr/bin/env python3
"""Run every benchmark and print one Markdown report (machine, date, all tables).

    python benchmarks/run_all.py             # the full run: a few minutes on 2 cores
    python benchmarks/run_all.py --quick     # smoke run: seconds
    python benchmarks/run_all.py > report.md

Each benchmark runs in its own process (with this interpreter) so timings and peak
memory do not leak into one another; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from _common import machine_lines  # noqa: E402

SCRIPTS = ["startup.py", "engine.py", "mlp.py", "depth.py", "checks.py", "points.py", "explain.py", "pathological.py",
           "grader.py", "diff.py", "convnet.py"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="smoke run of every benchmark")
    p.add_argument("--gradcli", help="path of the gradcli console script (startup.py, depth.py)")
    p.add_argument("--only", help="comma-separated subset: startup,engine,mlp,depth,checks,points,explain,pathological,"
                                  "grader,diff,convnet")
    args = p.parse_args(argv)
    scripts = SCRIPTS
    if args.only:
        wanted = {w.strip().removesuffix(".py") for w in args.only.split(",")}
        scripts = [s for s in SCRIPTS if s.removesuffix(".py") in wanted]

    parts = ["# gradcli benchmarks" + (" (--quick)" if args.quick else ""), ""]
    parts += machine_lines()
    parts.append("")
    status = 0
    started = time.perf_counter()
    for script in scripts:
        cmd = [sys.executable, os.path.join(HERE, script), "--no-header"]
        if args.quick:
            cmd.append("--quick")
        if args.gradcli and script not in ("engine.py", "mlp.py"):
            cmd += ["--gradcli", args.gradcli]
        print(f"run_all.py: {script} ...", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
        print(f"run_all.py: {script} took {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
        if proc.returncode != 0:
            status = 1
            parts.append(f"## {script}\n\nfailed with exit status {proc.returncode} (see stderr)\n")
        else:
            parts.append(proc.stdout.strip() + "\n")
    parts.append(f"_Total benchmark time: {time.perf_counter() - started:.0f} s._")
    print("\n".join(parts))
    return status


if __name__ == "__main__":
    sys.exit(main())
