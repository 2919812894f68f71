#!/usr/bin/env python3
"""`gradcli diff` on textbook derivatives: whole-process time against `import sympy`.

Each expression runs as ``gradcli diff EXPR`` N times; the table gives the median wall
time, its ratio to ``python -c "import sympy"`` measured in the same run by the same
interpreter, and the length of the printed formula.  Goals (issue 24): median ≤ 1 s,
every case ≤ 3 s, on the plain install.

    python benchmarks/diff.py            # 5 runs of each (-n N)
    python benchmarks/diff.py --quick    # 1 run, for a smoke test
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import goal, header, median, median_run, table  # noqa: E402
from startup import find_gradcli, script_interpreter  # noqa: E402

#: textbook derivatives: calculus exercises and the activations and losses of the notes
TEXTBOOK = [
    "x^x",
    "sin(x)^cos(x)",
    "1/(1 + exp(-x))",
    "log(1 + exp(w*x + b))",
    "exp(-x^2/2)/sqrt(2*pi)",
    "tanh(w*x + b)^2",
    "x*log(x) - x",
    "atan(y/x)",
    "log10(x^2 + 1)",
    "-(t*log(sigmoid(w*x)) + (1 - t)*log(1 - sigmoid(w*x)))",
]
MEDIAN_GOAL = 1.0
WORST_GOAL = 3.0


def run(args: argparse.Namespace) -> str:
    gradcli = find_gradcli(args.gradcli)
    python = script_interpreter(gradcli)
    runs = 1 if args.quick else args.runs
    sym, _ = median_run([python, "-c", "import sympy"], max(runs, 3))
    rows = []
    times = []
    for expr in TEXTBOOK:
        seconds, status = median_run([gradcli, "diff", expr], runs)
        printed = subprocess.run([gradcli, "diff", expr], capture_output=True, text=True, check=False).stdout
        longest = max((len(line.split(" = ", 1)[-1]) for line in printed.splitlines() if line.startswith("∂")),
                      default=0)
        times.append(seconds)
        rows.append([f"`{expr}`", f"{seconds:.2f}", f"{seconds / sym:.2f}×", longest,
                     "" if status == 0 else f"exit {status}"])
    mid, worst = median(times), max(times)
    title = "gradcli diff on textbook derivatives"
    out = [f"## {title}\n" if args.no_header else header(title, python),
           f"`import sympy`: {sym:.2f} s (median of {max(runs, 3)}); each row the median of {runs} runs.", "",
           table(["expression", "seconds", "÷ import sympy", "longest formula (chars)", ""], rows, "lrrrl"), "",
           table(["goal", "measured", "", ""],
                 [["median ≤ 1 s", f"{mid:.2f} s ({mid / sym:.2f}× import sympy)",
                   goal("`gradcli diff` on ten textbook derivatives, median", f"{mid:.2f} s", "≤ 1 s", mid <= MEDIAN_GOAL), ""],
                  ["every case ≤ 3 s", f"{worst:.2f} s",
                   goal("`gradcli diff` on ten textbook derivatives, worst", f"{worst:.2f} s", "≤ 3 s", worst <= WORST_GOAL), ""]], "llll")]
    return "\n".join(out) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gradcli", help="the gradcli executable (default: the one beside this Python)")
    parser.add_argument("-n", "--runs", type=int, default=5, help="runs per expression (default 5)")
    parser.add_argument("--quick", action="store_true", help="1 run per expression: a smoke test")
    parser.add_argument("--no-header", action="store_true", help=argparse.SUPPRESS)
    print(run(parser.parse_args()), end="")


if __name__ == "__main__":
    main()
