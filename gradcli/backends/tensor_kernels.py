"""Tensor kernels for the deep-learning ops (issue 23): convolution, pooling, axis extremes,
row gathers and per-row picks, each with its shape rule and its gradient.

The op rows in core/ops.py call these; each row is then one line per partial.  Everything is
vectorised NumPy: a convolution is one matrix product with the column matrix of its windows
(im2col: one copy of a `numpy.lib.stride_tricks.as_strided` view), and the scatters back into
an input (col2im, pooling's routing) loop over the k·k offsets of the kernel, never over
elements.  Only the array path imports this module.

Conventions, as CS231n's ``conv_forward_naive`` and PyTorch:

- ``conv2d`` is a cross-correlation: ``y[n,f,i,j] = Σ_{c,p,q} x̃[n,c,i·s+p,j·s+q] w[f,c,p,q]``
  where x̃ is x zero-padded by `pad` on each side of H and W.  Its input gradient is the full
  cross-correlation of ḡ with the flipped kernel (a full convolution of ḡ with w), its weight
  gradient the cross-correlation of x̃ with ḡ, summed over the batch.
- Windows must tile exactly: ``(H + 2·pad − KH)`` must be a multiple of the stride (for pooling
  ``H − k``), else a ValueError; PyTorch would silently drop the last rows and columns.
- Max pooling routes each window's gradient to its first maximum in row-major order within
  the window, as PyTorch's max_pool2d (its CPU and CUDA kernels keep the first element that
  is strictly larger than the running maximum).  `maxpool2d_ties` says whether any window
  has a tie, a kink.
- ``amax``/``amin`` share the gradient evenly among tied extremes, as today's amax row and
  PyTorch's ``torch.amax``.
- Integer arguments (indices, labels) arrive as float64 arrays from the bindings; a value
  that is not a whole number, or is out of range, is a ValueError naming it.

How the rows will call them (``p`` the row's parameters, ``g`` the output's adjoint):

==========  ===========================  ====================================  =====================
op          forward / shape              VJP per argument                      kink
==========  ===========================  ====================================  =====================
conv2d      conv2d(x, w, s, pad),        conv2d_grad_x(g, x, w, s, pad),       none (linear in each)
            conv2d_shape                 conv2d_grad_w(g, x, w, s, pad)
conv1d      conv1d, conv1d_shape         conv1d_grad_x, conv1d_grad_w          none
maxpool2d   maxpool2d(x, k, s),          maxpool2d_grad(g, x, k, s)            maxpool2d_ties
            maxpool2d_shape
avgpool2d   avgpool2d, avgpool2d_shape   avgpool2d_grad(g, x, k, s)            none
amax, amin  amax(x, axis), amax_shape    amax_grad(g, x, axis) (amin_...)      amax_ties (amin_...)
x[idx]      gather_rows(x, idx),         scatter_add_rows(g, x.shape, idx);    none
            gather_rows_shape            idx is data: no partial
pick        pick(S, y), pick_shape       pick_grad(g, S, y); y: none           none
onehot      onehot(y, C), onehot_shape   none (y is data)                      none
==========  ===========================  ====================================  =====================

Every function raises ValueError with a sentence naming the shapes; the engine turns that
into a ShapeError or MathError for the node.  `check_elements` refuses a tensor (or an
intermediate such as the im2col matrix) over `MAX_KERNEL_ELEMENTS`.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ..core.windows import (MAX_KERNEL_ELEMENTS, _conv_dims, _dims, _pool_dims, _whole, avgpool2d_shape,  # noqa: F401
                            check_elements, conv1d_shape, conv2d_shape, maxpool2d_shape, pool2d_shape)

# ---- helpers (the shape rules and the element limit are in gradcli.core.windows) ---------------

def _windows(xp: np.ndarray, kh: int, kw: int, stride: int, ho: int, wo: int) -> np.ndarray:
    """The (N, C, H', W', KH, KW) view of every window of the (N, C, H, W) array `xp` (no copy)."""
    sn, sc, sh, sw = xp.strides
    return as_strided(xp, shape=(xp.shape[0], xp.shape[1], ho, wo, kh, kw),
                      strides=(sn, sc, sh * stride, sw * stride, sh, sw), writeable=False)


def _im2col(xp: np.ndarray, kh: int, kw: int, stride: int, ho: int, wo: int) -> np.ndarray:
    """The (C·KH·KW, N·H'·W') column matrix of the (N, C, H, W) array `xp`: row (c, p, q) holds
    x̃[n, c, i·s + p, j·s + q] for every output position (n, i, j).  One copy, from a strided view."""
    n, c = xp.shape[:2]
    sn, sc, sh, sw = xp.strides
    view = as_strided(xp, shape=(c, kh, kw, n, ho, wo), strides=(sc, sh, sw, sn, sh * stride, sw * stride),
                      writeable=False)
    return view.reshape(c * kh * kw, n * ho * wo)


def _pad2(x: np.ndarray, ph: int, pw: int) -> np.ndarray:
    if ph == 0 and pw == 0:
        return np.ascontiguousarray(x, dtype=float)
    return np.pad(np.asarray(x, dtype=float), ((0, 0), (0, 0), (ph, ph), (pw, pw)))


# ---- convolution ------------------------------------------------------------------------------

def _conv_setup(x, w, stride, pad, rank: int):
    name = "conv2d" if rank == 2 else "conv1d"
    x, w = np.asarray(x, dtype=float), np.asarray(w, dtype=float)
    pads = (pad, pad) if rank == 2 else (0, pad)
    batched, s, (ph, pw), x4, w4, (ho, wo) = _conv_dims(x.shape, w.shape, stride, pads, name, rank)
    xp = _pad2(x.reshape(x4), ph, pw)
    return batched, s, (ph, pw), xp, w.reshape(w4), (ho, wo)


def _conv_forward(x, w, stride, pad, rank: int) -> np.ndarray:
    batched, s, _, xp, w4, (ho, wo) = _conv_setup(x, w, stride, pad, rank)
    f, c, kh, kw = w4.shape
    cols = _im2col(xp, kh, kw, s, ho, wo)
    y = (w4.reshape(f, c * kh * kw) @ cols).reshape(f, xp.shape[0], ho, wo).transpose(1, 0, 2, 3)
    if rank == 1:
        y = y[:, :, 0, :]
    return y if batched else y[0]


def _g_matrix(g, n: int, f: int, ho: int, wo: int) -> np.ndarray:
    """ḡ (N, F, H', W') as the (F, N·H'·W') matrix that meets the column matrix."""
    return np.asarray(g, dtype=float).reshape(n, f, ho, wo).transpose(1, 0, 2, 3).reshape(f, n * ho * wo)


def _conv_grad_x(g, x, w, stride, pad, rank: int) -> np.ndarray:
    batched, s, (ph, pw), xp, w4, (ho, wo) = _conv_setup(x, w, stride, pad, rank)
    f, c, kh, kw = w4.shape
    n = xp.shape[0]
    # each window's share ḡ·w, as a column matrix (C, KH, KW, N, H', W'), then col2im
    cols = (w4.reshape(f, c * kh * kw).T @ _g_matrix(g, n, f, ho, wo)).reshape(c, kh, kw, n, ho, wo)
    dxp = np.zeros(xp.shape)
    for p in range(kh):
        for q in range(kw):
            dxp[:, :, p:p + s * ho:s, q:q + s * wo:s] += cols[:, p, q].transpose(1, 0, 2, 3)
    dx = dxp[:, :, ph:xp.shape[2] - ph, pw:xp.shape[3] - pw]
    return np.ascontiguousarray(dx).reshape(np.shape(x))


def _conv_grad_w(g, x, w, stride, pad, rank: int) -> np.ndarray:
    batched, s, _, xp, w4, (ho, wo) = _conv_setup(x, w, stride, pad, rank)
    f, c, kh, kw = w4.shape
    cols = _im2col(xp, kh, kw, s, ho, wo)
    dw = _g_matrix(g, xp.shape[0], f, ho, wo) @ cols.T  # (F, C·KH·KW), summed over N, H', W'
    return dw.reshape(np.shape(w))


def conv2d(x, w, stride=1, pad=0) -> np.ndarray:
    """Cross-correlation of x (N, C, H, W) or (C, H, W) with w (F, C, KH, KW), zero padding `pad`."""
    return _conv_forward(x, w, stride, pad, 2)


def conv2d_grad_x(g, x, w, stride=1, pad=0) -> np.ndarray:
    """x̄ for ȳ = g: the full cross-correlation of ḡ with the flipped kernel, cropped by `pad`
    (computed as col2im of ḡ·w, which is the same sum)."""
    return _conv_grad_x(g, x, w, stride, pad, 2)


def conv2d_grad_w(g, x, w, stride=1, pad=0) -> np.ndarray:
    """w̄ for ȳ = g: the cross-correlation of the padded x with ḡ, summed over the batch."""
    return _conv_grad_w(g, x, w, stride, pad, 2)


def conv1d(x, w, stride=1, pad=0) -> np.ndarray:
    """Cross-correlation of x (N, C, L) or (C, L) with w (F, C, K), zero padding `pad` at both ends."""
    return _conv_forward(x, w, stride, pad, 1)


def conv1d_grad_x(g, x, w, stride=1, pad=0) -> np.ndarray:
    """x̄ of conv1d: the full cross-correlation of ḡ with the flipped kernel."""
    return _conv_grad_x(g, x, w, stride, pad, 1)


def conv1d_grad_w(g, x, w, stride=1, pad=0) -> np.ndarray:
    """w̄ of conv1d: the cross-correlation of x with ḡ, summed over the batch."""
    return _conv_grad_w(g, x, w, stride, pad, 1)


# ---- pooling ----------------------------------------------------------------------------------


def _pool_windows(x, k, stride, name: str):
    x = np.asarray(x, dtype=float)
    kk, s, out = _pool_dims(x.shape, k, stride, name)
    x4 = np.ascontiguousarray(x if x.ndim == 4 else x[None])  # (not reshape(-1, …): x may have no elements)
    return x, x4, kk, s, out, _windows(x4, kk, kk, s, out[-2], out[-1])


def _offset(x4: np.ndarray, p: int, q: int, s: int, ho: int, wo: int) -> np.ndarray:
    """Element (p, q) of every window: an (N, C, H', W') strided view."""
    return x4[:, :, p:p + s * ho:s, q:q + s * wo:s]


def _scan_max(x4: np.ndarray, kk: int, s: int, ho: int, wo: int) -> tuple:
    """Each window's maximum and the offset p·k + q of its first maximum, scanning the window in
    row-major order and keeping an element only when strictly larger (PyTorch's kernels)."""
    best = _offset(x4, 0, 0, s, ho, wo).copy()
    chosen = np.zeros(best.shape, dtype=np.int64)
    for t in range(1, kk * kk):
        here = _offset(x4, t // kk, t % kk, s, ho, wo)
        larger = here > best
        np.copyto(best, here, where=larger)
        chosen[larger] = t
    return best, chosen


def maxpool2d(x, k, stride=None) -> np.ndarray:
    """The maximum of each k×k window (stride defaults to k)."""
    x, x4, kk, s, out, _ = _pool_windows(x, k, stride, "maxpool2d")
    best = _offset(x4, 0, 0, s, out[-2], out[-1]).copy()
    for t in range(1, kk * kk):
        np.maximum(best, _offset(x4, t // kk, t % kk, s, out[-2], out[-1]), out=best)
    return best.reshape(out)


def maxpool2d_grad(g, x, k, stride=None) -> np.ndarray:
    """x̄ of maxpool2d: each window's gradient goes to its first maximum (PyTorch's choice);
    overlapping windows (stride < k) add."""
    x, x4, kk, s, out, _ = _pool_windows(x, k, stride, "maxpool2d")
    ho, wo = out[-2:]
    g4 = np.asarray(g, dtype=float).reshape(x4.shape[0], x4.shape[1], ho, wo)
    _, chosen = _scan_max(x4, kk, s, ho, wo)
    dx = np.zeros(x4.shape)
    for t in range(kk * kk):
        _offset(dx, t // kk, t % kk, s, ho, wo)[...] += np.where(chosen == t, g4, 0.0)
    return dx.reshape(x.shape)


def maxpool2d_ties(x, k, stride=None) -> bool:
    """Does any window have its maximum more than once (a kink of maxpool2d)?"""
    _, _, _, _, _, win = _pool_windows(x, k, stride, "maxpool2d")
    top = win.max(axis=(4, 5), keepdims=True)
    return bool(((win == top).sum(axis=(4, 5)) > 1).any())


def avgpool2d(x, k, stride=None) -> np.ndarray:
    """The mean of each k×k window (stride defaults to k)."""
    x, _, _, _, out, win = _pool_windows(x, k, stride, "avgpool2d")
    return win.mean(axis=(4, 5)).reshape(out)


def avgpool2d_grad(g, x, k, stride=None) -> np.ndarray:
    """x̄ of avgpool2d: each window's gradient spread evenly, 1/k² to each of its elements."""
    x, x4, kk, s, out, _ = _pool_windows(x, k, stride, "avgpool2d")
    ho, wo = out[-2:]
    share = np.asarray(g, dtype=float).reshape(x4.shape[0], x4.shape[1], ho, wo) / (kk * kk)
    dx = np.zeros(x4.shape)
    for t in range(kk * kk):
        _offset(dx, t // kk, t % kk, s, ho, wo)[...] += share
    return dx.reshape(x.shape)


# ---- extremes along an axis ----------------------------------------------------------------

def _axis(xs: tuple, axis: object, name: str) -> Optional[int]:
    if axis is None:
        return None
    a = _whole(axis, f"{name}'s axis", -len(xs)) if xs else None
    if a is None or not -len(xs) <= a < len(xs):
        raise ValueError(f"{name}: axis {axis!r} is out of range for an array of shape {_dims(xs)}")
    return a % len(xs)


def amax_shape(xs: tuple, axis: object = None) -> tuple:
    """() for all elements, else the shape without `axis`."""
    a = _axis(tuple(xs), axis, "amax")
    return () if a is None else tuple(d for i, d in enumerate(xs) if i != a)


#: amin's shape rule is amax's
amin_shape = amax_shape


def amax(x, axis=None):
    """The largest element, or the largest along `axis`."""
    x = np.asarray(x, dtype=float)
    return np.max(x, axis=_axis(x.shape, axis, "amax"))


def amin(x, axis=None):
    """The smallest element, or the smallest along `axis`."""
    x = np.asarray(x, dtype=float)
    return np.min(x, axis=_axis(x.shape, axis, "amin"))


def _extreme_grad(g, x, axis, extreme) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    a = _axis(x.shape, axis, "amax" if extreme is np.max else "amin")
    top = extreme(x, axis=a, keepdims=True)
    hits = (x == top).astype(float)
    share = hits / hits.sum(axis=a, keepdims=True)
    gk = np.asarray(g, dtype=float) if a is None else np.expand_dims(np.asarray(g, dtype=float), a)
    return share * gk


def amax_grad(g, x, axis=None) -> np.ndarray:
    """x̄ of amax: ḡ to the maximum; tied maxima share it evenly (today's amax row, torch.amax)."""
    return _extreme_grad(g, x, axis, np.max)


def amin_grad(g, x, axis=None) -> np.ndarray:
    """x̄ of amin: ḡ to the minimum; tied minima share it evenly."""
    return _extreme_grad(g, x, axis, np.min)


def _ties(x, axis, extreme):
    x = np.asarray(x, dtype=float)
    a = _axis(x.shape, axis, "amax" if extreme is np.max else "amin")
    count = (x == extreme(x, axis=a, keepdims=True)).sum(axis=a)
    return bool(count > 1) if a is None else count > 1


def amax_ties(x, axis=None):
    """The kink test of amax: True (per slice along `axis`, or one bool) where the maximum is tied."""
    return _ties(x, axis, np.max)


def amin_ties(x, axis=None):
    """The kink test of amin: True where the minimum is tied."""
    return _ties(x, axis, np.min)


# ---- integer indices: gathers, picks, one-hot -------------------------------------------------

def as_indices(idx, n: int, what: str) -> np.ndarray:
    """`idx` (whole numbers, as float64 from the bindings) as an int64 array in 0..n−1."""
    a = np.asarray(idx)
    if a.dtype.kind not in "iu":
        a = np.asarray(a, dtype=float)
        if not np.all(np.isfinite(a)) or not np.all(a == np.round(a)):
            bad = a[~(np.isfinite(a) & (a == np.round(a)))].ravel()[0]
            raise ValueError(f"{what} must hold whole numbers, got {bad:g}")
    a = a.astype(np.int64)
    if a.size and (a.min() < 0 or a.max() >= n):
        bad = a.min() if a.min() < 0 else a.max()
        raise ValueError(f"{what} holds {bad}, outside 0…{n - 1}")
    return a


def gather_rows_shape(xs: tuple, idxs: tuple) -> tuple:
    """idx's shape followed by x's shape without its first axis."""
    if not xs:
        raise ValueError("x[idx] needs an array x with rows, got a scalar")
    return (*idxs, *xs[1:])


def gather_rows(x, idx) -> np.ndarray:
    """x[idx]: the rows of x at the integer indices idx (any shape of idx; an embedding lookup)."""
    x = np.asarray(x, dtype=float)
    rows = as_indices(idx, x.shape[0], f"the index of x[idx] (x has {x.shape[0]} rows)")
    check_elements((*rows.shape, *x.shape[1:]), "x[idx]")
    return x[rows]


def scatter_add_rows(g, shape: tuple, idx) -> np.ndarray:
    """x̄ of x[idx]: each ḡ row added into the row it came from; repeated indices add."""
    out = np.zeros(shape)
    rows = as_indices(idx, shape[0], f"the index of x[idx] (x has {shape[0]} rows)")
    np.add.at(out, rows.ravel(), np.asarray(g, dtype=float).reshape(rows.size, *shape[1:]))
    return out


def pick_shape(ss: tuple, ys: tuple) -> tuple:
    """(N,) for S of shape (N, C) and labels y of shape (N,)."""
    if len(ss) != 2 or len(ys) != 1 or ys[0] != ss[0]:
        raise ValueError(f"pick(S, y) takes S of shape (N, C) and labels y of shape (N,), "
                         f"got S {_dims(ss)} and y {_dims(ys)}")
    return (ss[0],)


def pick(S, y) -> np.ndarray:
    """The vector of S[i, y[i]]."""
    S = np.asarray(S, dtype=float)
    pick_shape(S.shape, np.shape(y))
    labels = as_indices(y, S.shape[1], f"the labels y of pick(S, y) (S has {S.shape[1]} columns)")
    return S[np.arange(S.shape[0]), labels]


def pick_grad(g, S, y) -> np.ndarray:
    """S̄ of pick(S, y): a one-hot scatter, ḡᵢ into column yᵢ of row i."""
    S = np.asarray(S, dtype=float)
    labels = as_indices(y, S.shape[1], f"the labels y of pick(S, y) (S has {S.shape[1]} columns)")
    out = np.zeros(S.shape)
    out[np.arange(S.shape[0]), labels] = g
    return out


def onehot_shape(ys: tuple, C: object) -> tuple:
    """(N, C) for labels of shape (N,)."""
    c = _whole(C, "onehot's number of classes", 1)
    if len(ys) != 1:
        raise ValueError(f"onehot(y, C) takes labels y of shape (N,), got {_dims(ys)}")
    return (ys[0], c)


def onehot(y, C) -> np.ndarray:
    """The (N, C) matrix with a 1 in column y[i] of row i."""
    n, c = onehot_shape(np.shape(y), C)
    labels = as_indices(y, c, f"the labels y of onehot(y, {c})")
    out = np.zeros((n, c))
    out[np.arange(n), labels] = 1.0
    return out
