"""MLP gradient through gradcli vs the same gradient written by hand in NumPy.

    python benchmarks/mlp.py [--n 512] [--batch 256] [--repeat 30] [--quick]

The network of the lecture notes with weight decay, over a batch of columns:

    a = W @ X;  h = sigmoid(a);  yhat = v @ h
    J = mean((yhat - y)^2) + lam * (sum(W^2) + sum(v^2))

gradcli runs its forward and backward passes over the parsed program (the program
is parsed and compiled once, outside the timing: that is per-program overhead, not
per-evaluation).  The hand-written version is the minimal NumPy code a person would
write for the same four gradients.  Goal (issues 3 and 24): gradcli within 1.2x.

The two run in alternation, so a machine loaded by other work slows both alike: the
ratio reported is the median of the per-round ratios, in wall-clock time and in CPU
time of this process (`time.process_time`, all its threads), beside the best times.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import goal, mark  # noqa: E402

from gradcli.run.bindings import Binding  # noqa: E402
from gradcli.run.evaluate import prepare, run  # noqa: E402

PROGRAM = "a = W @ X; h = sigmoid(a); yhat = v @ h; J = mean((yhat - y)^2) + lam * (sum(W^2) + sum(v^2))"


def by_hand(W, X, v, y, lam):
    a = W @ X
    e = np.exp(-np.abs(a))
    h = np.where(a >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
    yhat = v @ h
    r = yhat - y
    m = r.shape[0]
    J = np.mean(r * r) + lam * (np.sum(W * W) + np.sum(v * v))
    dyhat = 2.0 * r / m
    dv = h @ dyhat + 2.0 * lam * v
    da = np.outer(v, dyhat) * h * (1.0 - h)
    dW = da @ X.T + 2.0 * lam * W
    dX = W.T @ da
    return J, {"W": dW, "v": dv, "X": dX}


def rounds(fs: dict, repeat: int) -> dict:
    """Each function once per round, in turn, `repeat` rounds: {name: [(wall, cpu), ...]}."""
    times: dict = {name: [] for name in fs}
    for _ in range(repeat):
        for name, f in fs.items():
            c0, t0 = time.process_time(), time.perf_counter()
            f()
            times[name].append((time.perf_counter() - t0, time.process_time() - c0))
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=512)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--repeat", type=int, default=30)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--no-header", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.quick:
        args.n, args.batch, args.repeat = 64, 32, 3
    rng = np.random.default_rng(0)
    n, m = args.n, args.batch
    env = {
        "W": rng.normal(0, 1 / np.sqrt(n), (n, n)),
        "X": rng.normal(0, 1, (n, m)),
        "v": rng.normal(0, 1 / np.sqrt(n), n),
        "y": rng.normal(0, 1, m),
        "lam": 0.01,
    }
    bindings = {k: Binding(k, v, "", "benchmark") for k, v in env.items()}
    ev = prepare(PROGRAM, bindings, wrt=["W", "v", "X"])
    gc.disable()

    def gradcli_grad():
        run(ev)

    gradcli_grad()
    J_hand, g_hand = by_hand(env["W"], env["X"], env["v"], env["y"], env["lam"])
    assert abs(ev.value - J_hand) <= 1e-12 * max(1.0, abs(J_hand)), (ev.value, J_hand)
    for k in g_hand:
        assert np.allclose(ev.gradient[k], g_hand[k], rtol=1e-10, atol=1e-13), k
    W, X, v, y, lam = env["W"], env["X"], env["v"], env["y"], env["lam"]
    times = rounds({
        "hand": lambda: by_hand(W, X, v, y, lam),
        "engine": lambda: ev.tape.backward(ev.tape.forward(ev.env)),
        "gradcli": gradcli_grad,
    }, args.repeat)
    hand = times["hand"]

    def ratio(name: str, k: int) -> float:
        return statistics.median(t[k] / h[k] for t, h in zip(times[name], hand) if h[k] > 0)

    print("## MLP gradient\n")
    print(f"MLP gradient, W {n}x{n}, batch {m}: {args.repeat} rounds, hand-written and gradcli in turn; "
          f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs, "
          f"{datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}.\n")
    print("| implementation | best wall (ms) | median ratio, wall | median ratio, CPU | goal ≤ 1.2 |")
    print("|---|---:|---:|---:|:--|")
    print(f"| hand-written NumPy | {min(t for t, _ in hand) * 1e3:.2f} | 1.00 | 1.00 | |")
    for name, label in (("engine", "gradcli forward+backward (engine only)"),
                        ("gradcli", "gradcli evaluation (engine + kink and finiteness checks)")):
        wall, cpu = ratio(name, 0), ratio(name, 1)
        verdict = (goal(f"MLP {n}×{n}, batch {m}, × the same network by hand in NumPy", f"{wall:.2f}×", "≤ 1.2×",
                        wall <= 1.2) if name == "gradcli" else mark(wall <= 1.2))
        print(f"| {label} | {min(t for t, _ in times[name]) * 1e3:.2f} | {wall:.2f} | {cpu:.2f} | {verdict} |")


if __name__ == "__main__":
    main()
