#!/usr/bin/env python3
"""`--points` batch throughput: rows per second, CSV in and out, end to end.

Writes N random rows ``a,b`` (shortest round-trip floats) and runs
``gradcli eval "(a+b)*(b+1)" --points FILE`` with output to a file, several times;
reports the median rows/s, in wall-clock time and in CPU time (user + system of the
command: on a machine shared with other work, CPU time says what the run costs).
The reference, measured in the same run, is a plain Python CSV round trip of the
same file (``csv.reader``, ``float``, ``repr`` per value, ``csv.writer`` of three
columns), so the ratio says how gradcli compares with the least one could do in pure
Python.  Also times gradcli's phases in process (read, evaluate, write) at the same
size, and the floor of the write: ``repr`` of every number written, which the output
must match byte for byte (through orjson most numbers skip ``repr`` and ``float``).

Goals (issue 24): ≥ 10^6 rows/s end to end, and ≥ 5·10^5 on the plain install (whose
dependencies now include orjson).  ``--no-orjson`` hides orjson: the fallback's figures.

Where a fresh process's time goes besides the phases (measured 2026-12-05 on the 2-core
machine, 200,000 rows): the interpreter ~20 ms (~11 ms of it an editable install's import hook,
said in the header; an installed package has none, but then imports ~7 ms of what the hook
imported later itself: ~4 ms net), NumPy's import ~52 ms (and, before
--points kept BLAS to one thread, as much CPU again in the threads it started), gradcli's
other imports ~20 ms (~10 ms of them gradcli's own modules), the collection at exit ~8 ms
(skipped: `gc.freeze`) and the rest of the interpreter's teardown ~5 ms, and page
faults: every array or text the size of the file costs ~0.5 ms a megabyte the first time
it is touched, which is why the in-process phases (run again and again in one process)
are faster than the same work in a fresh one, and why the writer works in blocks.

    python benchmarks/points.py                 # 200,000 rows (the README's example), 5 runs
    python benchmarks/points.py --rows 1000000 -n 3
    python benchmarks/points.py --no-orjson     # as if orjson could not be imported
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
from _common import goal, header, mark, median_run_cpu, table  # noqa: E402
from startup import compile_package, find_gradcli, script_interpreter  # noqa: E402

PROGRAM = "(a+b)*(b+1)"
GOAL_ROWS_PER_SECOND = 1e6
GOAL_PLAIN_ROWS_PER_SECOND = 5e5  # the plain install (`pip install gradcli`, orjson included)

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


def phases(path: str, rows: int, runs: int) -> list[list[str]]:
    """In-process CPU seconds of read, evaluate, write (median of `runs`), and the
    floor of the write: ``repr`` of every number it writes."""
    import statistics

    import numpy as np

    from gradcli.run import batch

    spent: dict[str, list[float]] = {"read CSV": [], "evaluate": [], "write CSV": [], "repr of every number written": []}
    for _ in range(runs):
        t0 = time.process_time()
        names, data = batch.read_points(path)
        t1 = time.process_time()
        result = batch.evaluate_points(PROGRAM, names, data, {})
        t2 = time.process_time()
        batch.write_csv(result, io.TextIOWrapper(io.BytesIO(), encoding="utf-8"))  # as stdout: bytes underneath
        t3 = time.process_time()
        table_ = np.column_stack([data, result.value, *result.gradient.values()])
        t4 = time.process_time()
        for column in table_.T.tolist():
            list(map(repr, column))
        t5 = time.process_time()
        for label, dt in zip(spent, (t1 - t0, t2 - t1, t3 - t2, t5 - t4)):
            spent[label].append(dt)
    out = []
    for label, dts in spent.items():
        dt = statistics.median(dts)
        out.append([f"in process: {label}", "", f"{dt:.3f}", "", f"{rows / dt:,.0f}", "", ""])
    return out


def hide_orjson(tmp: str) -> dict:
    """An environment, and this process, in which ``import orjson`` fails (the fallback)."""
    folder = os.path.join(tmp, "hide")
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "orjson.py"), "w", encoding="utf-8") as fh:
        fh.write('raise ImportError("orjson hidden by benchmarks/points.py --plain")\n')
    sys.modules["orjson"] = None  # type: ignore[assignment]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [folder, os.environ.get("PYTHONPATH")]))}


def plain_install() -> bool:
    try:
        import orjson  # noqa: F401
    except ImportError:
        return True
    return False


def bytecode_cached(python: str) -> bool:
    """Whether `python` finds every gradcli module compiled (``__pycache__``) and no older
    than its source: where it does not (PYTHONDONTWRITEBYTECODE and no compiled files, or a
    module edited since), every run compiles those modules again, which adds milliseconds
    of start-up that an installed package does not pay."""
    code = ("import importlib.util as u, os, gradcli; root = os.path.dirname(gradcli.__file__); "
            "paths = [os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs if f.endswith('.py')]; "
            "print(all(os.path.exists(u.cache_from_source(p)) "
            "and os.path.getmtime(u.cache_from_source(p)) >= os.path.getmtime(p) for p in paths))")
    import subprocess

    done = subprocess.run([python, "-c", code], capture_output=True, text=True)
    return done.stdout.strip() == "True"


def editable_install(python: str) -> bool:
    """Whether `python` has gradcli as an editable install: setuptools' import hook
    (``__editable___gradcli_…_finder``, with pathlib and urllib.parse behind it) then loads
    at every start, which an installed package does not."""
    import subprocess

    code = "import sys; print(any(m.startswith('__editable__') and 'gradcli' in m for m in sys.modules))"
    return subprocess.run([python, "-c", code], capture_output=True, text=True).stdout.strip() == "True"


def run(args: argparse.Namespace) -> str:
    gradcli = find_gradcli(args.gradcli)
    python = script_interpreter(gradcli)
    compile_package(python)  # bytecode written, as an install writes it
    runs = 1 if args.quick else args.runs
    rows = args.rows
    with tempfile.TemporaryDirectory() as tmp:
        env = hide_orjson(tmp) if args.plain else None
        plain = plain_install()
        points = os.path.join(tmp, "points.csv")
        out = os.path.join(tmp, "out.csv")
        make_points(points, rows)
        sh = f'"$0" eval "{PROGRAM}" --points "$1" > "$2"'
        ref, ref_cpu, _ = median_run_cpu([python, "-c", REFERENCE, points, out], runs)
        med, cpu, status = median_run_cpu(["sh", "-c", sh, gradcli, points, out], runs, env)
        tiny = os.path.join(tmp, "tiny.csv")
        make_points(tiny, 1)
        start, start_cpu, _ = median_run_cpu(["sh", "-c", sh, gradcli, tiny, out], runs, env)
        one_thread = {**(env or os.environ), "OPENBLAS_NUM_THREADS": "1"}  # as --points runs it
        floor, floor_cpu, _ = median_run_cpu([python, "-c", "import numpy"], runs, one_thread)
        bare, bare_cpu, _ = median_run_cpu([python, "-c", "pass"], runs, env)
        lines, lines_cpu, lines_status = median_run_cpu(["sh", "-c", sh.replace(" > ", " --json > "), gradcli,
                                                         points, out], runs, env)
        table_rows = [
            ["Python csv round trip (reference)", f"{ref:.2f}", f"{ref_cpu:.2f}", f"{rows / ref:,.0f}",
             f"{rows / ref_cpu:,.0f}", "1.00", ""],
            [f"`gradcli eval \"{PROGRAM}\" --points`" + (f" (exit {status})" if status else ""),
             f"{med:.2f}", f"{cpu:.2f}", f"{rows / med:,.0f}", f"{rows / cpu:,.0f}", f"{ref / med:.2f}",
             "; ".join(f"≥ {target:,.0f}/s: "
                       + goal(f"`--points`, {rows:,} rows of `{PROGRAM}`, CSV in and out, end to end{what}",
                              f"{rows / med:,.0f} rows/s", f"≥ {target:,.0f} rows/s", rows / med >= target)
                       + f" (CPU: {mark(rows / cpu >= target)})"
                       for target, what in ((GOAL_ROWS_PER_SECOND, ""),
                                            (GOAL_PLAIN_ROWS_PER_SECOND, " (the plain install's goal)")))],
            ["the same with `--json` (JSON lines out)" + (f" (exit {lines_status})" if lines_status else ""),
             f"{lines:.2f}", f"{lines_cpu:.2f}", f"{rows / lines:,.0f}", f"{rows / lines_cpu:,.0f}",
             f"{ref / lines:.2f}", ""],
            ["the same on 1 row (start-up)", f"{start:.2f}", f"{start_cpu:.2f}", "", "", "", ""],
            ["`python -c \"import numpy\"`, one BLAS thread (start-up floor)", f"{floor:.2f}", f"{floor_cpu:.2f}", "", "", "", ""],
            ["`python -c pass` (the interpreter alone)", f"{bare:.2f}", f"{bare_cpu:.2f}", "", "", "", ""],
        ]
        if not args.no_phases:
            table_rows += phases(points, rows, runs)
    editable = editable_install(python)
    out_lines = [header("Batch points", python) if not args.no_header else "## Batch points\n"]
    out_lines.append(f"{rows:,} rows `a,b`, output to a file; median of {runs} runs; "
                     f"{'orjson hidden (the fallback)' if plain else 'with orjson (the plain install)'}. "
                     f"Goals (issue 24): ≥ {GOAL_ROWS_PER_SECOND:,.0f} rows/s end to end, "
                     f"≥ {GOAL_PLAIN_ROWS_PER_SECOND:,.0f} on the plain install. "
                     + ("gradcli's bytecode is cached." if bytecode_cached(python) else
                        "gradcli's bytecode is NOT cached or is stale (PYTHONDONTWRITEBYTECODE?): every run compiles "
                        "those modules; "
                        "`python -m compileall` the package for an installed package's figures.")
                     + (" gradcli is an editable install: its import hook is in every start (measured 2026-12-05: "
                        "an installed package's batch ran ~4 ms sooner)." if editable else "") + "\n")
    out_lines.append(table(["what", "wall s", "CPU s", "rows/s (wall)", "rows/s (CPU)", "speed × reference", "goal"],
                           table_rows, align="lrrrrrl"))
    return "\n".join(out_lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", type=int, default=200_000)
    p.add_argument("-n", "--runs", type=int, default=5)
    p.add_argument("--gradcli", help="path of the gradcli console script")
    p.add_argument("--no-phases", action="store_true", help="skip the in-process phase timings")
    p.add_argument("--no-orjson", "--plain", dest="plain", action="store_true",
                   help="hide orjson: the fallback's figures (--plain: its old name)")
    p.add_argument("--quick", action="store_true", help="1 run: a smoke test")
    p.add_argument("--no-header", action="store_true", help=argparse.SUPPRESS)
    print(run(p.parse_args(argv)))


if __name__ == "__main__":
    main()
