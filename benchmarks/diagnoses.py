#!/usr/bin/env python3
"""Time to diagnose a wrong answer: every candidate mistake computed (the worst case).

For each ``samples/*.grad`` and each of its inputs, and for a generated deep MLP of
relu/sigmoid layers, the answer "truth + 0.123" (which no common mistake explains)
makes `gradcli.teach.mistakes` compute every group of candidates: the rule reruns
(ReLU masks, max routing, softmax, σ' at the wrong argument, a missing factor of the
chain) and the path, fan-out and factor candidates.  The table gives the best wall
time per question and how many candidates were tried (each is one reverse walk or
none).  A right answer costs nothing: candidates are computed only for wrong ones.

    python benchmarks/diagnoses.py            # best of 5
    python benchmarks/diagnoses.py --quick    # 1 run, for a smoke test
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import header, table  # noqa: E402

from gradcli.run.bindings import collect  # noqa: E402
from gradcli.run.evaluate import evaluate  # noqa: E402
from gradcli.teach import homework, mistakes  # noqa: E402

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
#: the budget per wrong answer the diagnoses are meant to stay under
GOAL_SECONDS = 0.25


def sample_bindings(path: Path) -> dict:
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#: bind "):
            return collect(line[len("#: bind "):].split(), [])
        if line.startswith("#: vars "):
            return collect([], [str(path.parent / line[len("#: vars "):].strip())])
    return {}


def deep_mlp(layers: int) -> tuple[str, dict]:
    """relu and sigmoid layers alternating, 8 units wide, a softmax cross-entropy on top."""
    import numpy as np

    rng = np.random.default_rng(0)
    lines, values, h = [], {"x": rng.normal(size=8)}, "x"
    for k in range(layers):
        act = "relu" if k % 2 == 0 else "sigmoid"
        lines.append(f"h{k} = {act}(W{k}@{h} + b{k})")
        values[f"W{k}"] = rng.normal(size=(8, 8)) / 3
        values[f"b{k}"] = rng.normal(size=8) / 10
        h = f"h{k}"
    lines.append(f"p = softmax({h}); L = -sum(y*log(p))")
    values["y"] = np.eye(8)[3]
    from gradcli.run.bindings import Binding

    return "; ".join(lines), {k: Binding(k, v, "", "benchmark") for k, v in values.items()}


def time_question(ev, name: str, repeat: int) -> tuple[float, int]:
    node = homework.adjoint_node(ev, name, "benchmark")
    truth = ev.adjoints[node]
    best, count = float("inf"), 0
    for _ in range(repeat):
        start = time.perf_counter()
        candidates = mistakes.mistakes(ev, node)
        found = mistakes.diagnose(candidates, truth + 0.123, truth, lambda a, t: homework.close(a, t, 1e-4, 1e-8))
        best = min(best, time.perf_counter() - start)
        count = len(candidates._found)
        assert found is None
    return best, count


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="one run of each")
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args()
    repeat = 1 if args.quick else args.repeat
    programs = []
    for path in sorted(SAMPLES.glob("*.grad")):
        programs.append((path.stem, path.read_text(encoding="utf-8"), sample_bindings(path)))
    for layers in (4, 16):
        source, bindings = deep_mlp(layers)
        programs.append((f"mlp of {layers} layers", source, bindings))
    rows, worst = [], 0.0
    for label, source, bindings in programs:
        ev = evaluate(source, bindings)
        if not ev.has_gradient:
            continue
        for name in ev.wrt:
            seconds, count = time_question(ev, name, repeat)
            worst = max(worst, seconds)
            rows.append((label, name, len(ev.graph.nodes), count, f"{seconds * 1000:.1f} ms"))
    print(header("Diagnosing a wrong answer (every candidate computed)"))
    print(table(["program", "question", "nodes", "candidates", "time"], rows, "llrrr"))
    print(f"\nslowest: {worst * 1000:.1f} ms (goal ≤ {GOAL_SECONDS * 1000:.0f} ms per wrong answer)")


if __name__ == "__main__":
    main()
