"""Checks of whole Jacobians and Hessians, element by element.

* finite differences: perturb one input element at a time (central differences with
  Richardson extrapolation, `gradcli.oracles.checks.derivative_estimate`) of the output for
  a Jacobian, of the AD gradient for a Hessian -- one column per input element;
* SymPy: ``diff`` of each output element by each input element (twice for a
  Hessian), evaluated at the point, under the time budget and up to `ENTRY_LIMIT`
  entries.
"""

from __future__ import annotations

import math
from typing import Optional

import numpy as np

from .checks import DEFAULT_TOLERANCE, derivative_estimate
from ..run.derivatives import Matrix, input_elements

#: matrices with more entries than this are not checked with SymPy
ENTRY_LIMIT = 400


class MatrixCheck:
    def __init__(self, name: str, rtol: float, atol: float) -> None:
        self.name = name
        self.rtol = rtol
        self.atol = atol
        self.estimate: Optional[np.ndarray] = None
        self.errors: Optional[np.ndarray] = None
        self.status = "skipped"
        self.note = ""

    @property
    def max_error(self) -> Optional[float]:
        if self.errors is None or not self.errors.size:
            return None if self.errors is None else 0.0
        known = self.errors[~np.isnan(self.errors)]  # np.nanmax warns when every error is nan
        return float(known.max()) if known.size else math.nan


def check_matrix(ev, matrix: Matrix, kind: str, rtol: Optional[float], atol: Optional[float],
                 seconds: float) -> MatrixCheck:
    d_rtol, d_atol = DEFAULT_TOLERANCE[kind]
    check = MatrixCheck(kind, d_rtol if rtol is None else rtol, d_atol if atol is None else atol)
    estimate = _fd(ev, matrix, check) if kind == "fd" else _sympy(ev, matrix, check, seconds)
    if estimate is None:
        return check
    check.estimate = estimate
    with np.errstate(all="ignore"):
        errors = np.abs(matrix.data - estimate)
        both_inf = np.isinf(matrix.data) & (matrix.data == estimate)
        errors = np.where(both_inf, 0.0, errors)
        floor = getattr(check, "_floor", 0.0)
        scale = np.maximum(np.abs(matrix.data), np.abs(estimate))
        # a zero scale allows nothing relative, even with rtol = inf (inf * 0 is not nan here)
        allowed = check.atol + np.where(scale == 0, 0.0, check.rtol * scale) + floor
    check.errors = errors
    bad = ~(errors <= allowed)
    if not bad.any():
        check.status = "ok"
    elif ev.kinks:
        check.status = "kink"
        check.note = "not differentiable here: " + ", ".join(
            f"{k.op} at node {ev.graph.label(k.node)}" for k in ev.kinks[:3]
        )
    else:
        check.status = "fail"
        where = [(matrix.rows[i], matrix.columns[j]) for i, j in zip(*np.nonzero(bad))][:5]
        check.note = "disagrees at " + ", ".join(f"({r}, {c})" for r, c in where)
    return check


def _fd(ev, matrix: Matrix, check: MatrixCheck) -> Optional[np.ndarray]:
    ins = input_elements(ev)
    tape, graph = ev.tape, ev.graph
    columns, floors = [], []

    def env_with(name: str, index, at: float) -> dict:
        env = dict(ev.env)
        if index is None:
            env[name] = at
        else:
            moved = np.array(ev.env[name], dtype=float)
            moved[index] = at
            env[name] = moved
        return env

    for name, label, index in ins:
        x = float(ev.env[name] if index is None else ev.env[name][index])
        if matrix.kind == "jacobian":
            def f(at, name=name, index=index):
                return np.ravel(tape.forward(env_with(name, index, at))[graph.output])
        else:
            def f(at, name=name, index=index):
                values = tape.forward(env_with(name, index, at))
                adjoint = tape.backward(values)
                return np.concatenate([np.ravel(adjoint[graph.names[n]]) for n in ev.wrt])
        found = derivative_estimate(f, x)
        if found is None:
            check.note = f"skipped: the program is undefined near {label} = {x}"
            return None
        estimate, floor, _ = found
        columns.append(np.ravel(estimate))
        floors.append(np.ravel(floor) * np.ones(len(matrix.rows)))
    data = np.array(columns).T.reshape(matrix.data.shape)
    check._floor = np.array(floors).T.reshape(matrix.data.shape)  # type: ignore[attr-defined]
    return data


def _sympy(ev, matrix: Matrix, check: MatrixCheck, seconds: float) -> Optional[np.ndarray]:
    if matrix.data.size > ENTRY_LIMIT:
        check.note = f"skipped: {matrix.data.size} entries is more than the symbolic check takes ({ENTRY_LIMIT})"
        return None
    import sympy  # noqa: F401  (before the fork)

    from . import budget
    from ..backends.sympy import flat_symbols, input_symbols, point_of, to_float, to_sympy, value_at

    graph, env, kind = ev.graph, ev.env, matrix.kind
    shape = matrix.data.shape

    def job(send) -> None:
        import sympy as sp

        symbols = input_symbols(graph, env)
        out = to_sympy(graph, symbols)[graph.output]
        outs = list(np.ravel(out)) if isinstance(out, np.ndarray) else [out]
        xs = flat_symbols(symbols, list(ev.wrt))
        point = point_of(symbols, env)
        for i in range(shape[0]):
            first = outs[i] if kind == "jacobian" else sp.diff(outs[0], xs[i])
            for j in range(shape[1]):
                d = sp.diff(first, xs[j])
                send(("entry", i, j, to_float(value_at(d, point))))

    outcome = budget.run(job, seconds)
    data = np.full(shape, math.nan)
    for _, i, j, v in outcome.messages:
        data[i, j] = v
    if outcome.timed_out or not outcome.finished:
        got = len(outcome.messages)
        from .budget import ran_out

        why = ran_out(seconds) if outcome.timed_out else (outcome.error or "failed")
        check.note = f"skipped after {got} of {data.size} entries: {why}"
        return None
    return data
