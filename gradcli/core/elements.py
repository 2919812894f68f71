"""Array elements: naming them as a person would (``W[0,1]``, row-major; an index
node's ``1:3, 0``), summing a broadcast back to an argument's shape (the adjoint
of broadcasting), and the order of axes a transpose writes.

NumPy is imported only when an array is met, so the ground floor stays light."""

from __future__ import annotations

from typing import Any, Iterator, Optional


def elements(name: str, value: object) -> Iterator[tuple[str, Optional[tuple]]]:
    """(label, index) for each element of `value`; a scalar is ``(name, None)``."""
    shape = tuple(getattr(value, "shape", ()))
    if not shape:
        yield name, None
        return
    import numpy as np

    for index in np.ndindex(*shape):
        yield f"{name}[{','.join(map(str, index))}]", index


def size(value: object) -> int:
    n = 1
    for d in getattr(value, "shape", ()):
        n *= d
    return n


def unbroadcast(g: Any, shape: tuple) -> Any:
    """Sum `g` over the axes that broadcasting added or stretched, back to `shape`."""
    import numpy as np

    g = np.asarray(g)
    if g.shape == tuple(shape):
        return g
    while g.ndim > len(shape):
        g = g.sum(axis=0)
    for k, d in enumerate(shape):
        if d == 1 and g.shape[k] != 1:
            g = g.sum(axis=k, keepdims=True)
    return g


def index_text(index: tuple) -> str:
    """``1:3, 0`` for the param of an index node."""
    parts = []
    for item in index:
        if isinstance(item, tuple):
            _, start, stop, step = item
            text = f"{'' if start is None else start}:{'' if stop is None else stop}"
            parts.append(text + (f":{step}" if step is not None else ""))
        else:
            parts.append(str(item))
    return ", ".join(parts)


def permutation_axes(shape: tuple, axes) -> tuple:
    """`axes` (as written, negative ones counted from the end) as a permutation of the axes of
    `shape`, or ValueError; None (no axes written) reverses them, as numpy.transpose."""
    n = len(shape)
    if axes is None:
        return tuple(range(n - 1, -1, -1))
    if n == 0 and axes:
        raise ValueError("a scalar has no axes to put in order")
    if len(axes) != n or any(not -n <= a < n for a in axes) or sorted(a % n for a in axes) != list(range(n)):
        raise ValueError(f"transpose axes {', '.join(map(str, axes))} are not an order of the {n} axes "
                         f"of shape {shape} (each of 0…{n - 1} once)")
    return tuple(a % n for a in axes)
