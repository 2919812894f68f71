"""Batch evaluation: one program at many points (``gradcli eval PROG --points FILE.csv``).

A scalar program is elementwise throughout, so evaluating it at N points is the same
program on vectors of length N: the rows become NumPy arrays, the tape runs once on
them (forward and backward, in chunks), and every row gets its value and gradient.
Rows where an operation is undefined get ``nan`` and are counted, not fatal.
"""

from __future__ import annotations

import sys
from typing import Callable, Optional

import numpy as np

from .bindings import Binding
from ..core.errors import UsageError
from .evaluate import prepare

#: rows per vectorized pass (bounds memory: a few arrays of this length per node)
CHUNK = 200_000


class Batch:
    """Inputs, values and gradients for every row."""

    def __init__(self, names: list[str], inputs: dict[str, np.ndarray], value: np.ndarray,
                 gradient: dict[str, np.ndarray], failed: np.ndarray, first_error: str) -> None:
        self.names = names
        self.inputs = inputs
        self.value = value
        self.gradient = gradient
        self.failed = failed
        self.first_error = first_error


def read_points(path: str) -> tuple[list[str], np.ndarray]:
    """Column names and an (N, k) float array from a CSV with a header line."""
    import io

    try:
        if path == "-":
            stream = sys.stdin
            text = stream.buffer.read().decode("utf-8") if hasattr(stream, "buffer") else stream.read()
        else:
            with open(path, encoding="utf-8") as fh:
                text = fh.read()
    except OSError as exc:
        raise UsageError(f"--points {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise UsageError(f"--points {path}: not UTF-8 text") from None
    header, _, body = text.lstrip("\ufeff").partition("\n")
    names = [h.strip() for h in header.split(",")]
    if not header.strip() or any(not n for n in names):
        raise UsageError(f"--points {path}: the first line must name the inputs, e.g. a,b")
    if len(set(names)) != len(names):
        raise UsageError(f"--points {path}: a column name appears twice")
    if not body.strip():
        raise UsageError(f"--points {path}: no rows after the header line")
    try:
        data = np.loadtxt(io.StringIO(body), delimiter=",", ndmin=2, dtype=float)
    except ValueError:
        raise UsageError(f"--points {path}: {_first_bad_row(body, len(names))}") from None
    if data.shape[1] != len(names):
        raise UsageError(f"--points {path}: {data.shape[1]} values per row but {len(names)} column names")
    if not np.all(np.isfinite(data)):
        raise UsageError(f"--points {path}: every value must be a finite number")
    return names, data


def _first_bad_row(body: str, width: int) -> str:
    """Say which row (1-based, after the header) cannot be read, and why."""
    for k, line in enumerate(body.splitlines(), 1):
        if not line.strip():
            continue
        cells = line.split(",")
        if len(cells) != width:
            return f"row {k} has {len(cells)} values, the header names {width}"
        for cell in cells:
            try:
                float(cell)
            except ValueError:
                return f"row {k}: {cell.strip()[:30]!r} is not a number"
    return "cannot be read as numbers"


def evaluate_points(source: str, names: list[str], data: np.ndarray, fixed: dict[str, Binding],
                    output: Optional[str] = None, wrt: Optional[list[str]] = None,
                    progress: Optional[Callable[[int], None]] = None) -> Batch:
    """Values and gradients of `source` at every row of `data` (columns `names`)."""
    n = data.shape[0]
    columns = {name: data[:, k] for k, name in enumerate(names)}
    probe = {name: Binding(name, float(col[0]) if n else 0.0, "", "--points") for name, col in columns.items()}
    bindings = {**fixed, **probe}
    ev = prepare(source, bindings, output, wrt)
    unused = [name for name in names if name not in ev.inputs]
    if unused:
        raise UsageError(f"--points: column{'s' if len(unused) > 1 else ''} {', '.join(unused)} "
                         f"{'are' if len(unused) > 1 else 'is'} not an input of the program "
                         f"(inputs: {', '.join(ev.inputs)})")
    if any(getattr(ev.env[name], "shape", ()) for name in ev.inputs) or not ev.tape.scalar:
        raise UsageError("--points evaluates scalar programs; this one has vectors or matrices")
    from ..core.shapes import infer_shapes
    from ..core.engine import Tape

    value = np.empty(n)
    gradient = {name: np.empty(n) for name in ev.wrt}
    failed = np.zeros(n, dtype=bool)
    first_error = ""
    graph = ev.graph
    for start in range(0, n, CHUNK):
        stop = min(n, start + CHUNK)
        env = {name: (columns[name][start:stop] if name in columns else np.full(stop - start, ev.env[name]))
               for name in ev.inputs}
        infer_shapes(graph, env)
        tape = Tape(graph)
        with np.errstate(all="ignore"):
            values = tape.forward_unchecked(env)
            out = np.broadcast_to(np.asarray(values[graph.output], dtype=float), (stop - start,))
            seed = np.ones(stop - start) if graph.nodes[graph.output].shape else 1.0
            adjoint = tape.backward(values, seed)
        bad = ~np.isfinite(out)
        value[start:stop] = out
        for name in ev.wrt:
            g = np.broadcast_to(adjoint[graph.names[name]], (stop - start,))
            gradient[name][start:stop] = np.where(bad, np.nan, g)  # no gradient where the value failed
        if bad.any():
            failed[start:stop] = bad
            if not first_error:
                row = start + int(np.argmax(bad))
                first_error = _row_error(source, names, data[row], fixed, output, row)
        if progress is not None:
            progress(stop - start)
    for node in graph.nodes:  # leave the graph as a scalar graph again
        node.shape = ()
    return Batch(list(ev.wrt), columns, value, gradient, failed, first_error)


def _row_error(source, names, row, fixed, output, index: int) -> str:
    """The math error of one failing row, by evaluating it alone."""
    from ..core.errors import MathError
    from .evaluate import run

    bindings = {**fixed, **{name: Binding(name, float(v), "", "--points") for name, v in zip(names, row)}}
    try:
        run(prepare(source, bindings, output))
    except MathError as exc:
        return f"row {index + 1}: {exc.message}"
    return f"row {index + 1}: the result is not finite"


def write_csv(batch: Batch, out, fmt: str = "csv") -> None:
    """Inputs, value and ∂/∂input per row; ``nan`` where a row failed."""
    sep = "," if fmt == "csv" else "\t"
    in_names = list(batch.inputs)
    header = [*in_names, "value", *[f"d/d{name}" for name in batch.names]]
    out.write(sep.join(header) + "\n")
    cols = [batch.inputs[name] for name in in_names] + [batch.value] + [batch.gradient[n] for n in batch.names]
    if not cols or not len(batch.value):
        return
    table = np.column_stack(cols)
    row_format = sep.join(["%r"] * table.shape[1])  # one formatting call per row
    for start in range(0, table.shape[0], CHUNK):
        block = table[start:start + CHUNK].tolist()
        out.write("\n".join([row_format % tuple(row) for row in block]) + "\n")


def write_json_lines(batch: Batch, out) -> None:
    import json

    from ..core.fmt import json_number

    in_names = list(batch.inputs)
    for k in range(len(batch.value)):
        doc = {
            "schema": 1,  # the layout version, as in every gradcli JSON document (gradcli/schemas/points.schema.json)
            "row": k + 1,
            "inputs": {name: float(batch.inputs[name][k]) for name in in_names},
            "value": json_number(float(batch.value[k])),
            "gradient": {name: json_number(float(batch.gradient[name][k])) for name in batch.names},
        }
        out.write(json.dumps(doc, allow_nan=False) + "\n")
