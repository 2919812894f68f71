#!/usr/bin/env python3
"""Whole-process start-up time of the `gradcli` command, against bare Python.

Each command runs N times as a subprocess (output to /dev/null); the table gives the
median and minimum wall time and the median's ratio to ``python -c pass`` run by the
same interpreter as the installed ``gradcli`` console script.

    python benchmarks/startup.py            # 30 runs of each command
    python benchmarks/startup.py --quick    # 3 runs, for a smoke test
    python benchmarks/startup.py --gradcli /path/to/bin/gradcli -n 50
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import goal, header, median, table  # noqa: E402

PROGRAM = "(a+b)*(b+1)"
#: (label, extra arguments, target ratio to bare Python or None)
COMMANDS = [
    ("gradcli eval … --json", ["--json"], 2.5),   # issue 24's goals
    ("gradcli eval … (table)", [], 4.0),
    ("gradcli eval … --check fd", ["--check", "fd"], None),
    ("gradcli eval … --check sympy", ["--check", "sympy"], None),
]


def find_gradcli(explicit: str | None) -> str:
    if explicit:
        return explicit
    # next to the running interpreter first (a venv's bin/), then PATH
    here = os.path.join(os.path.dirname(sys.executable), "gradcli")
    if os.path.isfile(here) and os.access(here, os.X_OK):
        return here
    found = shutil.which("gradcli")
    if not found:
        sys.exit("startup.py: no 'gradcli' console script found (install gradcli, or pass --gradcli PATH)")
    return found


def script_interpreter(script: str) -> str:
    """The interpreter in the console script's shebang (not a pyenv shim on PATH)."""
    try:
        with open(script, "rb") as fh:
            first = fh.readline().decode("utf-8", "replace").strip()
    except OSError:
        return sys.executable
    if first.startswith("#!"):
        parts = first[2:].split()
        if parts and os.path.basename(parts[0]) == "env" and len(parts) > 1:
            found = shutil.which(parts[1])
            if found:
                return found
        elif parts and os.path.isfile(parts[0]):
            return parts[0]
    return sys.executable


def compile_package(python: str) -> None:
    """Write gradcli's bytecode, as an install does: an editable checkout run under
    PYTHONDONTWRITEBYTECODE=1 would otherwise compile every module on every start."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run([python, "-c", "import compileall, os, gradcli; "
                    "compileall.compile_dir(os.path.dirname(gradcli.__file__), quiet=1)"],
                   env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)


def time_command(argv: list[str], runs: int, warmup: int = 2) -> tuple[float, float, int]:
    """(median, min) seconds over `runs` runs, and the last exit status."""
    env = dict(os.environ, COLUMNS="120")
    times = []
    status = 0
    for k in range(warmup + runs):
        t0 = time.perf_counter()
        proc = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        dt = time.perf_counter() - t0
        status = proc.returncode
        if k >= warmup:
            times.append(dt)
    return median(times), min(times), status


def run(args: argparse.Namespace) -> str:
    gradcli = find_gradcli(args.gradcli)
    python = script_interpreter(gradcli)
    runs = 3 if args.quick else args.runs
    compile_package(python)
    base_med, base_min, _ = time_command([python, "-c", "pass"], runs)
    rows = [["`python -c pass`", f"{base_med * 1e3:.1f}", f"{base_min * 1e3:.1f}", "1.00", "", ""]]
    for label, extra, target in COMMANDS:
        argv = [gradcli, "eval", PROGRAM, "a=3", "b=2", *extra]
        med, mn, status = time_command(argv, runs)
        ratio = med / base_med
        verdict = "" if target is None else goal(f"start-up, `{label}`, × bare `python -c pass`", f"{ratio:.2f}×",
                                                  f"≤ {target:g}×", ratio <= target)
        note = f"exit {status}" if status else ""
        rows.append([f"`{label}`" + (f" ({note})" if note else ""), f"{med * 1e3:.1f}", f"{mn * 1e3:.1f}",
                     f"{ratio:.2f}", f"≤ {target:g}×" if target else "", verdict])
    out = []
    if not args.no_header:
        out.append(header("Start-up", python))
    else:
        out.append("## Start-up\n")
    out.append(f"`{gradcli}` with program `{PROGRAM}` at a=3 b=2; {runs} runs each (after 2 warm-up runs), "
               f"output to /dev/null; interpreter `{python}`.\n")
    out.append(table(["command", "median ms", "min ms", "× bare python", "target", "ok"], rows,
                     align="lrrrrl"))
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-n", "--runs", type=int, default=30, help="runs per command (default 30)")
    p.add_argument("--gradcli", help="path of the gradcli console script (default: found on PATH)")
    p.add_argument("--quick", action="store_true", help="3 runs per command: a smoke test")
    p.add_argument("--no-header", action="store_true", help=argparse.SUPPRESS)
    print(run(p.parse_args(argv)))


if __name__ == "__main__":
    main()
