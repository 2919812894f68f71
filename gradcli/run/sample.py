"""A program sampled over a range of one or two inputs: values and gradients on a grid.

`gradcli plot` draws these samples.  Evaluation is the vectorized batch pass of
`gradcli.run.batch` (one tape over all grid points), so a 400-point curve or a
60×60 field costs one forward and one backward pass.  Points where the program is
undefined come back as NaN; `jumps` marks the intervals between neighbouring samples
where a kinked primitive switched branch (relu's sign, max's winner, floor's step),
so a picture can leave a gap there instead of drawing a line through it.
"""

from __future__ import annotations

import re
from typing import Optional

import numpy as np

from ..core.errors import MathError, UsageError
from .batch import evaluate_points
from .bindings import Binding

#: samples along an axis when a range gives none
DEFAULT_POINTS_1D = 400
DEFAULT_POINTS_2D = 41
#: most samples along one axis
MAX_POINTS = 100_000
#: most points of a 2-D grid (1000 × 1000, about 150 MB): a field and its contours stay within memory
MAX_FIELD_POINTS = 1_000_000

_RANGE = re.compile(r"^([^\W\d]\w*)=([^:]+):([^:]+)(?::([^:]+))?$")


class Range:
    """``x=-2:2`` or ``x=-2:2:400``: an input, its bounds, and how many samples."""

    def __init__(self, name: str, low: float, high: float, count: Optional[int]) -> None:
        self.name, self.low, self.high, self.count = name, low, high, count

    def grid(self, default: int) -> np.ndarray:
        return np.linspace(self.low, self.high, self.count or default)


def is_range(arg: str) -> bool:
    return bool(_RANGE.match(arg.strip()))


def parse_range(arg: str) -> Range:
    """A range argument, with values read by gradcli (``x=-pi:pi``)."""
    from .bindings import constant_value

    m = _RANGE.match(arg.strip())
    if not m:
        raise UsageError(f"{arg!r} is not a range: write NAME=LOW:HIGH or NAME=LOW:HIGH:POINTS, e.g. x=-2:2")
    name, low_text, high_text, count_text = m.groups()
    low = float(constant_value(low_text, f"range {name}"))  # type: ignore[arg-type]
    high = float(constant_value(high_text, f"range {name}"))  # type: ignore[arg-type]
    if not (np.isfinite(low) and np.isfinite(high)) or not low < high:
        raise UsageError(f"range {name}: the low end must be below the high end, got {low_text}:{high_text}")
    with np.errstate(over="ignore"):
        width = np.float64(high) - np.float64(low)
    if not np.isfinite(width):
        raise UsageError(f"range {name}: {low_text}:{high_text} is wider than a 64-bit float can hold "
                         "(HIGH - LOW overflows); choose a narrower range")
    count = None
    if count_text is not None:
        if not count_text.strip().isdigit() or not 2 <= int(count_text) <= MAX_POINTS:
            raise UsageError(f"range {name}: the number of points must be a whole number from 2 to {MAX_POINTS}")
        count = int(count_text)
    return Range(name, low, high, count)


class Curve:
    """One input swept: x, the output, its derivative (AD), and where branches switch."""

    def __init__(self, name: str, output: str, x: np.ndarray, value: np.ndarray, slope: np.ndarray,
                 jumps: np.ndarray) -> None:
        self.name, self.output = name, output
        self.x, self.value, self.slope, self.jumps = x, value, slope, jumps
        #: finite-difference slope, when asked for (`with_finite_differences`)
        self.fd: Optional[np.ndarray] = None


class Field:
    """Two inputs swept: the output on a grid and its gradient there."""

    def __init__(self, names: tuple[str, str], output: str, x: np.ndarray, y: np.ndarray, value: np.ndarray,
                 gx: np.ndarray, gy: np.ndarray) -> None:
        self.names, self.output = names, output
        self.x, self.y, self.value, self.gx, self.gy = x, y, value, gx, gy


def _output_name(source: str, output: Optional[str]) -> str:
    from ..language.lower import lower
    from ..language.parser import parse

    return lower(parse(source), output).output_name


def _inputs_swept(source: str, output: Optional[str], ranges: list[Range]) -> None:
    """A UsageError naming the range when a range's name is not an input of the program."""
    from ..language.lower import lower
    from ..language.parser import parse

    graph = lower(parse(source), output)
    inputs = [graph.nodes[i].name or "" for i in graph.inputs]
    for r in ranges:
        if r.name not in inputs:
            raise UsageError(f"range {r.name}: not an input of the program (inputs: {', '.join(inputs) or 'none'})")


def curve(source: str, r: Range, fixed: dict[str, Binding], output: Optional[str] = None) -> Curve:
    """Sample the output and its derivative along `r`."""
    _inputs_swept(source, output, [r])
    x = r.grid(DEFAULT_POINTS_1D)
    batch = evaluate_points(source, [r.name], x[:, None], fixed, output, [r.name], option="plot")
    _defined_somewhere(source, batch)
    value = np.where(batch.failed, np.nan, batch.value)
    slope = batch.gradient[r.name]
    jumps = _branch_switches(source, {r.name: x}, fixed, output)
    return Curve(r.name, _output_name(source, output), x, value, slope, jumps)


def with_finite_differences(c: Curve, source: str, fixed: dict[str, Binding], output: Optional[str]) -> None:
    """Central differences at every sample, from the same vectorized evaluation."""
    h = 1e-6 * np.maximum(1.0, np.abs(c.x))
    both = np.concatenate([c.x + h, c.x - h])
    batch = evaluate_points(source, [c.name], both[:, None], fixed, output, [c.name], option="plot")
    up, down = np.split(np.where(batch.failed, np.nan, batch.value), 2)
    c.fd = (up - down) / (2 * h)


def field(source: str, rx: Range, ry: Range, fixed: dict[str, Binding], output: Optional[str] = None) -> Field:
    """Sample the output and its gradient over the grid `rx` × `ry`."""
    if rx.name == ry.name:
        raise UsageError(f"two ranges for {rx.name}: give one range per input")
    _inputs_swept(source, output, [rx, ry])
    x, y = rx.grid(DEFAULT_POINTS_2D), ry.grid(DEFAULT_POINTS_2D)
    if len(x) * len(y) > MAX_FIELD_POINTS:
        raise UsageError(f"a {len(x)}×{len(y)} grid has {len(x) * len(y):,} points; a gradient field has at "
                         f"most {MAX_FIELD_POINTS:,} (e.g. {rx.name}=LOW:HIGH:1000 {ry.name}=LOW:HIGH:1000)")
    X, Y = np.meshgrid(x, y)
    data = np.column_stack([X.ravel(), Y.ravel()])
    batch = evaluate_points(source, [rx.name, ry.name], data, fixed, output, [rx.name, ry.name],
                            option="plot")
    _defined_somewhere(source, batch)
    shape = X.shape
    value = np.where(batch.failed, np.nan, batch.value).reshape(shape)
    gx = batch.gradient[rx.name].reshape(shape)
    gy = batch.gradient[ry.name].reshape(shape)
    return Field((rx.name, ry.name), _output_name(source, output), x, y, value, gx, gy)


def _branch_switches(source: str, columns: dict[str, np.ndarray], fixed: dict[str, Binding],
                     output: Optional[str]) -> np.ndarray:
    """``jumps[i]``: a kinked primitive takes another branch at sample i+1 than at i."""
    from ..core.engine import Tape
    from ..core.ops import OPS
    from ..core.shapes import infer_shapes
    from .evaluate import prepare

    n = len(next(iter(columns.values())))
    probe = {name: Binding(name, float(col[0]), "", "range") for name, col in columns.items()}
    ev = prepare(source, {**fixed, **probe}, output)
    env = {name: columns[name] if name in columns else np.full(n, ev.env[name]) for name in ev.inputs}
    graph = ev.graph
    infer_shapes(graph, env)
    with np.errstate(all="ignore"):
        values = Tape(graph).forward_unchecked(env)
    jumps = np.zeros(max(n - 1, 0), dtype=bool)
    for node in graph.nodes:
        op = OPS.get(node.op)
        if op is None or op.kink is None or not node.args:
            continue
        args = [np.broadcast_to(np.asarray(values[a], dtype=float), (n,)) for a in node.args]
        if op.kink_kind == "edge":
            continue  # an edge of the domain, not a switch of branch
        if op.kink_kind == "whole":  # floor, ceil, round: the value itself steps where it jumps
            state = np.broadcast_to(np.asarray(values[node.id], dtype=float), (n,))
        elif op.side is not None and op.kink_kind != "side":
            # the row's own side: max's winner, clip's piece, a comparison's outcome (clip and
            # x > 0.3 switch away from 0, where the first argument's sign would put the gap)
            state = np.asarray(op.side(*args))
        else:
            state = np.sign(args[0])
        jumps |= state[1:] != state[:-1]
    for node in graph.nodes:  # leave the graph as a scalar graph again
        node.shape = ()
    return jumps


def _defined_somewhere(source: str, batch) -> None:
    """A MathError when the program is undefined at every sample: there is nothing to draw."""
    if len(batch.failed) and batch.failed.all():
        raise MathError(f"the program is undefined or not finite at every sampled point; "
                        f"first: {batch.first_error}")


def with_gaps(x: np.ndarray, y: np.ndarray, jumps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`x`, `y` with a NaN between samples where a branch switches (a picture's gap)."""
    where = np.flatnonzero(jumps) + 1
    if not len(where):
        return x, y
    mid = (x[where - 1] + x[where]) / 2
    return np.insert(x, where, mid), np.insert(y.astype(float), where, np.nan)
