"""The SymPy oracle: SymPy's own derivative of our graph, evaluated at the point.

`sympy_check` differentiates the output expression with ``sympy.diff`` for each
input -- SymPy's own calculus, not our rules -- and evaluates the derivative at the
point to 30 significant digits.  To keep the cost linear in the graph, values are
computed through common-subexpression elimination (``sympy.cse``) rather than by
substituting into the tree.  All of it runs under a time budget (`gradcli.oracles.budget`):
values first, then formulas, then simplified formulas; what is not done by the
deadline is reported as skipped, and the rest of the output still comes.

SymPy is imported only here, only when a symbolic check is asked for.
"""

from __future__ import annotations

import math
from typing import Optional

from ..backends.sympy import input_symbols, point_of, short, to_float, to_sympy, values_at
from ..run.evaluate import Evaluation
from . import budget
from .checks import DEFAULT_TOLERANCE, Check, CheckResult, agree, judge

#: default --sympy-timeout, seconds
DEFAULT_BUDGET = 10.0
#: once values and raw formulas are in, simplification gets at most this long
SIMPLIFY_SECONDS = 2.0
#: graphs larger than this are not translated at all
NODE_LIMIT = 5000
#: inputs with more elements than this in all are not checked symbolically
ELEMENT_LIMIT = 200


def sympy_check(ev: Evaluation, rtol: Optional[float] = None, atol: Optional[float] = None,
                seconds: float = DEFAULT_BUDGET) -> Check:
    """Compare each AD gradient with SymPy's derivative at the point."""
    d_rtol, d_atol = DEFAULT_TOLERANCE["sympy"]
    check = Check("sympy", d_rtol if rtol is None else rtol, d_atol if atol is None else atol)
    if len(ev.graph.nodes) > NODE_LIMIT:
        check.note = f"skipped: {len(ev.graph.nodes)} nodes is more than the symbolic check takes ({NODE_LIMIT})"
        for name in ev.wrt:
            check.results[name] = CheckResult(None, None, "skipped", "too large")
        return check
    import sympy  # noqa: F401  (import before forking, so the child need not)

    from ..core.elements import elements, size

    graph, wrt, env = ev.graph, list(ev.wrt), ev.env
    if sum(size(env[name]) for name in wrt) > ELEMENT_LIMIT:
        check.note = f"skipped: more than {ELEMENT_LIMIT} input elements for a symbolic check"
        for name in ev.wrt:
            check.results[name] = CheckResult(None, None, "skipped", "too large")
        return check
    labels = [(name, label, index) for name in wrt for label, index in elements(name, env[name])]

    def job(send: budget.Send) -> None:
        import sympy as sp

        symbols = input_symbols(graph, env)
        f = to_sympy(graph, symbols)[graph.output]
        point = point_of(symbols, env)
        derivatives = {}
        for name in wrt:  # one input at a time: its elements share one CSE pass
            mine = [(label, index) for n, label, index in labels if n == name]
            ds = []
            for label, index in mine:
                sym = symbols[name] if index is None else symbols[name][index]  # type: ignore[index]
                derivatives[label] = sp.diff(f, sym)
                ds.append(derivatives[label])
            for (label, _), v in zip(mine, values_at(ds, point)):
                send(("value", label, to_float(v), str(v)))
        for label, d in derivatives.items():
            send(("formula", label, short(str(d))))
        send(("essentials",))
        for label, d in derivatives.items():
            if sp.count_ops(d) <= 200:
                send(("simplified", label, short(str(sp.simplify(d)))))

    outcome = budget.run(job, seconds, patience=SIMPLIFY_SECONDS)
    got: dict[str, dict] = {label: {} for _, label, _ in labels}
    for message in outcome.messages:
        kind, label, *rest = message
        if kind == "value":
            got[label]["value"], got[label]["exact"] = rest
        else:
            got[label][kind] = rest[0]
    why = "time budget" if outcome.timed_out and not outcome.essentials else (outcome.error or "no result")
    for name in wrt:
        mine = [(label, index) for n, label, index in labels if n == name]
        if any("value" not in got[label] for label, _ in mine):
            check.results[name] = CheckResult(None, None, "skipped", why)
            continue
        ad = ev.gradient[name]
        if mine[0][1] is None:
            entry = got[name]
            estimate = entry["value"]
            ok = agree(ad, estimate, check.rtol, check.atol)
            status, note = judge(ev, name, ad, estimate, ok)
            formula = entry.get("simplified") or entry.get("formula") or ""
            error = 0.0 if (math.isinf(ad) and ad == estimate) else abs(ad - estimate)
            check.results[name] = CheckResult(
                estimate, error, status, note, {"formula": formula, "exact": entry["exact"]}
            )
            continue
        import numpy as np

        estimate_arr = np.zeros(np.shape(ad))
        errors = np.zeros(np.shape(ad))
        statuses, notes, formulas = [], [], {}
        for label, index in mine:
            est = got[label]["value"]
            a = float(ad[index])  # type: ignore[index]
            estimate_arr[index] = est
            errors[index] = 0.0 if (math.isinf(a) and a == est) else abs(a - est)
            status, note = judge(ev, name, a, est, agree(a, est, check.rtol, check.atol))
            statuses.append(status)
            if note and note not in notes:
                notes.append(note)
            formulas[label] = got[label].get("simplified") or got[label].get("formula") or ""
        status = "fail" if "fail" in statuses else ("kink" if "kink" in statuses else "ok")
        check.results[name] = CheckResult(
            estimate_arr, float(errors.max()), status, "; ".join(notes), {"formulas": formulas}, errors=errors
        )
    if outcome.timed_out and not outcome.essentials:
        check.note = f"the time budget of {seconds:g} s ran out; unfinished parts are skipped (--sympy-timeout)"
    elif outcome.error and not check.note:
        check.note = f"SymPy failed: {outcome.error}"
    return check
