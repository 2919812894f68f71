"""Naming array elements as a person would: ``W[0,1]``, row-major."""

from __future__ import annotations

from typing import Iterator, Optional


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
