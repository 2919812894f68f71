#!/usr/bin/env python3
"""Deep programs: gradcli parses, evaluates and differentiates without recursion.

Cases (each run in a fresh process, so its peak memory is its own):

* ``statements`` -- a chain of 10^6 statements ``x1 = sin(x0)``, ``x2 = sin(x1)``, ...
* ``sum``        -- one expression of 10^6 additions ``x + x + ... + x`` (a chain 10^6 deep)
* ``parens``     -- 10^5 nested parentheses ``(x + (x + (... (x) ...)))``
* ``calls``      -- 10^5 nested calls ``sin(sin(... sin(x) ...))``

Each is parsed, lowered, evaluated and differentiated in-process, and its gradient is
compared with the exact one.  The two largest also go through the ``gradcli`` command
(``-f FILE``, table and ``--json`` output to /dev/null).  Then micrograd, if installed,
is shown failing on a chain about 1,000 deep (its backward sorts the graph recursively).

    python benchmarks/depth.py            # 10^6-long chains, 10^5-deep nesting
    python benchmarks/depth.py --quick    # 10^5 and 10^4
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import goal, header, table  # noqa: E402

X = 0.5
#: issue 24's goal: peak memory of `gradcli eval -f FILE --json` on the 10^6-statement chain
TARGET_PEAK_MIB = 400


def build(case: str, n: int) -> tuple[str, float, str]:
    """(program text, exact gradient, description)."""
    if case == "statements":
        lines = [f"x{k + 1} = sin(x{k})" for k in range(n)]
        grad, v = 1.0, X
        for _ in range(n):
            grad *= math.cos(v)
            v = math.sin(v)
        return "\n".join(lines) + "\n", grad, f"{n:,} statements `x{{k+1}} = sin(x{{k}})`"
    if case == "sum":
        return " + ".join(["x"] * (n + 1)), float(n + 1), f"`x + x + … + x`, {n:,} additions in one expression"
    if case == "parens":
        return "(x + " * n + "x" + ")" * n, float(n + 1), f"{n:,} nested parentheses `(x + (x + (… x …)))`"
    if case == "calls":
        grad, v = 1.0, X
        for _ in range(n):
            grad *= math.cos(v)
            v = math.sin(v)
        return "sin(" * n + "x" + ")" * n, grad, f"{n:,} nested calls `sin(sin(… sin(x) …))`"
    raise ValueError(case)


def input_name(case: str) -> str:
    return "x0" if case == "statements" else "x"


def maxrss_mib(ru_maxrss: int) -> float:
    # kilobytes on Linux, bytes on macOS
    return ru_maxrss / (1024 * 1024 if sys.platform == "darwin" else 1024)


def child(case: str, n: int) -> None:
    """Run one case in this process and print a JSON result line."""
    from gradcli.core.engine import Tape
    from gradcli.language.lower import lower
    from gradcli.language.parser import parse

    gc.disable()  # as the CLI does
    base = maxrss_mib(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    source, exact, what = build(case, n)
    name = input_name(case)
    t0 = time.perf_counter()
    program = parse(source)
    t1 = time.perf_counter()
    graph = lower(program)
    t2 = time.perf_counter()
    tape = Tape(graph)
    values = tape.forward({name: X})
    t3 = time.perf_counter()
    adjoints = tape.backward(values)
    t4 = time.perf_counter()
    grad = adjoints[graph.names[name]]
    peak = maxrss_mib(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    print(json.dumps({
        "case": case, "what": what, "n": n, "chars": len(source), "nodes": len(graph.nodes),
        "parse": t1 - t0, "lower": t2 - t1, "forward": t3 - t2, "backward": t4 - t3,
        "value": values[graph.output], "grad": grad, "exact": exact,
        "rel_err": abs(grad - exact) / abs(exact), "base_mib": base, "peak_mib": peak,
    }))


def run_child(case: str, n: int) -> dict:
    proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--case", case, "-n", str(n)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        return {"case": case, "n": n, "error": (proc.stderr.strip().splitlines() or ["?"])[-1]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_cli(gradcli: str, path: str, name: str, extra: list[str]) -> tuple[float, float, int]:
    """(wall seconds, peak MiB of that process, exit status); output to /dev/null."""
    with open(os.devnull, "wb") as devnull, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        # a 10^6-statement program is near the CLI's default 24 MB program limit
        env = {**os.environ, "GRADCLI_MAX_PROGRAM_BYTES": str(100_000_000)}
        proc = subprocess.Popen([gradcli, "eval", "-f", path, f"{name}={X}", *extra],
                                stdout=devnull, stderr=err, env=env)
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own rusage
        dt = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode:
            err.seek(0)
            sys.stderr.write(err.read().decode("utf-8", "replace")[-2000:])
    return dt, maxrss_mib(usage.ru_maxrss), proc.returncode


def micrograd_limit(limit: int = 20_000) -> tuple[int | None, str]:
    """The longest chain v = v + x whose backward micrograd survives, and the error after it."""
    try:
        from micrograd.engine import Value
    except ImportError:
        return None, "not installed"

    def ok(n: int) -> tuple[bool, str]:
        x = Value(X)
        v = x
        for _ in range(n):
            v = v + x
        try:
            v.backward()
        except RecursionError as exc:
            return False, f"{type(exc).__name__}: {exc}"
        finally:
            gc.collect()
        return x.grad == n + 1, ""

    lo, hi = 1, limit  # ok(lo) holds; find the first failure
    good, err = ok(hi)
    if good:
        return hi, f"no failure up to {limit:,}"
    while hi - lo > 1:
        mid = (lo + hi) // 2
        good, e = ok(mid)
        if good:
            lo = mid
        else:
            hi, err = mid, e
    return lo, err


def find_gradcli(explicit: str | None) -> str | None:
    if explicit:
        return explicit
    here = os.path.join(os.path.dirname(sys.executable), "gradcli")
    if os.path.isfile(here) and os.access(here, os.X_OK):
        return here
    return shutil.which("gradcli")


def run(args: argparse.Namespace) -> str:
    long_n, deep_n = (100_000, 10_000) if args.quick else (1_000_000, 100_000)
    cases = [("statements", long_n), ("sum", long_n), ("parens", deep_n), ("calls", deep_n)]
    rows = []
    results = []
    for case, n in cases:
        print(f"depth.py: {case} {n} ...", file=sys.stderr, flush=True)
        r = run_child(case, n)
        results.append(r)
        if "error" in r:
            rows.append([case, f"{n:,}", "", "", "", "", "", "", f"failed: {r['error']}", ""])
            continue
        total = r["parse"] + r["lower"] + r["forward"] + r["backward"]
        rows.append([r["what"], f"{r['nodes']:,}", f"{r['parse']:.2f}", f"{r['lower']:.2f}",
                     f"{r['forward']:.2f}", f"{r['backward']:.2f}", f"{total:.2f}",
                     f"{r['peak_mib']:.0f} ({r['peak_mib'] - r['base_mib']:+.0f})",
                     f"{r['grad']:.10g}", "✓" if r["rel_err"] < 1e-9 else f"✗ {r['rel_err']:.1e}"])

    out = [header("Depth") if not args.no_header else "## Depth\n"]
    out.append("Each case in a fresh process, garbage collector off: seconds per phase "
               "(*forward* includes the Tape compile), peak RSS (`ru_maxrss`, MiB; in brackets, above the "
               f"process before the program was built), and ∂out/∂x at x = {X} against the exact value.\n")
    out.append(table(["program", "nodes", "parse s", "lower s", "forward s", "backward s", "total s",
                      "peak MiB", "gradient", "= exact"], rows, align="lrrrrrrrrl"))

    gradcli = find_gradcli(args.gradcli)
    if gradcli and not args.no_cli:
        cli_rows = []
        with tempfile.TemporaryDirectory() as tmp:
            for case, n in (("statements", long_n), ("parens", deep_n)):
                source, _, what = build(case, n)
                path = os.path.join(tmp, f"{case}.txt")
                with open(path, "w", encoding="utf-8") as fh:
                    fh.write(source)
                for label, extra in (("table", []), ("--json", ["--json"])):
                    print(f"depth.py: gradcli eval -f {case} {label} ...", file=sys.stderr, flush=True)
                    dt, peak, status = run_cli(gradcli, path, input_name(case), extra)
                    if case == "statements" and label == "--json":
                        chain_peak = (n, peak, status)
                    cli_rows.append([what, f"`{label}`", f"{dt:.2f}", f"{peak:.0f}",
                                     "0" if status == 0 else f"{status} ✗"])
        out.append(f"\nThe same through the command: `gradcli eval -f FILE NAME={X}` "
                   "(table: nodes shown head and tail; JSON: every node), output to /dev/null.\n")
        out.append(table(["program", "output", "wall s", "peak MiB", "exit"], cli_rows, align="llrrr"))
        n, peak, status = chain_peak
        ok = status == 0 and peak <= TARGET_PEAK_MIB and n >= 1_000_000
        out.append("\n" + table(["target", "measured", "ok"], [
            [f"`--json` on the {n:,}-statement chain: peak ≤ {TARGET_PEAK_MIB} MiB", f"{peak:.0f} MiB ({peak * 2**20 / n:.0f} B a statement)",
             goal(f"peak memory of `eval -f FILE --json` on the {n:,}-statement chain", f"{peak:.0f} MiB",
                  f"≤ {TARGET_PEAK_MIB} MiB", ok) if n >= 1_000_000 else "(--quick: 10^6 not run)"],
        ], align="lrl"))

    good, err = micrograd_limit()
    out.append("\n### micrograd on a chain `v = v + x`\n")
    if good is None:
        out.append("micrograd is not installed: skipped.")
    else:
        out.append(f"Longest chain whose `backward()` works at the default recursion limit "
                   f"({sys.getrecursionlimit()}): **{good:,}** additions; one more: `{err}`. "
                   f"gradcli: {long_n:,} above.")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="10^5-long chains and 10^4-deep nesting")
    p.add_argument("--gradcli", help="path of the gradcli console script (default: found on PATH)")
    p.add_argument("--no-cli", action="store_true", help="skip the runs through the gradcli command")
    p.add_argument("--no-header", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--case", help=argparse.SUPPRESS)
    p.add_argument("-n", type=int, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.case:
        child(a.case, a.n)
        return
    print(run(a))


if __name__ == "__main__":
    main()
