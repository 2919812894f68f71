"""Jacobians and Hessians, built from the same two walks as the gradient.

* `jacobian` in reverse mode runs one backward pass per *output element* (seeding
  its cotangent with a one-hot array): each pass gives a row.  In forward mode it
  runs one dual-number forward pass per *input element*: each pass gives a column.
  The two must agree; `Matrix.passes` records how many passes each took.
* `hessian` differentiates the gradient: a dual-number forward pass and backward pass
  per input element (forward-over-reverse) give one row each.

Rows and columns are labelled by element (``y[0]``, ``W[0,1]``), inputs in `wrt`
order, each flattened row-major.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from ..core.elements import elements
from .evaluate import Evaluation, dual_inputs, tangent_pass


class Matrix:
    """A Jacobian or Hessian with its labels and how it was computed."""

    def __init__(self, kind: str, data, rows: list[str], columns: list[str], mode: str,
                 passes: int) -> None:
        self.kind = kind
        self.data = data
        self.rows = rows
        self.columns = columns
        self.mode = mode
        self.passes = passes
        self.checks: list = []
        self.notes: list[str] = []


def input_elements(ev: Evaluation) -> list[tuple[str, str, Optional[tuple]]]:
    """(input name, label, index) for every element of every reported input."""
    return [(name, label, index) for name in ev.wrt for label, index in elements(name, ev.env[name])]


def output_labels(ev: Evaluation) -> list[tuple[str, Optional[tuple]]]:
    return list(elements(ev.output_name, ev.value))


def _flat(x) -> np.ndarray:
    return np.ravel(np.asarray(x, dtype=float))


#: the most entries a Jacobian or Hessian may have (80 MB of float64; README, "Files and limits")
MAX_MATRIX_ENTRIES = 10_000_000


def check_matrix_size(ev: Evaluation, kind: str) -> None:
    """Refuse, before any pass runs, a Jacobian or Hessian too large to hold or to compute."""
    from ..core.errors import UsageError

    n_in = sum(int(np.prod(np.shape(ev.env[name]))) for name in ev.wrt)
    if kind == "hessian":
        n_out = n_in
    else:
        n_out = int(np.prod(ev.graph.nodes[ev.graph.output].shape or ()))
    if n_out * n_in > MAX_MATRIX_ENTRIES:
        raise UsageError(
            f"the {kind} would be {n_out:,} × {n_in:,} = {n_out * n_in:,} entries; gradcli computes at most "
            f"{MAX_MATRIX_ENTRIES:,} (use --wrt to choose fewer inputs"
            + (", or 'gradcli eval --seed-output' for one vector-Jacobian product)" if kind == "jacobian" else ")"))


def _need_inputs(ev: Evaluation) -> None:
    if not ev.wrt:
        from ..core.errors import UsageError

        raise UsageError("the program has no inputs: there is nothing to differentiate")


def jacobian(ev: Evaluation, mode: str = "reverse") -> Matrix:
    """∂output/∂inputs as a matrix (one row per output element)."""
    _need_inputs(ev)
    check_matrix_size(ev, "jacobian")
    outs = output_labels(ev)
    ins = input_elements(ev)
    tape, graph = ev.tape, ev.graph
    out_shape = graph.nodes[graph.output].shape
    rows: list[np.ndarray] = []
    if mode == "reverse":
        for _, index in outs:
            if index is None:
                seed: object = 1.0
            else:
                seed = np.zeros(out_shape)
                seed[index] = 1.0  # type: ignore[index]
            adjoint = tape.backward(ev.values, seed)
            rows.append(np.concatenate([_flat(adjoint[graph.names[name]]) for name in ev.wrt]))
        data = np.array(rows).reshape(len(outs), len(ins))
        passes = len(outs)
    else:
        cols = []
        for name, _, index in ins:
            out = tangent_pass(ev, name, index)[graph.output]
            from ..backends.dual import tangent

            cols.append(_flat(tangent(out)))
        data = np.array(cols).T.reshape(len(outs), len(ins))
        passes = len(ins)
    return Matrix("jacobian", data, [label for label, _ in outs], [label for _, label, _ in ins], mode, passes)


def hessian(ev: Evaluation) -> Matrix:
    """Second derivatives of a scalar output: forward-over-reverse, one pass per input element."""
    from ..backends.dual import DUAL, Dual, tangent

    _need_inputs(ev)
    check_matrix_size(ev, "hessian")
    ins = input_elements(ev)
    graph = ev.graph
    rows = []
    with np.errstate(all="ignore"):
        for name, _, index in ins:
            values = ev.tape.forward(dual_inputs(ev, name, index), backend=DUAL)
            adjoint = ev.tape.backward(values, Dual(np.float64(1.0), 0.0), backend=DUAL)
            rows.append(np.concatenate([
                _flat(np.broadcast_to(tangent(adjoint[graph.names[n]]), np.shape(ev.env[n])))
                for n in ev.wrt
            ]))
    labels = [label for _, label, _ in ins]
    data = np.array(rows).reshape(len(ins), len(ins))
    return Matrix("hessian", data, labels, labels, "forward-over-reverse", len(ins))


def largest_difference(a, b) -> float:
    """max |a - b| over the elements where either is finite (inf where only one is);
    equal elements, infinities included, differ by 0.  No NumPy warnings."""
    a, b = np.broadcast_arrays(np.asarray(a, dtype=float), np.asarray(b, dtype=float))
    if not a.size:
        return 0.0
    with np.errstate(all="ignore"):
        gap = np.where(a == b, 0.0, np.abs(a - b))
    either = np.isfinite(a) | np.isfinite(b)
    gap = np.where(either, gap, 0.0)
    return float(np.max(np.where(np.isnan(gap), np.inf, gap)))
