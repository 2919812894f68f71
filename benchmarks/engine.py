#!/usr/bin/env python3
"""Throughput of gradcli's pipeline on random scalar DAGs of 10^3 .. 10^6 nodes.

Per graph node, separately: parse, lower (graph building), Tape compile, forward,
forward+backward, and end to end in-process (program text -> JSON document: parse,
lower, forward, backward, `write_json` as `gradcli eval --json` writes).  Each phase is timed
with the garbage collector off (as the CLI runs) and the best of a few runs is kept.
The same DAG is then run on micrograd and on PyTorch scalar autograd when installed.

    python benchmarks/engine.py              # 10^3, 10^4, 10^5, 10^6 nodes
    python benchmarks/engine.py --quick      # 10^3 .. 10^5, one run each, no 10^6
    python benchmarks/engine.py --profile    # also cProfile end to end at 10^5
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import math
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import best_of, goal, header, mark, table  # noqa: E402
from dag import compile_for, depth, micrograd_ops, random_program, run_forward, torch_ops  # noqa: E402

from gradcli.cli.printing import echo  # noqa: E402
from gradcli.run.bindings import parse_argument  # noqa: E402
from gradcli.core.engine import Tape  # noqa: E402
from gradcli.run.evaluate import evaluate  # noqa: E402
from gradcli.language.lower import lower, lower_source  # noqa: E402
from gradcli.language.parser import parse  # noqa: E402
from gradcli.output.documents import write_json  # noqa: E402
from gradcli.run.reports import EvalReport  # noqa: E402

TARGET_FB_US = 1.0  # forward+backward µs/node at 10^5
TARGET_RATIO = 2.5  # (forward+backward)/forward
TARGET_E2E_US = 5.0  # end to end µs/node
TARGET_E2E_MICROGRAD = 1.0  # end to end at 10^5 nodes / micrograd's forward+backward on the same DAG
TARGET_EVALUATE_US = 2.5  # `evaluate` (text and bindings to gradient) µs/node at 10^5: its share of the above


def repeats(n: int, quick: bool) -> int:
    if quick:
        return 1
    return {1000: 20, 10_000: 7, 100_000: 3}.get(n, 1)


def end_to_end(source: str, env: dict[str, float], stages: list | None = None, nodes: bool = True) -> int:
    """Program text -> JSON document, as `gradcli eval --json` (`--no-nodes`) does in-process:
    the CLI's streamed writer (`write_json`), each piece written by the CLI's `echo` to stdout,
    here the null device.  The document's length in characters.

    What is timed is what the CLI does: it never holds the whole document (pieces collected and
    joined cost an 18 MB copy at 10^5 nodes, 0.1-0.2 µs a node, that the CLI does not make); the
    disk or terminal behind a real stdout is not gradcli's time."""
    with open(os.devnull, "w", encoding="utf-8") as null, contextlib.redirect_stdout(null):
        size = 0

        def write(text: str) -> None:  # the CLI's writer (gradcli/cli/evaluation.py), counting
            nonlocal size
            size += len(text)
            echo(text, nl=False, escape=False)

        t0 = time.perf_counter()
        bindings = {name: parse_argument(f"{name}={value!r}") for name, value in env.items()}
        ev = evaluate(source, bindings)
        t1 = time.perf_counter()
        write_json(EvalReport(evaluation=ev), write, with_nodes=nodes)
        t2 = time.perf_counter()
    if stages is not None:
        stages.append((t1 - t0, t2 - t1))
    return size


def measure_gradcli(n: int, quick: bool) -> dict:
    source, env = random_program(n)
    r = repeats(n, quick)
    budget = 10.0  # stop repeating a phase after this many seconds
    t_parse, program = best_of(lambda: parse(source), r, budget)
    t_lower, graph = best_of(lambda: lower(program), r, budget)  # noqa: F821 - called before the del
    t_compile, tape = best_of(lambda: Tape(graph), r, budget)
    del program
    t_text, _ = best_of(lambda: lower_source(source), r, budget)  # what evaluate runs: the fast lane
    # forward and backward timed in the same runs; the best run (by forward+backward) is kept
    runs = []
    cpu_ratios = []
    for _ in range(1 if quick else max(r, 7 if n <= 100_000 else 3)):
        gc.collect()
        gc.disable()
        try:
            c0, t0 = time.process_time(), time.perf_counter()
            values = tape.forward(env)
            c1, t1 = time.process_time(), time.perf_counter()
            adjoints = tape.backward(values)
            c2, t2 = time.process_time(), time.perf_counter()
        finally:
            gc.enable()
        runs.append((t2 - t0, t1 - t0))
        if c1 > c0:
            cpu_ratios.append((c2 - c0) / (c1 - c0))
    t_fb, t_fwd_in_best = min(runs)
    t_fwd = min(f for _, f in runs)
    median_ratio = statistics.median(fb / f for fb, f in runs)
    cpu_ratio = statistics.median(cpu_ratios) if cpu_ratios else math.nan
    stages: list = []
    t_e2e, doc = best_of(lambda: end_to_end(source, env, stages), r, budget)
    try:  # --no-nodes (gradcli versions before it have no with_nodes)
        t_lean, _ = best_of(lambda: end_to_end(source, env, nodes=False), r, budget)
    except TypeError:
        t_lean = math.nan
    nodes = len(graph.nodes)
    grad = {name: adjoints[graph.names[name]] for name in env}
    assert all(map(math.isfinite, grad.values())), "non-finite gradient"
    return {
        "n": n, "nodes": nodes, "depth": depth(graph), "chars": len(source), "json_bytes": doc,
        "parse": t_parse, "lower": t_lower, "text": t_text, "compile": t_compile, "forward": t_fwd, "fwd_bwd": t_fb,
        "ratio": t_fb / t_fwd_in_best, "median_ratio": median_ratio, "cpu_ratio": cpu_ratio,
        "fwd_in_best": t_fwd_in_best, "e2e": t_e2e, "lean": t_lean, "stages": min(stages, key=sum),
        "graph": graph, "env": env, "grad": grad, "value": values[graph.output],
    }


def measure_other(name: str, ops_factory, m: dict, quick: bool) -> dict:
    """The same DAG on another engine: forward (building its graph), backward."""
    graph, env = m["graph"], m["env"]
    ops, make = ops_factory()
    code = compile_for(graph, ops)
    r = repeats(m["n"], quick)  # as many runs as gradcli's end to end: best against best
    fwd, bwd = [], []
    err = None
    grads = {}
    for _ in range(r):
        gc.collect()
        gc.disable()
        try:
            t0 = time.perf_counter()
            values, leaves = run_forward(graph, code, make, env)
            t1 = time.perf_counter()
            out = values[graph.output]
            # micrograd sorts its graph by a recursive DFS: on a DAG thousands deep it needs a
            # higher recursion limit (CPython 3.11+ recurses in Python frames, not the C stack),
            # else whether it runs depends on its visiting order; depth.py shows it failing on chains
            limit = sys.getrecursionlimit()
            sys.setrecursionlimit(max(limit, 4 * m["nodes"] + 1000))
            try:
                out.backward()
            except RecursionError:
                err = "RecursionError"
                break
            finally:
                sys.setrecursionlimit(limit)
            t2 = time.perf_counter()
        finally:
            gc.enable()
        fwd.append(t1 - t0)
        bwd.append(t2 - t1)
        grads = {k: float(v.grad.item() if hasattr(v.grad, "item") else v.grad) for k, v in leaves.items()}
        del values, leaves, out
    gc.collect()
    res = {"engine": name, "n": m["n"], "nodes": m["nodes"], "depth": m["depth"], "error": err}
    if not err:
        res["forward"], res["backward"] = min(fwd), min(bwd)
        res["max_rel_err"] = max(abs(grads[k] - g) / max(abs(g), 1e-300) for k, g in m["grad"].items())
    return res


def available(module: str) -> bool:
    try:
        __import__(module)
        return True
    except ImportError:
        return False


def us(t: float, n: int) -> str:
    return f"{t / n * 1e6:.3f}"


def run(args: argparse.Namespace) -> str:
    sizes = [1000, 10_000, 100_000] + ([] if args.quick else [1_000_000])
    if args.sizes:
        sizes = [int(float(s)) for s in args.sizes.split(",")]
    others = []
    if not args.no_compare:
        for label, module, factory in (("micrograd", "micrograd.engine", micrograd_ops),
                                       ("PyTorch", "torch", torch_ops)):
            if available(module):
                others.append((label, factory))
    rows, cmp_rows, e2e_rows, results = [], [], [], []
    for n in sizes:
        print(f"engine.py: {n} nodes ...", file=sys.stderr, flush=True)
        m = measure_gradcli(n, args.quick)
        results.append(m)
        N = m["nodes"]
        rows.append([f"{N:,}", f"{m['depth']:,}", us(m["parse"], N), us(m["lower"], N), us(m["text"], N),
                     us(m["compile"], N),
                     us(m["forward"], N), us(m["fwd_bwd"], N), f"{m['ratio']:.2f}",
                     f"{m['median_ratio']:.2f}", f"{m['cpu_ratio']:.2f}",
                     us(m["e2e"], N), f"{m['e2e']:.2f}", f"{m['e2e'] / m['fwd_bwd']:.1f}",
                     us(m["lean"], N)])
        ev_t, json_t = m["stages"]
        e2e_rows.append([f"{N:,}", us(ev_t, N), us(json_t, N), us(sum(m["stages"]), N),
                         f"{m['json_bytes'] / 1e6:.1f}"])
        cmp_rows.append(["gradcli", f"{N:,}", us(m["fwd_in_best"], N), us(m["fwd_bwd"] - m["fwd_in_best"], N),
                         us(m["fwd_bwd"], N), "1.0", ""])
        if n <= args.compare_max:
            for label, factory in others:
                print(f"engine.py: {n} nodes on {label} ...", file=sys.stderr, flush=True)
                o = measure_other(label, factory, m, args.quick)
                if o["error"]:
                    cmp_rows.append([label, f"{N:,}", "", "", f"{o['error']} (graph depth {m['depth']:,})", "", ""])
                else:
                    fb = o["forward"] + o["backward"]
                    m[f"{label}_fb"] = fb
                    cmp_rows.append([label, f"{N:,}", us(o["forward"], N), us(o["backward"], N), us(fb, N),
                                     f"{fb / m['fwd_bwd']:.1f}", f"{o['max_rel_err']:.1e}"])
        del m["graph"]

    out = []
    out.append(header("Engine") if not args.no_header else "## Engine\n")
    out.append("Random DAG programs (statements such as `v12 = tanh(v3 + v7)`, 16 inputs, ops "
               "+ - * tanh sigmoid sin exp, operands shared at random; output = sum of the last results). "
               "Times are µs per graph node, best of several runs, garbage collector off; *parse* and *lower* "
               "are the general path (`parse`, `lower`), *text → graph* is `lower_source`, which `evaluate` runs "
               "(the fast lane of `gradcli.language.fastlane` where the program allows, else the general path); "
               "*(f+b)/f* is taken within the best forward+backward run; *(f+b)/f median* is the median over "
               "the runs of the same ratio in wall-clock time, *CPU median* in CPU time (`time.process_time`: "
               "robust on a machine shared with other work). "
               "*End to end* is program text to JSON document in-process "
               "(`evaluate` + `write_json`, the CLI's writer, each piece written by the CLI's `echo` to the null device); *e2e × f+b* is its ratio to the "
               "engine's own forward+backward in the same run; *e2e --no-nodes* is the same with "
               "`write_json(..., with_nodes=False)` (`--json --no-nodes`).\n")
    out.append(table(["nodes", "depth", "parse", "lower", "text → graph", "compile", "forward", "fwd+bwd", "(f+b)/f",
                      "(f+b)/f median", "(f+b)/f CPU median",
                      "end to end", "end to end s", "e2e × f+b", "e2e --no-nodes"], rows))
    out.append("\nEnd to end, by stage (µs/node, the best run): *evaluate* is bindings + parse + lower + "
               "Tape compile + forward + backward + kink scan; then *JSON*: `write_json`, the document "
               "as `gradcli eval --json` writes it (the node table from the graph's columns).\n")
    out.append(table(["nodes", "evaluate", "JSON", "total", "JSON MB"], e2e_rows))
    # targets
    at = next((m for m in results if m["n"] == 100_000), results[-1])
    worst_ratio = max(m["median_ratio"] for m in results)
    worst_cpu_ratio = max(m["cpu_ratio"] for m in results)
    worst_e2e = max(m["e2e"] / m["nodes"] for m in results)
    fb = at["fwd_bwd"] / at["nodes"] * 1e6
    out.append("")
    out.append(table(["target", "measured", "ok"], [
        [f"forward+backward ≤ {TARGET_FB_US:g} µs/node at {at['nodes']:,} nodes", f"{fb:.3f} µs",
         goal(f"forward+backward of a random {at['nodes']:,}-node DAG, µs a node", f"{fb:.3f} µs",
              f"≤ {TARGET_FB_US:g} µs", fb <= TARGET_FB_US)],
        [f"(forward+backward)/forward ≤ {TARGET_RATIO:g} (worst size, median of runs, wall)", f"{worst_ratio:.2f}",
         mark(worst_ratio <= TARGET_RATIO)],
        [f"(forward+backward)/forward ≤ {TARGET_RATIO:g} (worst size, median of runs, CPU)", f"{worst_cpu_ratio:.2f}",
         goal("(forward+backward)/forward, worst size of 10^3–10^6 nodes (CPU time)", f"{worst_cpu_ratio:.2f}",
              f"≤ {TARGET_RATIO:g}", worst_cpu_ratio <= TARGET_RATIO)],
        [f"evaluate (text → gradient) ≤ {TARGET_EVALUATE_US:g} µs/node at {at['nodes']:,} nodes",
         f"{at['stages'][0] / at['nodes'] * 1e6:.2f} µs", mark(at["stages"][0] / at["nodes"] * 1e6 <= TARGET_EVALUATE_US)],
        [f"end to end ≤ {TARGET_E2E_US:g} µs/node (worst size)", f"{worst_e2e * 1e6:.2f} µs", mark(worst_e2e * 1e6 <= TARGET_E2E_US)],
        [f"end to end ≤ {TARGET_E2E_MICROGRAD:g}× micrograd's forward+backward at {at['nodes']:,} nodes",
         f"{at['e2e'] / at['micrograd_fb']:.2f}×" if "micrograd_fb" in at else "micrograd not run",
         goal(f"end to end (text → JSON) at {at['nodes']:,} nodes, × micrograd's forward+backward",
              f"{at['e2e'] / at['micrograd_fb']:.2f}×" if "micrograd_fb" in at else "not measured (no micrograd)",
              f"≤ {TARGET_E2E_MICROGRAD:g}×",
              "micrograd_fb" in at and at["e2e"] / at["micrograd_fb"] <= TARGET_E2E_MICROGRAD)],
    ], align="lrl"))
    out.append("\n### The same DAG on other engines\n")
    missing = [name for name, module in (("micrograd", "micrograd.engine"), ("PyTorch", "torch")) if not available(module)]
    notes = []
    if missing:
        notes.append(f"Not installed, skipped: {', '.join(missing)}.")
    notes.append(f"Compared up to {args.compare_max:,} nodes. µs per gradcli node; forward on micrograd/PyTorch "
                 "builds their graph. micrograd has no tanh/sigmoid/sin/exp: they are added in its own style (one "
                 "closure per node), and its `a - b` is `a + b*(-1)` (2 extra nodes). micrograd's backward sorts the "
                 "graph by a recursive DFS, which at the default recursion limit fails once a DFS path passes about "
                 "1,000 nodes (always on a chain, see depth.py; on these DAGs depending on its visiting order): "
                 "here it runs with the limit raised, so its time is always measured. "
                 "Each engine's forward and backward are the best of as many runs as gradcli's end to end "
                 "at that size. "
                 "*× gradcli* compares forward+backward; *max rel. err* is the gradient's largest relative "
                 "difference from gradcli's.")
    out.append(" ".join(notes) + "\n")
    out.append(table(["engine", "nodes", "forward", "backward", "fwd+bwd", "× gradcli", "max rel. err"], cmp_rows))
    if args.profile:
        out.append(profile(min(max(sizes), 100_000)))
    return "\n".join(out) + "\n"


def profile(n: int) -> str:
    import cProfile
    import io
    import pstats

    source, env = random_program(n)
    gc.disable()
    pr = cProfile.Profile()
    pr.enable()
    end_to_end(source, env)
    pr.disable()
    gc.enable()
    buf = io.StringIO()
    pstats.Stats(pr, stream=buf).sort_stats("tottime").print_stats(15)
    return f"\n### cProfile, end to end at {n:,} nodes (top 15 by own time)\n\n```\n{buf.getvalue().strip()}\n```\n"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="10^3..10^5 nodes, one run each")
    p.add_argument("--sizes", help="comma-separated node counts, e.g. 1e3,1e5")
    p.add_argument("--compare-max", type=lambda s: int(float(s)), default=100_000,
                   help="largest size run on micrograd/PyTorch (default 1e5)")
    p.add_argument("--no-compare", action="store_true", help="skip micrograd and PyTorch")
    p.add_argument("--profile", action="store_true", help="append a cProfile of end to end")
    p.add_argument("--no-header", action="store_true", help=argparse.SUPPRESS)
    print(run(p.parse_args(argv)))


if __name__ == "__main__":
    main()
