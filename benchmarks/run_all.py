#!/usr/bin/env python3
"""Run every benchmark and print one Markdown report (machine, date, all tables).

    python benchmarks/run_all.py             # the full run: a few minutes on 2 cores
    python benchmarks/run_all.py --quick     # smoke run: seconds
    python benchmarks/run_all.py > report.md
    python benchmarks/run_all.py --readme    # also rewrite README.md's performance section

Each benchmark runs in its own process (with this interpreter) so timings and peak
memory do not leak into one another; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from _common import GOALS_ENV, machine_lines, table  # noqa: E402

README = os.path.join(os.path.dirname(HERE), "README.md")
BEGIN = "<!-- performance: made by `python benchmarks/run_all.py --readme`; edit the benchmarks, not this table -->"
END = "<!-- end of performance -->"

SCRIPTS = ["startup.py", "engine.py", "mlp.py", "depth.py", "checks.py", "points.py", "explain.py", "pathological.py",
           "grader.py", "diff.py", "convnet.py"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="smoke run of every benchmark")
    p.add_argument("--gradcli", help="path of the gradcli console script (startup.py, depth.py)")
    p.add_argument("--only", help="comma-separated subset: startup,engine,mlp,depth,checks,points,explain,pathological,"
                                  "grader,diff,convnet")
    p.add_argument("--readme", action="store_true",
                   help="rewrite README.md's performance section from the goals measured in this run")
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
    env = dict(os.environ)
    goals_file = None
    if args.readme:
        fd, goals_file = tempfile.mkstemp(prefix="gradcli-goals-", suffix=".jsonl")
        os.close(fd)
        env[GOALS_ENV] = goals_file
    for script in scripts:
        cmd = [sys.executable, os.path.join(HERE, script), "--no-header"]
        if args.quick:
            cmd.append("--quick")
        if args.gradcli and script not in ("engine.py", "mlp.py"):
            cmd += ["--gradcli", args.gradcli]
        print(f"run_all.py: {script} ...", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, env=env)
        print(f"run_all.py: {script} took {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
        if proc.returncode != 0:
            status = 1
            parts.append(f"## {script}\n\nfailed with exit status {proc.returncode} (see stderr)\n")
        else:
            parts.append(proc.stdout.strip() + "\n")
    parts.append(f"_Total benchmark time: {time.perf_counter() - started:.0f} s._")
    print("\n".join(parts))
    if goals_file is not None:
        with open(goals_file, encoding="utf-8") as fh:
            goals = [json.loads(line) for line in fh if line.strip()]
        os.unlink(goals_file)
        if status != 0 or args.quick or args.only:
            print("run_all.py: README.md not rewritten (a benchmark failed, or --quick/--only)", file=sys.stderr)
        else:
            write_readme(README, performance_section(goals, machine_lines()))
            print(f"run_all.py: README.md's performance section rewritten ({len(goals)} goals)", file=sys.stderr)
    return status


def performance_section(goals: list[dict], machine: list[str]) -> str:
    """The README's performance section: every goal the benchmarks measured, with ✓ or ✗, and the machine."""
    met = sum(g["ok"] for g in goals)
    lines = [BEGIN,
             f"Each goal is measured by `benchmarks/` against a reference timed in the same run; {met} of "
             f"{len(goals)} are met. Measured on:", ""]
    lines += [re.sub(r" \(/.*\)$", "", m) for m in machine if not m.startswith("- gradcli")]  # no local paths
    lines += ["", table(["what", "goal", "measured", "benchmark", ""],
                        [[g["what"], g["goal"], g["measured"], f"`{g['benchmark']}`", "✓" if g["ok"] else "✗"]
                         for g in goals], "lllll"),
              "", END]
    return "\n".join(lines)


def write_readme(path: str, section: str) -> None:
    """Replace the text between the markers (inclusive) in `path`, atomically."""
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    text = replace_section(text, section)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".README.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)


def replace_section(text: str, section: str) -> str:
    start, stop = text.find(BEGIN), text.find(END)
    if start < 0 or stop < start:
        raise SystemExit(f"run_all.py: README.md has no performance markers ({BEGIN!r} … {END!r})")
    return text[:start] + section + text[stop + len(END):]


if __name__ == "__main__":
    sys.exit(main())
