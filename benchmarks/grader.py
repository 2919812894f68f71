#!/usr/bin/env python3
"""The grader's speed and scores (issue 20), on the grading corpus's homework programs.

(a) A numeric answer: ``gradcli check … --expect NAME=VALUE`` against a plain
    ``gradcli eval … --json`` of the same program and point, both as subprocesses
    (median of N runs); the goal is a ratio of about 1 (the time of a plain eval).
(b) A formula answer on homework-size programs (the two-layer ReLU MLP and the RNN
    unrolled 3 steps): ``gradcli check … --expect-formula NAME=FORMULA`` as a
    subprocess, and ``gradcli.judge`` in process; goal ≤ 0.5 s.
(c) A class gradebook: 300 students × 5 questions (numbers and formulas mixed, drawn
    from the corpus's right and wrong answers) graded by ``gradcli check --answers``,
    one subprocess; goal ≤ 60 s.
(d) The scores on the whole corpus (tests/grading_corpus.py) through ``gradcli.judge``:
    right answers judged wrong (goal 0), wrong answers judged right (goal 0), wrong
    answers diagnosed with their class (goal ≥ 95 %).

    python benchmarks/grader.py              # 5 runs of (a) and (b), 300 students, scores
    python benchmarks/grader.py --quick      # 1 run, 30 students, no scores: a smoke test
    python benchmarks/grader.py --no-scores  # skip (d), the slowest part
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))
from _common import goal, header, median, median_run, table  # noqa: E402
from startup import find_gradcli, script_interpreter  # noqa: E402

GOAL_NUMBER_RATIO = 1.5   # "in the time of a plain gradcli eval": within 1.5× of it
GOAL_FORMULA_SECONDS = 0.5
GOAL_CLASS_SECONDS = 60.0
GOAL_DIAGNOSED = 0.95
STUDENTS = 300

#: (family, name, a right numeric answer's digits) for (a)
NUMBER_CASES = [("chain-0.7", "x"), ("mlp-relu", "W1"), ("rnn-3", "Wh")]
#: (family, name, formula) for (b): right answers written with the program's names
FORMULA_CASES = [
    ("mlp-relu", "W1", "outer((transpose(W2) @ (z2 - y)) * (z1 > 0), x)"),
    ("rnn-3", "Wo",
     "outer(2*(Wo@h1 - Y[0]), h1) + outer(2*(Wo@h2 - Y[1]), h2) + outer(2*(Wo@h3 - Y[2]), h3)"),
]
#: the class's five questions on the MLP: (column, corpus question, name)
CLASS_FAMILY = "mlp-relu"
CLASS_COLUMNS = [("W1", "expect", "W1"), ("b2", "expect", "b2"), ("value", "expect-value", "L"),
                 ("formula:W1", "expect-formula", "W1"), ("formula:W2", "expect-formula", "W2")]


def _write_family(tmp: str, name: str) -> list[str]:
    """The family's program and point as files; the arguments that name them."""
    import numpy as np
    from grading_corpus import family

    fam = family(name)
    prog = os.path.join(tmp, f"{name}.grad")
    with open(prog, "w", encoding="utf-8") as fh:
        fh.write(fam.program + "\n")
    point = os.path.join(tmp, f"{name}.json")
    with open(point, "w", encoding="utf-8") as fh:
        json.dump({k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in fam.point.items()}, fh)
    return ["-f", prog, "--vars", point]


def _right_number(name: str, ask: str) -> str:
    from grading_corpus import answers

    return next(a.text for a in answers() if a.family == name and a.question == "expect" and a.name == ask
                and a.digits == 4)


def numbers(gradcli: str, tmp: str, runs: int) -> list[list[str]]:
    rows = []
    for name, ask in NUMBER_CASES:
        files = _write_family(tmp, name)
        plain, _ = median_run([gradcli, "eval", *files, "--json"], runs)
        answer = f"{ask}={_right_number(name, ask)}"
        check, status = median_run([gradcli, "check", *files, "--expect", answer], runs)
        ratio = check / plain
        rows.append([f"`check --expect {ask}=…` on {name}" + (f" (exit {status})" if status else ""),
                     f"{plain:.3f}", f"{check:.3f}", f"{ratio:.2f}",
                     goal(f"grader: a number answer on {name}, × a plain `eval --json`", f"{ratio:.2f}×",
                          f"≤ {GOAL_NUMBER_RATIO:g}×", ratio <= GOAL_NUMBER_RATIO)])
    return rows


def formulas(gradcli: str, tmp: str, runs: int) -> list[list[str]]:
    import gradcli as api
    from grading_corpus import _bindings, family

    rows = []
    for name, ask, text in FORMULA_CASES:
        files = _write_family(tmp, name)
        whole, status = median_run([gradcli, "check", *files, "--expect-formula", f"{ask}={text}"], runs)
        fam = family(name)
        times, verdict = [], None
        for _ in range(runs):
            t0 = time.perf_counter()
            verdict = api.judge(fam.program, _bindings(fam.point), expect_formula={ask: text}).verdicts[0]
            times.append(time.perf_counter() - t0)
        inproc = median(times)
        judged = {True: "right", False: "WRONG", None: "unjudged"}[verdict.ok if verdict else None]
        label = f"`check --expect-formula {ask}=…` on {name} ({judged})"
        rows.append([label + (f" (exit {status})" if status else ""),
                     f"{whole:.2f}", f"{inproc:.2f}",
                     goal(f"grader: a right formula answer on {name}", f"{whole:.2f} s",
                          f"≤ {GOAL_FORMULA_SECONDS:g} s", whole <= GOAL_FORMULA_SECONDS)])
    return rows


def make_class(path: str, students: int, seed: int = 20) -> None:
    """A class's sheet: each student's five answers drawn from the corpus's answers to
    those questions (right ones three times as often as wrong ones)."""
    from grading_corpus import answers

    rng = random.Random(seed)
    pools = []
    for _column, question, name in CLASS_COLUMNS:
        pool = [a for a in answers()
                if a.family == CLASS_FAMILY and a.question == question and a.name == name]
        pools.append([a for a in pool if a.right] * 3 + [a for a in pool if not a.right])
    with open(path, "w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["id"] + [c for c, _q, _n in CLASS_COLUMNS])
        for k in range(students):
            out.writerow([f"s{k:03d}"] + [rng.choice(pool).text for pool in pools])


def gradebook(gradcli: str, tmp: str, students: int) -> list[list[str]]:
    files = _write_family(tmp, CLASS_FAMILY)
    sheet = os.path.join(tmp, "answers.csv")
    make_class(sheet, students)
    book = os.path.join(tmp, "grades.csv")
    seconds, status = median_run([gradcli, "check", *files, "--answers", sheet, "--out", book], 1)
    projected = seconds * STUDENTS / students
    label = f"`check --answers` {students} students × {len(CLASS_COLUMNS)} questions on {CLASS_FAMILY}"
    return [[label + (f" (exit {status})" if status else ""), f"{seconds:.1f}",
             f"{projected:.1f}", verdict_counts(book),
             goal(f"grader: a class of {STUDENTS} × {len(CLASS_COLUMNS)} answers", f"{projected:.1f} s",
                  f"≤ {GOAL_CLASS_SECONDS:g} s", projected <= GOAL_CLASS_SECONDS)]]


def verdict_counts(book: str) -> str:
    """How the gradebook's cells were judged: right, wrong, invalid, ... (a fast run that
    judged nothing is not a fast grader)."""
    counts: dict = {}
    try:
        with open(book, encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh):
                for column, cell in row.items():
                    if column and column.endswith(" verdict") and cell:
                        word = cell.split(":")[0]
                        counts[word] = counts.get(word, 0) + 1
    except OSError:
        return "no gradebook"
    return ", ".join(f"{word} {n}" for word, n in sorted(counts.items(), key=lambda kv: -kv[1]))


def corpus_scores() -> list[list[str]]:
    from grading_corpus import answers, scores

    t0 = time.perf_counter()
    s = scores(answers())
    dt = time.perf_counter() - t0
    return [
        ["right answers judged wrong", f"{len(s.rejected)} of {s.right}", "0",
         goal("grader: right answers judged wrong", f"{len(s.rejected)} of {s.right}", "0", not s.rejected)],
        ["wrong answers judged right", f"{len(s.accepted)} of {s.wrong}", "0",
         goal("grader: wrong answers judged right", f"{len(s.accepted)} of {s.wrong}", "0", not s.accepted)],
        ["wrong answers diagnosed with their class",
         f"{s.diagnosed} of {s.wrong} ({100 * s.diagnosed_share:.1f} %)",
         f"≥ {100 * GOAL_DIAGNOSED:.0f} %",
         goal("grader: wrong answers diagnosed with their class", f"{100 * s.diagnosed_share:.1f} %",
              f"≥ {100 * GOAL_DIAGNOSED:.0f} %", s.diagnosed_share >= GOAL_DIAGNOSED)],
        [f"(all {s.total} answers judged in process)", f"{dt:.0f} s", "", ""],
    ] + [[f"… {kind}", f"{hit} of {n}", "", ""]
         for kind, (hit, n) in sorted(s.by_kind().items(), key=lambda kv: (-kv[1][1], kv[0]))]


def run(args: argparse.Namespace) -> str:
    gradcli = find_gradcli(args.gradcli)
    python = script_interpreter(gradcli)
    runs = 1 if args.quick else args.runs
    students = 30 if args.quick else args.students
    out = [header("Grader", python) if not args.no_header else "## Grader\n"]
    with tempfile.TemporaryDirectory() as tmp:
        out.append("(a) A numeric answer against a plain `gradcli eval --json` of the same program "
                   "and point; "
                   f"subprocesses, median of {runs} runs. Goal: check ≤ {GOAL_NUMBER_RATIO:g}× eval.\n")
        out.append(table(["answer", "eval s", "check s", "check / eval", "goal"], numbers(gradcli, tmp, runs),
                         align="lrrrl"))
        out.append(f"\n(b) A right formula answer on homework-size programs; median of {runs} runs. "
                   f"Goal: ≤ {GOAL_FORMULA_SECONDS:g} s (the subprocess).\n")
        out.append(table(["answer", "subprocess s", "gradcli.judge s", "goal"], formulas(gradcli, tmp, runs),
                         align="lrrl"))
        out.append(f"\n(c) A class gradebook, numbers and formulas mixed, one run; seconds projected to "
                   f"{STUDENTS} students. Goal: ≤ {GOAL_CLASS_SECONDS:g} s for {STUDENTS} students.\n")
        out.append(table(["gradebook", "seconds", f"for {STUDENTS} students", "cells judged", "goal"],
                         gradebook(gradcli, tmp, students), align="lrrll"))
    if not (args.quick or args.no_scores):
        out.append("\n(d) Scores on the grading corpus (tests/grading_corpus.py) through `gradcli.judge`.\n")
        out.append(table(["score", "measured", "goal", ""], corpus_scores(), align="lrrl"))
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-n", "--runs", type=int, default=5, help="runs per command in (a) and (b) (default 5)")
    p.add_argument("--students", type=int, default=STUDENTS, help=f"students in (c) (default {STUDENTS})")
    p.add_argument("--gradcli", help="path of the gradcli console script")
    p.add_argument("--no-scores", action="store_true", help="skip (d), the corpus scores")
    p.add_argument("--quick", action="store_true", help="1 run, 30 students, no scores: a smoke test")
    p.add_argument("--no-header", action="store_true", help=argparse.SUPPRESS)
    print(run(p.parse_args(argv)))


if __name__ == "__main__":
    main()
