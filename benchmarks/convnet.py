"""CS231n's three-layer convnet: gradcli's tensor kernels vs the same network by hand in NumPy.

    python benchmarks/convnet.py [--repeat 10] [--quick]

The network (CS231n assignment 2, ``ThreeLayerConvNet``), on a batch of N = 50 images 3×32×32:

    conv 32 filters 7×7, stride 1, pad 3 (+ bias) - relu - 2×2 max pool, stride 2
    - affine to hidden 100 - relu - affine to 10 classes - softmax loss (mean over the batch)

and its gradient with respect to the six parameters (W1, b1, W2, b2, W3, b3) and the images x
(CS231n's ``conv_backward_fast`` returns dx as well, by col2im; gradcli's engine computes the
gradient of every input it is given).

- **hand-written NumPy**: the reference a person writes, im2col as one matrix product of the
  (C·KH·KW, N·H′·W′) column matrix, col2im by one strided add per kernel offset, and the
  "fast" max pool by reshape (non-overlapping 2×2 windows) with its mask backward; dx by col2im.
- **gradcli engine**: the network as a gradcli program (`PROGRAM`, the labels as one-hot rows Y
  until ``softmax_loss(s, y)`` lands), its forward and backward passes (the tape the program
  is parsed into once), gradients with respect to the six parameters and x.
- **tensor kernels**: the same network written with gradcli/backends/tensor_kernels.py
  exactly as the engine's rows call them (conv2d, conv2d_grad_w, maxpool2d,
  maxpool2d_grad, pick, pick_grad); the small matrix steps in plain NumPy: what the engine
  costs without its own bookkeeping.

The two run in alternation (a loaded machine slows both alike); the ratio is the median of
the per-round ratios, in wall-clock and CPU time, beside the best times.  Goal (issue 23):
≤ 1.5× the hand-written NumPy.
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import sys
import time

import numpy as np
from numpy.lib.stride_tricks import as_strided

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import goal  # noqa: E402

from gradcli.backends import tensor_kernels as K  # noqa: E402
from gradcli.run.bindings import Binding  # noqa: E402
from gradcli.run.evaluate import prepare  # noqa: E402

PARAMETERS = ["W1", "b1", "W2", "b2", "W3", "b3", "x"]

GOAL = 1.5

#: the network as gradcli writes it (b1 is bound as F×1×1: a rank-3 reshape of a vector is
#: issue 23's other slice; Y holds the labels one-hot)
PROGRAM = """
a1 = conv2d(x, W1, 1, 3) + b1
r1 = relu(a1)
p1 = maxpool2d(r1, 2)
f = reshape(p1, N, -1)
a2 = f @ W2 + b2
r2 = relu(a2)
s = r2 @ W3 + b3
L = -mean(sum(Y * log_softmax(s, 1), 1))
"""


# ---- by hand ------------------------------------------------------------------------------------

def im2col(xp, kh, kw, ho, wo):
    """(C·KH·KW, N·H′·W′): one column per output position (stride 1)."""
    n, c = xp.shape[:2]
    sn, sc, sh, sw = xp.strides
    win = as_strided(xp, (c, kh, kw, n, ho, wo), (sc, sh, sw, sn, sh, sw))
    return win.reshape(c * kh * kw, n * ho * wo)


def col2im(cols, shape, kh, kw, ho, wo):
    n, c = shape[:2]
    cols = cols.reshape(c, kh, kw, n, ho, wo)
    out = np.zeros(shape)
    for p in range(kh):
        for q in range(kw):
            out[:, :, p:p + ho, q:q + wo] += cols[:, p, q].transpose(1, 0, 2, 3)
    return out


def by_hand(x, y, W1, b1, W2, b2, W3, b3):
    n, c, h, w = x.shape
    f, _, kh, kw = W1.shape
    pad = (kh - 1) // 2
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    cols = im2col(xp, kh, kw, h, w)
    a1 = (W1.reshape(f, -1) @ cols).reshape(f, n, h, w).transpose(1, 0, 2, 3) + b1.reshape(1, f, 1, 1)
    r1 = np.maximum(a1, 0)
    blocks = r1.reshape(n, f, h // 2, 2, w // 2, 2)
    p1 = blocks.max(axis=(3, 5))
    flat = p1.reshape(n, -1)
    a2 = flat @ W2 + b2
    r2 = np.maximum(a2, 0)
    s = r2 @ W3 + b3
    shifted = s - s.max(axis=1, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -logp[np.arange(n), y].mean()
    ds = np.exp(logp)
    ds[np.arange(n), y] -= 1
    ds /= n
    dW3, db3 = r2.T @ ds, ds.sum(axis=0)
    da2 = (ds @ W3.T) * (a2 > 0)
    dW2, db2 = flat.T @ da2, da2.sum(axis=0)
    dp1 = (da2 @ W2.T).reshape(p1.shape)
    mask = blocks == p1[:, :, :, None, :, None]
    dr1 = (mask * dp1[:, :, :, None, :, None]).reshape(r1.shape)
    da1 = dr1 * (a1 > 0)
    db1 = da1.sum(axis=(0, 2, 3))
    dout = da1.transpose(1, 0, 2, 3).reshape(f, -1)
    dW1 = (dout @ cols.T).reshape(W1.shape)
    dx = col2im(W1.reshape(f, -1).T @ dout, xp.shape, kh, kw, h, w)[:, :, pad:pad + h, pad:pad + w]
    return loss, {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2, "W3": dW3, "b3": db3, "x": dx}


# ---- with the kernels (as the engine's rows will call them) -----------------------------------

def with_kernels(x, y, W1, b1, W2, b2, W3, b3):
    n = x.shape[0]
    f = W1.shape[0]
    pad = (W1.shape[2] - 1) // 2
    a1 = K.conv2d(x, W1, 1, pad) + b1.reshape(f, 1, 1)
    r1 = np.maximum(a1, 0)
    p1 = K.maxpool2d(r1, 2)
    flat = p1.reshape(n, -1)
    a2 = flat @ W2 + b2
    r2 = np.maximum(a2, 0)
    s = r2 @ W3 + b3
    shifted = s - s.max(axis=1, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -K.pick(logp, y).mean()
    dlogp = K.pick_grad(np.full(n, -1.0 / n), logp, y)
    ds = dlogp - np.exp(logp) * dlogp.sum(axis=1, keepdims=True)
    dW3, db3 = r2.T @ ds, ds.sum(axis=0)
    da2 = (ds @ W3.T) * (a2 > 0)
    dW2, db2 = flat.T @ da2, da2.sum(axis=0)
    dp1 = (da2 @ W2.T).reshape(p1.shape)
    da1 = K.maxpool2d_grad(dp1, r1, 2) * (a1 > 0)
    db1 = da1.sum(axis=(0, 2, 3))
    dW1 = K.conv2d_grad_w(da1, x, W1, 1, pad)
    dx = K.conv2d_grad_x(da1, x, W1, 1, pad)
    return loss, {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2, "W3": dW3, "b3": db3, "x": dx}


def problem(n: int, rng) -> tuple:
    C, H, W, F, KS, HID, CLS = 3, 32, 32, 32, 7, 100, 10
    scale = 1e-2  # CS231n's weight_scale 1e-3 makes every gradient tiny; 1e-2 keeps them O(1e-3)
    return (rng.normal(size=(n, C, H, W)), rng.integers(0, CLS, n).astype(float),
            scale * rng.normal(size=(F, C, KS, KS)), np.zeros(F),
            scale * rng.normal(size=(F * H // 2 * W // 2, HID)), np.zeros(HID),
            scale * rng.normal(size=(HID, CLS)), np.zeros(CLS))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=50, help="images in the batch (CS231n: 50)")
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--no-header", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.quick:
        args.n, args.repeat = 4, 2
    args_ = problem(args.n, np.random.default_rng(0))
    labels = args_[1].astype(int)
    hand_args = (args_[0], labels, *args_[2:])
    loss_h, grads_h = by_hand(*hand_args)
    loss_k, grads_k = with_kernels(*args_)
    assert abs(loss_h - loss_k) <= 1e-12 * abs(loss_h), (loss_h, loss_k)
    for name, g in grads_h.items():
        np.testing.assert_allclose(grads_k[name], g, rtol=1e-9, atol=1e-14, err_msg=name)
    x, _, W1, b1, W2, b2, W3, b3 = args_
    env = {"x": x, "Y": np.eye(10)[labels], "W1": W1, "b1": b1.reshape(-1, 1, 1), "W2": W2, "b2": b2, "W3": W3,
           "b3": b3}
    ev = prepare(PROGRAM.replace("N, -1", f"{args.n}, -1"),
                 {k: Binding(k, v, "", "benchmark") for k, v in env.items()}, wrt=PARAMETERS)
    tape = ev.tape

    def engine():
        values = tape.forward(ev.env)
        return values, tape.backward(values)

    values, adjoints = engine()
    graph = ev.graph
    assert abs(values[graph.output] - loss_h) <= 1e-12 * abs(loss_h), (values[graph.output], loss_h)
    for name, g in grads_h.items():
        got = np.reshape(adjoints[graph.names[name]], np.shape(g))
        np.testing.assert_allclose(got, g, rtol=1e-9, atol=1e-14, err_msg=name)
    fs = {"hand": lambda: by_hand(*hand_args), "engine": engine, "kernels": lambda: with_kernels(*args_)}
    times: dict = {name: [] for name in fs}
    for _ in range(args.repeat):
        for name, fn in fs.items():
            c0, t0 = time.process_time(), time.perf_counter()
            fn()
            times[name].append((time.perf_counter() - t0, time.process_time() - c0))

    def ratio(name: str, k: int) -> float:
        return statistics.median(t[k] / h[k] for t, h in zip(times[name], times["hand"]) if h[k] > 0)

    print("## Three-layer convnet gradient\n")
    print(f"CS231n's three-layer convnet, N = {args.n}, 3×32×32, 32 filters 7×7 (pad 3), 2×2 max pool, "
          f"hidden 100, 10 classes; loss and the gradients of the six parameters and x; {args.repeat} rounds in turn; "
          f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs, "
          f"{datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}.\n")
    print(f"| implementation | best wall (ms) | median ratio, wall | median ratio, CPU | goal ≤ {GOAL} |")
    print("|---|---:|---:|---:|:--|")
    print(f"| hand-written NumPy (im2col) | {min(t for t, _ in times['hand']) * 1e3:.1f} | 1.00 | 1.00 | |")
    for name, label in (("engine", "gradcli forward+backward (engine)"),
                        ("kernels", "gradcli tensor kernels alone")):
        wall, cpu = ratio(name, 0), ratio(name, 1)
        print(f"| {label} | {min(t for t, _ in times[name]) * 1e3:.1f} | {wall:.2f} | {cpu:.2f} | "
              f"{goal('CS231n three-layer convnet, × by hand in NumPy with im2col', f'{wall:.2f}×', f'≤ {GOAL:g}×', wall <= GOAL) if name == 'engine' else ''} |")


if __name__ == "__main__":
    main()
