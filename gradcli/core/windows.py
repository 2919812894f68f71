"""Shape rules of convolution and pooling (issue 23): pure Python, no NumPy.

The op rows in `gradcli.core.ops` infer shapes with these before any arithmetic (and the
fast path never imports NumPy); `gradcli.backends.tensor_kernels` checks its arguments with
the same functions.  Every rule raises ValueError with a sentence naming the shapes, which
shape inference turns into a ShapeError naming the node.
"""

from __future__ import annotations

#: the most elements of any tensor a kernel makes, intermediates included (5·10⁷ float64s are
#: 400 MB): a larger one is a ValueError before any allocation, not a swap storm
MAX_KERNEL_ELEMENTS = 50_000_000


# ---- helpers --------------------------------------------------------------------------------

def check_elements(shape: tuple, what: str) -> None:
    """ValueError when a tensor of `shape` would have more than MAX_KERNEL_ELEMENTS elements."""
    size = 1
    for n in shape:
        size *= int(n)
    if size > MAX_KERNEL_ELEMENTS:
        raise ValueError(f"{what} would have {size:,} elements ({'×'.join(map(str, shape))}); "
                         f"the tensor kernels take at most {MAX_KERNEL_ELEMENTS:,}")


def _whole(v: object, what: str, least: int) -> int:
    """A stride, padding or size given as an int or an integer-valued float, at least `least`."""
    try:
        f = float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a whole number, got {v!r}") from None
    if not f.is_integer() or f < least:
        raise ValueError(f"{what} must be a whole number ≥ {least}, got {v!r}")
    return int(f)


def _dims(shape: tuple) -> str:
    """A shape as NumPy prints it: ``(2, 3)``, ``(2,)``, ``()``."""
    return str(tuple(int(d) for d in shape))


# ---- convolution ------------------------------------------------------------------------------

def _conv_dims(xs: tuple, ws: tuple, stride: object, pad: tuple, name: str, rank: int) -> tuple:
    """(batched, stride, (ph, pw), (N, C, H, W), (F, C, KH, KW), (H', W')) for conv1d/conv2d."""
    s = _whole(stride, f"{name}'s stride", 1)
    ph, pw = (_whole(p, f"{name}'s padding", 0) for p in pad)
    spatial = "H, W" if rank == 2 else "L"
    if len(xs) not in (rank + 1, rank + 2):
        raise ValueError(f"{name} takes x of shape (N, C, {spatial}) or (C, {spatial}), got {_dims(xs)}")
    if len(ws) != rank + 2:
        k = "KH, KW" if rank == 2 else "K"
        raise ValueError(f"{name} takes a kernel w of shape (F, C, {k}), got {_dims(ws)}")
    batched = len(xs) == rank + 2
    x4 = tuple(xs) if batched else (1, *xs)
    w4 = tuple(ws)
    if rank == 1:
        x4, w4 = (*x4[:2], 1, x4[2]), (*w4[:2], 1, w4[2])
    n, c, h, w = x4
    f, cw, kh, kw = w4
    if cw != c:
        raise ValueError(f"{name}: x {_dims(xs)} has {c} channels but the kernel w {_dims(ws)} expects {cw}")
    dims = []
    for size, k, p, axis in ((h, kh, ph, "H"), (w, kw, pw, "W" if rank == 2 else "L")):
        if k > size + 2 * p:
            raise ValueError(f"{name}: the kernel {_dims(ws)} is larger than x {_dims(xs)} padded by {p} "
                             f"along {axis} ({size + 2 * p} < {k})")
        if (size + 2 * p - k) % s:
            raise ValueError(f"{name}: stride {s} does not divide {axis} + 2·pad − kernel = "
                             f"{size} + 2·{p} − {k} = {size + 2 * p - k} evenly (x {_dims(xs)}, w {_dims(ws)})")
        dims.append(1 + (size + 2 * p - k) // s)
    ho, wo = dims
    check_elements((n, ho, wo, c, kh, kw), f"{name}'s window matrix (im2col)")
    return batched, s, (ph, pw), (n, c, h, w), (f, c, kh, kw), (ho, wo)


def conv2d_shape(xs: tuple, ws: tuple, stride: object = 1, pad: object = 0) -> tuple:
    """(N, F, H', W') or (F, H', W'), H' = 1 + (H + 2·pad − KH)/stride; ValueError otherwise."""
    batched, _, _, (n, _, _, _), (f, _, _, _), (ho, wo) = _conv_dims(xs, ws, stride, (pad, pad), "conv2d", 2)
    return (n, f, ho, wo) if batched else (f, ho, wo)


def conv1d_shape(xs: tuple, ws: tuple, stride: object = 1, pad: object = 0) -> tuple:
    """(N, F, L') or (F, L'), L' = 1 + (L + 2·pad − K)/stride; ValueError otherwise."""
    batched, _, _, (n, _, _, _), (f, _, _, _), (_, lo) = _conv_dims(xs, ws, stride, (0, pad), "conv1d", 1)
    return (n, f, lo) if batched else (f, lo)


# ---- pooling ----------------------------------------------------------------------------------

def _pool_dims(xs: tuple, k: object, stride: object, name: str) -> tuple:
    kk = _whole(k, f"{name}'s window size", 1)
    s = kk if stride is None else _whole(stride, f"{name}'s stride", 1)
    if len(xs) not in (3, 4):
        raise ValueError(f"{name} takes x of shape (N, C, H, W) or (C, H, W), got {_dims(xs)}")
    h, w = xs[-2:]
    dims = []
    for size, axis in ((h, "H"), (w, "W")):
        if kk > size:
            raise ValueError(f"{name}: a {kk}×{kk} window does not fit in x {_dims(xs)} ({axis} = {size})")
        if (size - kk) % s:
            raise ValueError(f"{name}: stride {s} does not divide {axis} − window = {size} − {kk} = "
                             f"{size - kk} evenly (x {_dims(xs)})")
        dims.append(1 + (size - kk) // s)
    return kk, s, (*xs[:-2], dims[0], dims[1])


def pool2d_shape(xs: tuple, k: object, stride: object = None) -> tuple:
    """(N, C, H', W') or (C, H', W') for k×k windows, H' = 1 + (H − k)/stride; ValueError otherwise."""
    return _pool_dims(tuple(xs), k, stride, "pooling")[2]


#: the rows' names for it: max and average pooling share one shape rule
maxpool2d_shape = avgpool2d_shape = pool2d_shape
