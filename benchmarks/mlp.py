"""MLP gradient through gradcli vs the same gradient written by hand in NumPy.

    python benchmarks/mlp.py [--n 512] [--batch 256] [--repeat 20] [--quick]

The network of the lecture notes with weight decay, over a batch of columns:

    a = W @ X;  h = sigmoid(a);  yhat = v @ h
    J = mean((yhat - y)^2) + lam * (sum(W^2) + sum(v^2))

gradcli runs its forward and backward passes over the parsed program (the program
is parsed and compiled once, outside the timing: that is per-program overhead, not
per-evaluation).  The hand-written version is the minimal NumPy code a person would
write for the same four gradients.  Target (issue 3): gradcli within 1.2x.
"""

from __future__ import annotations

import argparse
import gc
import time

import numpy as np

from gradcli.run.bindings import Binding
from gradcli.run.evaluate import prepare, run

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


def best_of(f, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        f()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=512)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--quick", action="store_true")
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
    t_gradcli = best_of(gradcli_grad, args.repeat)
    t_hand = best_of(lambda: by_hand(env["W"], env["X"], env["v"], env["y"], env["lam"]), args.repeat)
    t_engine = best_of(lambda: ev.tape.backward(ev.tape.forward(ev.env)), args.repeat)
    print(f"MLP gradient, W {n}x{n}, batch {m} (best of {args.repeat}):")
    print("| implementation | time (ms) | ratio to hand-written NumPy |")
    print("|---|---:|---:|")
    print(f"| hand-written NumPy | {t_hand * 1e3:.2f} | 1.00 |")
    print(f"| gradcli forward+backward (engine only) | {t_engine * 1e3:.2f} | {t_engine / t_hand:.2f} |")
    print(f"| gradcli evaluation (engine + kink and finiteness checks) | {t_gradcli * 1e3:.2f} | "
          f"{t_gradcli / t_hand:.2f} |")
    print("target: within 1.2x of hand-written NumPy")


if __name__ == "__main__":
    main()
